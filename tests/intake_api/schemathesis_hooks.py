"""Schemathesis hooks for the schema fuzz run (test_schema_fuzz.py): references to things that
exist are made to point at things that exist.

A schema can say an assignee is a user name, but not which accounts there are; a generated
name is almost never one, and the API rightly answers 422 ("no active user ..."). So in
schema-valid (positive) cases the assignee becomes a real account, the ticket id or reference
code in a path becomes a real ticket now and then, and an intake gets an Idempotency-Key of its
own body, so the run gets past 404 and 409 into the rules behind them. Nothing else is changed,
and negative cases are never touched.

The ids come from the HOTLINE_FUZZ_TARGETS environment variable (JSON), set by the test.
"""

from __future__ import annotations

import json
import os
import zlib
from typing import Any

import schemathesis


def _targets() -> dict[str, Any]:
    return json.loads(os.environ.get("HOTLINE_FUZZ_TARGETS", "{}"))


def _pick(seed: object, options: list[Any]) -> Any:
    """A stable choice (the run stays reproducible with its seed)."""
    return options[zlib.crc32(repr(seed).encode()) % len(options)]


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    targets = _targets()
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("assignee"), str):
        body["assignee"] = _pick(body["assignee"], targets.get("assignees") or ["operator"])
    headers = case.headers or {}
    if isinstance(headers.get("Idempotency-Key"), str):
        # A generated key is reused across different bodies (a 409 each time after the first):
        # one key per body reaches the filing itself, and a repeated body is a true replay.
        digest = zlib.crc32(json.dumps(body, sort_keys=True, default=str).encode())
        headers["Idempotency-Key"] = f"fuzz-{digest:08x}"
    params = case.path_parameters or {}
    for name, key in (("ticket_id", "ticket_ids"), ("code", "codes")):
        value = params.get(name)
        choices = targets.get(key) or []
        if isinstance(value, str) and choices and zlib.crc32(value.encode()) % 2 == 0:
            params[name] = _pick(value, choices)
    return case

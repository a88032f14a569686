"""Schemathesis over the whole published schema, with all its checks (no server error, status
codes, content types, headers and bodies as documented, schema-valid input accepted and
schema-breaking input refused, Allow on 405), against SQLite and PostgreSQL, as the bot, a
partner, a staff member (supervisor and admin) and nobody.

The run here is bounded (the examples and three fuzzed cases per operation, positive and
negative: several seconds per database and caller) so `make test` stays quick;
HOTLINE_SCHEMA_FUZZ_FULL=1 adds the coverage phase (boundary and negative values, unexpected
methods, missing headers), the stateful phase and more cases: about a minute per caller;
HOTLINE_SCHEMA_FUZZ_SEED picks another seed. The CLI runs in its own process against the app
served by uvicorn on 127.0.0.1, as a client would see it. Settings: schemathesis.toml;
reference fix-ups: schemathesis_hooks.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from intake_api.app import create_app
from intake_api.config import Settings
from intake_api.models import User
from intake_api.passwords import hash_password
from intake_api.tokens import issue_token
from tests.intake_api.conftest import add_accounts, intake_body
from tests.local_http import ServedApp

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
FULL = os.environ.get("HOTLINE_SCHEMA_FUZZ_FULL", "").lower() in {"1", "true", "yes"}
CALLERS = ["bot", "partner", "staff", "none"]


@pytest.fixture
def served(engine: Engine, settings: Settings) -> Iterator[tuple[str, dict[str, str], dict]]:  # type: ignore[type-arg]
    app = create_app(settings, engine)
    tokens = add_accounts(engine)
    with Session(engine) as session:
        staff = User(
            username="chief", password_hash=hash_password("x" * 12), roles="admin,supervisor"
        )
        session.add(staff)
        session.commit()
        tokens["staff"] = issue_token(session, staff, timedelta(hours=1))
    targets: dict[str, list[str]] = {
        "assignees": ["operator", "supervisor", "chief"],
        "ticket_ids": [],
        "codes": [],
    }
    client = TestClient(app)
    for who in ("bot", "partner"):
        for n in range(2):
            made = client.post(
                "/api/v1/intake",
                json=intake_body(),
                headers={
                    "Authorization": f"Bearer {tokens[who]}",
                    "Idempotency-Key": f"fuzz-seed-{who}-{n}",
                },
            ).json()
            targets["ticket_ids"].append(made["id"])
            targets["codes"].append(made["reference_code"])
    server = ServedApp(app).start()
    try:
        yield server.url, tokens, targets
    finally:
        server.stop()


@pytest.mark.parametrize("caller", CALLERS)
def test_schemathesis_finds_nothing(
    served: tuple[str, dict[str, str], dict],  # type: ignore[type-arg]
    caller: str,
    tmp_path: Path,
) -> None:
    url, tokens, targets = served
    phases = "examples,coverage,fuzzing,stateful" if FULL else "examples,fuzzing"
    command = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(HERE / "schemathesis.toml"),
        "run", f"{url}/openapi.json",
        "--checks", "all",
        "--phases", phases,
        "--max-examples", "20" if FULL else "3",
        "--seed", os.environ.get("HOTLINE_SCHEMA_FUZZ_SEED", "20261201"),
        "--no-shrink",
        "--workers", "1",
        "--output-truncate", "true",
    ]  # fmt: skip
    if caller != "none":
        command += ["--header", f"Authorization: Bearer {tokens[caller]}"]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SCHEMATHESIS_HOOKS": "tests.intake_api.schemathesis_hooks",
        "HOTLINE_FUZZ_TARGETS": json.dumps(targets),
    }
    # Run from a scratch folder: schemathesis keeps a cache where it runs.
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    summary = done.stdout[done.stdout.find("=== FAILURES") :] if done.returncode else ""
    assert done.returncode == 0, summary[:8000] or done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "generated" in done.stdout

"""The server the API runs in."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import uvicorn

from intake_api.cli import GIL_SWITCH_INTERVAL_SECONDS, run_server


def test_the_server_hands_the_gil_to_database_threads_within_a_millisecond(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Waiting the interpreter's default 5 ms for the GIL after every database round trip made
    # webhook p99 several times longer under a steady load (bench/load.py --rate).
    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(kwargs))
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        run_server(object(), "127.0.0.1", 8000)
        assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_SECONDS)
    finally:
        sys.setswitchinterval(before)
    assert GIL_SWITCH_INTERVAL_SECONDS <= 0.001
    assert served == [{"host": "127.0.0.1", "port": 8000, "access_log": False, "log_config": None}]

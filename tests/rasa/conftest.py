"""Fixtures for the tests against a real Rasa server (`make test-rasa`).

They run only when HOTLINE_RASA_URL names a Rasa server that answers; otherwise they are
skipped with the reason, so the ordinary `pytest` run (without Rasa) stays green.
bench/rasa_server.py starts the server, sets HOTLINE_RASA_URL and HOTLINE_RASA_TOKEN, and sets
HOTLINE_RASA_REQUIRED=1 so that a server that stops answering fails the run instead of
skipping it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from bot.config import get_bot_settings


@dataclass(frozen=True)
class RasaTarget:
    url: str
    token: str | None


def _problem(target: RasaTarget) -> str | None:
    params = {"token": target.token} if target.token else {}
    try:
        answer = httpx.get(f"{target.url.rstrip('/')}/status", params=params, timeout=5.0)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}"
    if answer.status_code != 200:
        return f"GET /status answered HTTP {answer.status_code}"
    return None


@pytest.fixture(scope="session")
def rasa_target() -> RasaTarget:
    url = os.environ.get("HOTLINE_RASA_URL")
    if not url:
        pytest.skip(
            "HOTLINE_RASA_URL is not set: run `make test-rasa` "
            "(bench/rasa_server.py test), which starts Rasa and sets it"
        )
    target = RasaTarget(url, os.environ.get("HOTLINE_RASA_TOKEN") or None)
    problem = _problem(target)
    if problem:
        message = f"no Rasa server answers at {url} ({problem})"
        if os.environ.get("HOTLINE_RASA_REQUIRED"):
            pytest.fail(message)
        pytest.skip(message)
    return target


@pytest.fixture
def rasa_env(rasa_target: RasaTarget, monkeypatch: pytest.MonkeyPatch) -> Iterator[RasaTarget]:
    """The environment that selects the Rasa backend, with no embedded fallback.

    Without the fallback a Rasa failure fails the test instead of being hidden by the
    embedded engine answering in its place.
    """
    monkeypatch.setenv("HOTLINE_NLU_BACKEND", "rasa")
    monkeypatch.setenv("HOTLINE_RASA_URL", rasa_target.url)
    if rasa_target.token:
        monkeypatch.setenv("HOTLINE_RASA_TOKEN", rasa_target.token)
    monkeypatch.setenv("HOTLINE_RASA_FALLBACK_TO_EMBEDDED", "false")
    get_bot_settings.cache_clear()
    yield rasa_target
    get_bot_settings.cache_clear()

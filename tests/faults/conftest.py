"""Fault tests: the real `hotline serve` in its own process, the real PostgreSQL, the platform
fakes on 127.0.0.1, and a fault in the middle (SIGKILL, a database restart, a platform that
fails or hangs).

They take tens of seconds each (marked `slow`), so `make test` skips them (shown with the
reason) and `make test-faults` runs them; `.ci/run` calls both. The tests of the checks
themselves (test_checks.py) are fast and run in both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import in_ci
from tests.faults.platforms import Phones, RecordingTelegram, RecordingTwilio, RecordingZalo
from tests.faults.processes import PostgresUnavailable, scratch_database
from tests.faults.reporters import TWILIO_SID

SWITCH = "HOTLINE_FAULT_TESTS"


def require_fault_run() -> None:
    if os.environ.get(SWITCH) != "1":
        pytest.skip(f"real-process fault tests run with `make test-faults` ({SWITCH}=1)")


@pytest.fixture(autouse=True)
def _only_in_fault_runs(request: pytest.FixtureRequest) -> None:
    # The checks' own tests (no process, no database) run everywhere.
    if request.node.get_closest_marker("slow") is not None:
        require_fault_run()


def unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason}; CI requires it")
    pytest.skip(reason)


@pytest.fixture
def shared_database() -> Iterator[str]:
    """A database of this test's own on the shared PostgreSQL (createdb; dropped after)."""
    try:
        with scratch_database("hotline_fault") as url:
            yield url
    except PostgresUnavailable as exc:
        unavailable(str(exc))


@pytest.fixture
def phones() -> Phones:
    return Phones()


@pytest.fixture
def telegram(phones: Phones) -> Iterator[RecordingTelegram]:
    fake = RecordingTelegram(phones).start()
    yield fake
    fake.stop()


@pytest.fixture
def zalo(phones: Phones) -> Iterator[RecordingZalo]:
    fake = RecordingZalo(phones).start()
    yield fake
    fake.stop()


@pytest.fixture
def twilio(phones: Phones) -> Iterator[RecordingTwilio]:
    fake = RecordingTwilio(phones, account_sid=TWILIO_SID).start()
    yield fake
    fake.stop()

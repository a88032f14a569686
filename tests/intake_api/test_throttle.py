"""The sign-in throttle's clock: delays grow with every attempt past the limit, and a window
that ran out starts afresh (driven with explicit times, so nothing waits)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from intake_api import throttle
from intake_api.config import Settings
from intake_api.crypto import get_cipher
from tests.intake_api.conftest import Api

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_each_attempt_past_the_limit_waits_twice_as_long(api: Api, settings: Settings) -> None:
    # The account's limit alone (the address may try as often as it likes here).
    settings = settings.model_copy(update={"login_max_failures_per_address": 1000})
    key = throttle.keys(get_cipher(), "203.0.113.50", "police")
    now = T0
    with Session(api.engine) as session:
        for n in range(settings.login_max_failures):
            assert throttle.reserve(session, settings, key, now + timedelta(seconds=n)).allowed
        now += timedelta(seconds=settings.login_max_failures)
        waits = []
        for _ in range(4):
            verdict = throttle.reserve(session, settings, key, now)
            assert not verdict.allowed and verdict.held_by == "account"
            waits.append(verdict.retry_after)
            # Trying again while held changes nothing...
            again = throttle.reserve(session, settings, key, now + timedelta(seconds=0.5))
            assert not again.allowed and again.retry_after <= verdict.retry_after
            # ...and once the wait is over the next failure waits longer.
            now += timedelta(seconds=verdict.retry_after + 0.1)
    assert waits == [2, 4, 8, 16]


def test_an_address_past_its_limit_waits_for_any_account(api: Api, settings: Settings) -> None:
    with Session(api.engine) as session:
        for n in range(settings.login_max_failures_per_address):
            key = throttle.keys(get_cipher(), "203.0.113.53", f"name-{n}")
            assert throttle.reserve(session, settings, key, T0).allowed
        key = throttle.keys(get_cipher(), "203.0.113.53", "operator")
        verdict = throttle.reserve(session, settings, key, T0)
    assert not verdict.allowed and verdict.held_by == "address" and verdict.retry_after == 2


def test_a_window_that_ran_out_starts_afresh(api: Api, settings: Settings) -> None:
    key = throttle.keys(get_cipher(), "203.0.113.51", "dolisa")
    with Session(api.engine) as session:
        for n in range(settings.login_max_failures + 1):
            throttle.reserve(session, settings, key, T0 + timedelta(seconds=n))
        later = T0 + timedelta(seconds=settings.login_window_seconds + 60)
        assert throttle.reserve(session, settings, key, later).allowed


def test_the_table_names_no_account_and_no_address(api: Api, settings: Settings) -> None:
    key = throttle.keys(get_cipher(), "203.0.113.52", "supervisor")
    with Session(api.engine) as session:
        throttle.reserve(session, settings, key, T0)
    with api.engine.connect() as conn:
        stored = " ".join(str(r) for r in conn.exec_driver_sql("SELECT * FROM login_throttle"))
    assert "supervisor" not in stored and "203.0.113.52" not in stored

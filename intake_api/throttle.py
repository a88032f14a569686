"""Sign-in throttling (docs/api.md, Health and auth): per account and per client address,
atomic, with growing delays, and never locking the right password out from an address that
has not failed.

Each attempt is counted *before* its password is checked, by one UPDATE per key inside one
transaction (the address row first, then the account row, so concurrent attempts queue on the
same locks and never deadlock). Thirty concurrent guesses are therefore thirty counted
attempts, and only those within the limits reach the password check. A success refunds the
address its attempt and clears the account; a failure keeps both counted.

- An address may try `login_max_failures_per_address` times per window; after that each
  attempt waits `login_delay_seconds`, doubling with every further attempt.
- An account may be tried `login_max_failures` times per window from addresses that have
  failed; after that it waits likewise. An address with no attempts in the window is never
  held back by the account's count: whoever guesses at an officer's name cannot lock the
  officer out, and each fresh address buys an attacker one guess, no more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, literal, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from intake_api.config import Settings
from intake_api.crypto import PersonalDataCipher
from intake_api.db import UTCDateTime, utcnow
from intake_api.models import LoginThrottle


@dataclass(frozen=True)
class Verdict:
    """Whether this attempt may check its password; if not, what held it and for how long."""

    allowed: bool
    held_by: str | None = None  # "address" or "account"
    retry_after: int = 0


@dataclass(frozen=True)
class Keys:
    address: str
    account: str


def keys(cipher: PersonalDataCipher, address: str, username: str) -> Keys:
    # Keyed hashes: the table never names a person or an address.
    return Keys(
        address="a:" + cipher.blind_index("login-address", address),
        account="u:" + cipher.blind_index("login-account", username),
    )


def delay(settings: Settings, excess: int) -> timedelta:
    """The wait after the `excess`-th attempt over a limit: doubling, at most the window."""
    seconds = settings.login_delay_seconds * 2 ** min(max(excess - 1, 0), 30)
    return timedelta(seconds=min(seconds, settings.login_window_seconds))


def reserve(
    session: Session, settings: Settings, key: Keys, now: datetime | None = None
) -> Verdict:
    """Counts this attempt against the address and the account; commits."""
    now = now or utcnow()
    window_start = now - timedelta(seconds=settings.login_window_seconds)
    try:
        _ensure_rows(session, [key.address, key.account], now)
        at_address = _count(session, key.address, now, window_start, unless_held=True)
        if at_address is None:
            return _held(session, key.address, "address", now)
        if at_address > settings.login_max_failures_per_address:
            return _hold(
                session,
                settings,
                key.address,
                "address",
                now,
                at_address - settings.login_max_failures_per_address,
            )
        fresh_address = at_address == 1
        at_account = _count(session, key.account, now, window_start, unless_held=not fresh_address)
        if at_account is None:
            return _held(session, key.account, "account", now)
        if at_account > settings.login_max_failures and not fresh_address:
            return _hold(
                session,
                settings,
                key.account,
                "account",
                now,
                at_account - settings.login_max_failures,
            )
        return Verdict(allowed=True)
    finally:
        session.commit()


def succeeded(session: Session, key: Keys) -> None:
    """The right password: the account starts afresh, the address gets its attempt back."""
    session.execute(
        update(LoginThrottle)
        .where(col(LoginThrottle.key) == key.account)
        .values(attempts=0, blocked_until=None)
    )
    session.execute(
        update(LoginThrottle)
        .where(col(LoginThrottle.key) == key.address, col(LoginThrottle.attempts) > 0)
        .values(attempts=LoginThrottle.attempts - 1)
    )
    session.commit()


def _ensure_rows(session: Session, row_keys: list[str], now: datetime) -> None:
    dialect = session.get_bind().dialect.name
    make: Any = pg_insert if dialect == "postgresql" else sqlite_insert
    for row_key in row_keys:
        session.execute(
            make(LoginThrottle)
            .values(key=row_key, attempts=0, window_start=now, blocked_until=None)
            .on_conflict_do_nothing(index_elements=["key"])
        )


def _count(
    session: Session, row_key: str, now: datetime, window_start: datetime, unless_held: bool
) -> int | None:
    """Adds one attempt (starting a new window when the last one ran out); None when the key
    is held and `unless_held`, in which case nothing is counted."""
    expired = col(LoginThrottle.window_start) <= window_start
    stmt = (
        update(LoginThrottle)
        .where(col(LoginThrottle.key) == row_key)
        .values(
            attempts=case((expired, 1), else_=LoginThrottle.attempts + 1),
            window_start=case(
                (expired, literal(now, UTCDateTime())), else_=LoginThrottle.window_start
            ),
        )
        .returning(LoginThrottle.attempts)
    )
    if unless_held:
        blocked = col(LoginThrottle.blocked_until)
        stmt = stmt.where(blocked.is_(None) | (blocked <= now))
    return session.execute(stmt).scalar_one_or_none()


def _hold(
    session: Session, settings: Settings, row_key: str, held_by: str, now: datetime, excess: int
) -> Verdict:
    until = now + delay(settings, excess)
    session.execute(
        update(LoginThrottle).where(col(LoginThrottle.key) == row_key).values(blocked_until=until)
    )
    return Verdict(allowed=False, held_by=held_by, retry_after=_seconds(until - now))


def _held(session: Session, row_key: str, held_by: str, now: datetime) -> Verdict:
    row = session.get(LoginThrottle, row_key)
    until = row.blocked_until if row is not None and row.blocked_until else now
    return Verdict(allowed=False, held_by=held_by, retry_after=_seconds(until - now))


def _seconds(wait: timedelta) -> int:
    return max(1, int(wait.total_seconds() + 0.999))

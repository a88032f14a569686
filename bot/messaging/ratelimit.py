"""Per-sender flood limit, counted in the database so every bot process shares it."""

from __future__ import annotations

import time
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete

from bot.models import RateCounter
from intake_api.db import DirectStatement

# One upsert that concurrent messages of one sender cannot race, the same SQL on PostgreSQL and
# SQLite. Written as text: SQLAlchemy's ON CONFLICT construct is not cacheable, so it was
# compiled again for every message.
_HIT = DirectStatement(
    text(
        f"INSERT INTO {RateCounter.__tablename__} (sender_hash, window_start, count) "
        "VALUES (:sender_hash, :window_start, 1) "
        "ON CONFLICT (sender_hash, window_start) DO UPDATE SET count = "
        f"{RateCounter.__tablename__}.count + 1 RETURNING count"
    )
)


class Verdict(NamedTuple):
    # Seconds until the sender's next window, when over the limit (None: not throttled).
    retry_after: int | None
    # This message is the first over the limit in its window (the one to tell the person).
    first_over: bool


class RateLimiter:
    def __init__(self, engine: Engine, limit: int, window_seconds: int) -> None:
        self._engine = engine
        self._limit = limit
        self._window = window_seconds

    def hit(self, session: Session, sender_hash: str, now: float | None = None) -> Verdict:
        """Counts one message in the caller's transaction (the one that stores it), with one
        upsert that concurrent messages of one sender cannot race: past the limit for the
        current window, the seconds until the next window."""
        now = time.time() if now is None else now
        window = int(now // self._window) * self._window
        count = _HIT.execute(
            session, {"sender_hash": sender_hash, "window_start": window}
        ).scalar_one()
        if count == 1 and window % (self._window * 10) == 0:
            # Now and then, forget old windows.
            session.exec(delete(RateCounter).where(col(RateCounter.window_start) < window))  # type: ignore[call-overload]
        if count > self._limit:
            return Verdict(max(1, int(window + self._window - now)), count == self._limit + 1)
        return Verdict(None, False)

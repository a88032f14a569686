"""Per-sender flood limit, counted in the database so every bot process shares it."""

from __future__ import annotations

import time
from typing import NamedTuple

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete

from bot.models import RateCounter


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
        table = RateCounter.__table__  # type: ignore[attr-defined]
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        count = session.execute(
            insert(table)
            .values(sender_hash=sender_hash, window_start=window, count=1)
            .on_conflict_do_update(
                index_elements=["sender_hash", "window_start"], set_={"count": table.c.count + 1}
            )
            .returning(table.c.count)
        ).scalar_one()
        if count == 1 and window % (self._window * 10) == 0:
            # Now and then, forget old windows.
            session.exec(delete(RateCounter).where(col(RateCounter.window_start) < window))  # type: ignore[call-overload]
        if count > self._limit:
            return Verdict(max(1, int(window + self._window - now)), count == self._limit + 1)
        return Verdict(None, False)

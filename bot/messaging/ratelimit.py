"""Per-sender flood limit, counted in the database so every bot process shares it."""

from __future__ import annotations

import time
from typing import NamedTuple

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

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

    def hit(self, sender_hash: str, now: float | None = None) -> Verdict:
        """Counts one message: past the limit for the current window, the seconds until the
        next window."""
        now = time.time() if now is None else now
        window = int(now // self._window) * self._window
        with Session(self._engine) as session:
            result = session.execute(
                update(RateCounter)
                .where(
                    col(RateCounter.sender_hash) == sender_hash,
                    col(RateCounter.window_start) == window,
                )
                .values(count=RateCounter.count + 1)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                session.add(RateCounter(sender_hash=sender_hash, window_start=window, count=1))
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    return self.hit(sender_hash, now)
                count = 1
            else:
                session.commit()
                count = session.exec(
                    select(RateCounter.count).where(
                        RateCounter.sender_hash == sender_hash, RateCounter.window_start == window
                    )
                ).one()
            if window % (self._window * 10) == 0:
                # Now and then, forget old windows.
                session.exec(delete(RateCounter).where(col(RateCounter.window_start) < window))  # type: ignore[call-overload]
                session.commit()
        if count > self._limit:
            return Verdict(max(1, int(window + self._window - now)), count == self._limit + 1)
        return Verdict(None, False)

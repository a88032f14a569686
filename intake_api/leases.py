"""The one compare-and-set lease every worker uses: a row is taken by the process whose UPDATE
finds the lease free (never taken, or run out), so two processes never work the same row, and
a process that dies leaves it to another once the lease runs out. The lock lives in the
database row, never in process memory."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, bindparam, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from intake_api.db import DirectStatement, utcnow

log = structlog.get_logger("intake_api.leases")


def take_lease(
    session: Session,
    model: type[Any],
    lease: str,
    until: datetime,
    match: Mapping[str, Any],
    *,
    now: datetime,
    **values: Any,
) -> bool:
    """Sets the `lease` column to `until` (and `values`) on the rows whose columns equal
    `match` and whose lease is free at `now`; True when this call took it. The caller
    commits. A statement compiled once and run on the cursor (`DirectStatement`): it runs
    for every message, and the ORM's bulk-update path costs more than the statement."""
    statement = _lease_statement(model.__table__, lease, tuple(match), tuple(values))
    params = {f"m_{name}": value for name, value in match.items()}
    params.update({f"v_{name}": value for name, value in values.items()})
    params.update(lease_now=now, lease_until=until)
    return statement.execute(session, params).rowcount == 1


@functools.cache
def _lease_statement(
    table: Any, lease: str, match: tuple[str, ...], values: tuple[str, ...]
) -> DirectStatement:
    column = table.c[lease]
    return DirectStatement(
        update(table)
        .where(*[table.c[name] == bindparam(f"m_{name}") for name in match])
        .where(or_(column.is_(None), column < bindparam("lease_now")))
        .values({lease: bindparam("lease_until"), **{n: bindparam(f"v_{n}") for n in values}})
    )


def lease_pending_row(
    engine: Engine, model: type[Any], row_id: int | None, duration: timedelta
) -> bool:
    """Takes the lease of one pending row of a work queue (`id`, `state`, `leased_until`) in
    its own transaction; True when this call took it."""
    now = utcnow()
    with Session(engine) as session:
        taken = take_lease(
            session,
            model,
            "leased_until",
            now + duration,
            {"id": row_id, "state": "pending"},
            now=now,
        )
        session.commit()
        return taken


def free_pending_rows(engine: Engine, model: type[Any], row_ids: list[Any]) -> None:
    """Lets go of the leases of rows of a work queue (`id`, `leased_until`) in one
    transaction: anyone's to take at once, not after the lease runs out."""
    if not row_ids:
        return
    table = model.__table__
    with Session(engine) as session:
        session.execute(update(table).where(table.c.id.in_(row_ids)).values(leased_until=None))
        session.commit()


IDLE_ROUNDS = 5


class LeaseKeeper:
    """Renews the leases this process holds while it works them, from a thread of its own.

    Leases can then be short: a killed process's rows are free within one lease (seconds),
    while a live one keeps them through a slow platform call or a busy event loop. A hold ends
    when the work settles; `max_hold` ends a hold its owner forgot (an exception between taking
    and settling), so a row can never be kept from everyone else for good."""

    def __init__(
        self,
        engine: Engine,
        model: type[Any],
        lease_column: Any,
        duration: timedelta,
        *where: ColumnElement[bool],
        max_hold: timedelta = timedelta(minutes=2),
    ) -> None:
        self._engine = engine
        self._model = model
        self._column = lease_column
        self.duration = duration
        self._where = where
        self._max_hold = max_hold
        self._held: dict[Any, float] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, *ids: Any) -> None:
        if not ids:
            return
        until = time.monotonic() + self._max_hold.total_seconds()
        with self._lock:
            for row_id in ids:
                self._held[row_id] = until
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=f"lease-keeper-{self._model.__name__}", daemon=True
                )
                self._thread.start()

    def drop(self, *ids: Any) -> None:
        with self._lock:
            for row_id in ids:
                self._held.pop(row_id, None)

    def held(self) -> set[Any]:
        with self._lock:
            return set(self._held)

    def _run(self) -> None:
        every = self.duration.total_seconds() / 3
        idle_rounds = 0
        while True:
            time.sleep(every)
            with self._lock:
                now = time.monotonic()
                for row_id in [i for i, until in self._held.items() if until < now]:
                    del self._held[row_id]
                ids = list(self._held)
                idle_rounds = 0 if ids else idle_rounds + 1
                # A busy process keeps its thread; an idle one (or a test's) lets it go.
                if idle_rounds > IDLE_ROUNDS:
                    self._thread = None
                    return
            if not ids:
                continue
            try:
                self.renew(ids)
            except Exception:
                # The database is away: the leases may run out meanwhile, which is the safe
                # side (another worker may take the rows; at-least-once stays true).
                log.warning("lease_renewal_failed", table=self._model.__name__, rows=len(ids))

    def renew(self, ids: list[Any]) -> None:
        now = utcnow()
        with Session(self._engine) as session:
            session.execute(
                update(self._model)
                .where(self._model.id.in_(ids), self._column.is_not(None), *self._where)
                .values({self._column.key: now + self.duration})
                .execution_options(synchronize_session=False)
            )
            session.commit()

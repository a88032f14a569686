"""The one compare-and-set lease every worker uses: a row is taken by the process whose UPDATE
finds the lease free (never taken, or run out), so two processes never work the same row, and
a process that dies leaves it to another once the lease runs out. The lock lives in the
database row, never in process memory."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from intake_api.db import utcnow


def take_lease(
    session: Session,
    model: type[Any],
    lease_column: Any,
    until: datetime,
    *where: ColumnElement[bool],
    now: datetime,
    **values: Any,
) -> bool:
    """Sets `lease_column` to `until` (and `values`) on the rows matching `where` whose lease
    is free at `now`; True when this call took it. The caller commits."""
    result = session.execute(
        update(model)
        .where(*where)
        .where(or_(lease_column.is_(None), lease_column < now))
        .values({lease_column.key: until, **values})
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


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
            model.leased_until,
            now + duration,
            model.id == row_id,
            model.state == "pending",
            now=now,
        )
        session.commit()
        return taken

"""The one compare-and-set lease every worker uses: a row is taken by the process whose UPDATE
finds the lease free (never taken, or run out), so two processes never work the same row, and
a process that dies leaves it to another once the lease runs out. The lock lives in the
database row, never in process memory."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, update
from sqlmodel import Session


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

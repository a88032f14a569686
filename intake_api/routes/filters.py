"""The ticket filters shared by the queue and the statistics (docs/api.md: "filters as for
tickets")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import HTTPException, Query

from intake_api.enums import Channel, Priority, Status
from intake_api.schemas import assume_vietnam_time
from intake_api.tickets import TicketFilters

FilterText = Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$")]


def _instant(value: datetime | None, name: str) -> datetime | None:
    """The filter as an aware instant; a time at the edge of the calendar (year 1 with a
    positive offset) cannot be turned into UTC and is refused rather than crashing."""
    try:
        aware = assume_vietnam_time(value)
        return aware.astimezone(UTC) if aware is not None else None
    except (OverflowError, ValueError):
        raise HTTPException(
            status_code=422, detail=f"{name}: give a date and time between the years 1 and 9999."
        ) from None


def ticket_filters(
    status_: Annotated[list[Status] | None, Query(alias="status")] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    agency: FilterText = None,
    province: FilterText = None,
    channel: Channel | None = None,
    assignee: FilterText = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    q: FilterText = None,
) -> TicketFilters:
    start, end = _instant(created_from, "created_from"), _instant(created_to, "created_to")
    if start is not None and end is not None and start >= end:
        raise HTTPException(
            status_code=422, detail="created_from: must be earlier than created_to."
        )
    return TicketFilters(
        status=[s.value for s in status_] if status_ else None,
        priority=[p.value for p in priority] if priority else None,
        agency=agency,
        province=province,
        channel=channel.value if channel else None,
        assignee=assignee,
        created_from=start,
        created_to=end,
        q=q,
    )

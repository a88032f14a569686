"""The ticket filters shared by the queue and the statistics (docs/api.md: "filters as for
tickets")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query

from intake_api.deps import SettingsDep
from intake_api.enums import Channel, Priority, Status
from intake_api.schemas import NO_NUL_PATTERN, FilterTime, assume_vietnam_time
from intake_api.tickets import TicketFilters

FilterText = Annotated[str | None, Query(max_length=100, pattern=NO_NUL_PATTERN)]


def instant(value: datetime | None) -> datetime | None:
    """A filter time as an aware UTC instant (a time without a zone is Vietnam's). One at the
    very edge of the calendar (year 1 with a positive offset) is the earliest instant there is,
    so every well-formed time is a usable bound."""
    aware = assume_vietnam_time(value)
    if aware is None:
        return None
    try:
        return aware.astimezone(UTC)
    except (OverflowError, ValueError):
        return (
            datetime.min.replace(tzinfo=UTC)
            if aware.year == 1
            else datetime.max.replace(tzinfo=UTC)
        )


def ticket_filters(
    settings: SettingsDep,
    status_: Annotated[list[Status] | None, Query(alias="status")] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    agency: FilterText = None,
    province: Annotated[
        str | None,
        Query(
            max_length=100,
            pattern=NO_NUL_PATTERN,
            description="A province in force, or a pre-2025 name (mapped to its unit).",
        ),
    ] = None,
    channel: Channel | None = None,
    assignee: FilterText = None,
    created_from: Annotated[
        FilterTime | None, Query(description="Created at or after (inclusive).")
    ] = None,
    created_to: Annotated[
        FilterTime | None,
        Query(description="Created before (exclusive); not after created_from finds nothing."),
    ] = None,
    q: FilterText = None,
) -> TicketFilters:
    return TicketFilters(
        status=[s.value for s in status_] if status_ else None,
        priority=[p.value for p in priority] if priority else None,
        agency=agency,
        # A name that is no province finds nothing, as any filter value that matches nothing.
        province=(settings.province_names.canonical(province) or province) if province else None,
        channel=channel.value if channel else None,
        assignee=assignee,
        created_from=instant(created_from),
        created_to=instant(created_to),
        q=q,
    )

"""Statistics and periodic reports for supervisors (api.md, Statistics)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response

from intake_api.audit import record
from intake_api.deps import SessionDep, SettingsDep, SupervisorDep
from intake_api.enums import Channel, Priority, Status
from intake_api.reports import (
    CSV_TYPE,
    XLSX_TYPE,
    BadPeriod,
    parse_period,
    report_stats,
    to_csv,
    to_xlsx,
)
from intake_api.schemas import assume_vietnam_time
from intake_api.stats import Grouping, StatsOut, compute_stats
from intake_api.tickets import TicketFilters

router = APIRouter(prefix="/api/v1", tags=["statistics"])

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


@router.get("/stats", response_model=StatsOut)
def get_stats(
    caller: SupervisorDep,
    session: SessionDep,
    settings: SettingsDep,
    status_: Annotated[list[Status] | None, Query(alias="status")] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    agency: FilterText = None,
    province: FilterText = None,
    channel: Channel | None = None,
    assignee: FilterText = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    q: FilterText = None,
    period: Annotated[
        Grouping, Query(description="Group the counts by month, quarter or year (local time).")
    ] = Grouping.month,
) -> StatsOut:
    start, end = _instant(created_from, "created_from"), _instant(created_to, "created_to")
    if start is not None and end is not None and start >= end:
        raise HTTPException(
            status_code=422, detail="created_from: must be earlier than created_to."
        )
    filters = TicketFilters(
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
    return compute_stats(session, settings, caller, filters, period)


@router.get(
    "/reports/{year}/{period}",
    response_class=Response,
    responses={
        200: {
            "description": "The report as a download.",
            "content": {XLSX_TYPE: {}, "text/csv": {}},
        },
        422: {"description": "The year or period is not one we report on."},
    },
)
def get_report(
    year: int,
    period: Annotated[str, Path(max_length=16, description="Q1, Q2, Q3, Q4, H1, H2 or year.")],
    caller: SupervisorDep,
    session: SessionDep,
    settings: SettingsDep,
    format: Annotated[Literal["xlsx", "csv"], Query(description="File type.")] = "xlsx",
) -> Response:
    try:
        chosen = parse_period(year, period)
    except BadPeriod as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    stats = report_stats(session, settings, caller, chosen)
    if format == "csv":
        content, media_type = to_csv(stats, chosen, settings), CSV_TYPE
    else:
        content, media_type = to_xlsx(stats, chosen, settings), XLSX_TYPE
    # Aggregates carry no personal data, but who exported which report is still accountable.
    record(session, caller.username, "export", None, f"{chosen.year} {chosen.code} {format}")
    session.commit()
    return Response(
        content=content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{chosen.filename(format)}"',
            "Cache-Control": "no-store",
        },
    )

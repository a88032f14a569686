"""Statistics and periodic reports for supervisors (docs/api.md, Statistics)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response

from intake_api.audit import record
from intake_api.deps import SessionDep, SettingsDep, SupervisorDep
from intake_api.errors import SIGNED_IN, error_responses
from intake_api.reports import (
    CSV_TYPE,
    MAX_YEAR,
    MIN_YEAR,
    XLSX_TYPE,
    BadPeriod,
    parse_period,
    report_stats,
    to_csv,
    to_xlsx,
)
from intake_api.routes.filters import ticket_filters
from intake_api.stats import Grouping, StatsOut, compute_stats
from intake_api.tickets import TicketFilters

router = APIRouter(prefix="/api/v1", tags=["statistics"], responses=error_responses(*SIGNED_IN))


@router.get("/stats", response_model=StatsOut)
def get_stats(
    caller: SupervisorDep,
    session: SessionDep,
    settings: SettingsDep,
    filters: Annotated[TicketFilters, Depends(ticket_filters)],
    period: Annotated[
        Grouping, Query(description="Group the counts by month, quarter or year (local time).")
    ] = Grouping.month,
) -> StatsOut:
    return compute_stats(session, settings, caller, filters, period)


@router.get(
    "/reports/{year}/{period}",
    response_class=Response,
    responses={
        200: {
            "description": "The report as a download.",
            "content": {
                XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
    },
)
def get_report(
    year: Annotated[int, Path(ge=MIN_YEAR, le=MAX_YEAR)],
    period: Annotated[
        str,
        Path(
            pattern=r"^([Qq][1-4]|[Hh][12]|[Yy][Ee][Aa][Rr])$",
            description="Q1, Q2, Q3, Q4, H1, H2 or year (any case).",
        ),
    ],
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

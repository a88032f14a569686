"""The supervisors' dashboard: the figures of `intake_api.stats` with charts drawn as SVG on
the server, and the periodic reports of `intake_api.reports` as downloads."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from intake_api.audit import record
from intake_api.console.web import PREFIX, SignedIn, page, require, settings_of
from intake_api.db import utcnow
from intake_api.deps import SessionDep
from intake_api.enums import Role
from intake_api.reports import (
    CSV_TYPE,
    PERIODS,
    XLSX_TYPE,
    BadPeriod,
    parse_period,
    report_stats,
    to_csv,
    to_xlsx,
)
from intake_api.schemas import DISPLAY_ZONE
from intake_api.stats import WEEK, Grouping, by_week, compute_stats, next_period, period_start
from intake_api.tickets import TicketFilters

router = APIRouter(prefix=PREFIX, include_in_schema=False)

RANGES = {"30": 30, "90": 90, "180": 180, "365": 365}
DEFAULT_RANGE = "90"
TOP_PROVINCES = 12


@router.get("/dashboard")
def dashboard(request: Request, sess: SignedIn, db: SessionDep) -> Response:
    require(sess, {Role.supervisor})
    settings = settings_of(request)
    chosen = request.query_params.get("range", DEFAULT_RANGE)
    if chosen not in RANGES:
        chosen = DEFAULT_RANGE
    now = utcnow()
    first_week = period_start(now - timedelta(days=RANGES[chosen]), WEEK)
    filters = TicketFilters(created_from=first_week)
    stats = compute_stats(db, settings, sess.caller, filters, Grouping.month, now=now)
    weeks = by_week(
        db, sess.caller, filters, span=(first_week, next_period(period_start(now, WEEK), WEEK))
    )
    return page(
        request,
        sess,
        "dashboard.html",
        stats=stats,
        weeks=weeks,
        chosen_range=chosen,
        ranges=list(RANGES),
        since=first_week,
        by_channel=stats.by_channel,
        by_intent=[r for r in stats.by_intent if r.tickets],
        by_priority=stats.by_priority,
        by_province=[r for r in stats.by_province if r.tickets][:TOP_PROVINCES],
        by_agency=stats.by_agency,
        agency_names={a.code: a.name for a in settings.agencies},
        year=now.astimezone(DISPLAY_ZONE).year,
        current_quarter=f"Q{(now.astimezone(DISPLAY_ZONE).month - 1) // 3 + 1}",
        periods=list(PERIODS),
    )


@router.get("/reports")
def report(request: Request, sess: SignedIn, db: SessionDep) -> Response:
    """The same report as GET /api/v1/reports/{year}/{period}, for a supervisor's browser."""
    require(sess, {Role.supervisor})
    settings = settings_of(request)
    params = request.query_params
    fmt = params.get("format", "xlsx")
    year = params.get("year", "")
    try:
        if fmt not in ("xlsx", "csv") or not year.isdigit() or len(year) != 4:
            raise BadPeriod("format or year")
        chosen = parse_period(int(year), params.get("period", "")[:16])
    except BadPeriod:
        return page(request, sess, "error.html", 422, reason="bad_report")
    stats = report_stats(db, settings, sess.caller, chosen)
    if fmt == "csv":
        content, media_type = to_csv(stats, chosen, settings), CSV_TYPE
    else:
        content, media_type = to_xlsx(stats, chosen, settings), XLSX_TYPE
    record(db, sess.caller.username, "export", None, f"{chosen.year} {chosen.code} {fmt}")
    db.commit()
    return Response(
        content=content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{chosen.filename(fmt)}"',
            "Cache-Control": "no-store",
        },
    )

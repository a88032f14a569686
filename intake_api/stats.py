"""Statistics over the tickets a caller may see, with the ticket list's filters.

Definitions (the figures the provincial programmes report):

- tips received: every ticket in scope.
- classified: tickets whose triage category is a real intent (not `out_of_scope`).
- resolution rate: tickets now `resolved` ÷ tickets in scope that are not `duplicate` or
  `unfounded` (those were never cases to resolve). Open tickets count against the rate, so a
  period's rate rises as its backlog is worked. Compared with `settings.resolution_target`.
- time to first response: `first_response_at − created_at` over the tickets that have one;
  the median and the 90th percentile (linear interpolation, as PostgreSQL's percentile_cont).
- SLA breaches: the first response came after `due_at`, or there is none yet and `due_at` has
  passed (the same rule as the `overdue` flag of the ticket list).
- periods: month, quarter or year in Asia/Ho_Chi_Minh local time, from the first to the last
  ticket in scope, empty periods included so a chart has no gaps. `by_week` counts the same
  way per ISO week (Monday to Sunday), for the staff console's chart.
- by agency: a ticket routed to two agencies counts for each, so that breakdown can sum to more
  than the total.
- calls: the phone hotline's tickets counted as the other channels' are (every call files one):
  received, classified (the caller chose something in the menu), answered (a forwarding leg
  reached a person) and missed (the call left a call-back task: missed, abandoned, after
  hours).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Integer, case, func
from sqlmodel import Session, col, select

from intake_api.config import Settings
from intake_api.db import utcnow
from intake_api.enums import CLOSED_STATUSES, Channel, Intent, Priority, Status
from intake_api.identity import Caller
from intake_api.models import CallRecord, Ticket, TicketAgency
from intake_api.rules.visibility import visibility_clause
from intake_api.schemas import DISPLAY_ZONE, LocalTime
from intake_api.tickets import TicketFilters

UNKNOWN = "unknown"
NOT_CASES = (Status.duplicate.value, Status.unfounded.value)


class Grouping(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"


class CountRow(BaseModel):
    key: str
    tickets: int
    resolved: int


class PeriodRow(CountRow):
    start: LocalTime = Field(description="First instant of the period (inclusive).")
    end: LocalTime = Field(description="First instant after the period (exclusive).")


class ResolutionOut(BaseModel):
    resolved: int
    counted: int = Field(description="Tickets in scope except `duplicate` and `unfounded`.")
    rate: float | None = Field(description="resolved ÷ counted; null when nothing is counted.")
    target: float
    target_met: bool | None = Field(description="Null when there is no rate to compare.")


class FirstResponseOut(BaseModel):
    responded: int = Field(description="Tickets that have had a first response.")
    median_minutes: float | None
    p90_minutes: float | None


class SlaOut(BaseModel):
    breaches: int
    late_response: int = Field(description="First response came after the due time.")
    overdue_unanswered: int = Field(description="No response yet and the due time has passed.")


class CallsOut(BaseModel):
    received: int = Field(description="Calls to the hotline: voice tickets in scope.")
    classified: int = Field(description="Calls in which the caller chose from the menu.")
    answered: int = Field(description="Calls a forwarding leg connected to a person.")
    missed: int = Field(description="Missed, abandoned and after-hours calls (a call-back task).")


class StatsOut(BaseModel):
    generated_at: LocalTime
    period: Grouping
    total: int = Field(description="Tips received: every ticket in scope.")
    classified: int = Field(description="Tickets with a category other than `out_of_scope`.")
    resolution: ResolutionOut
    first_response: FirstResponseOut
    sla: SlaOut
    by_period: list[PeriodRow]
    by_channel: list[CountRow]
    by_intent: list[CountRow] = Field(description="By the triage category.")
    by_priority: list[CountRow]
    by_province: list[CountRow] = Field(description="A ticket without a province is `unknown`.")
    by_agency: list[CountRow] = Field(
        description="A ticket counts once per agency it is routed to."
    )
    by_status: list[CountRow]
    calls: CallsOut


def compute_stats(
    session: Session,
    settings: Settings,
    caller: Caller,
    filters: TicketFilters,
    grouping: Grouping = Grouping.month,
    now: datetime | None = None,
    span: tuple[datetime, datetime] | None = None,
) -> StatsOut:
    """The statistics; `span` (start inclusive, end exclusive) lists every period in it even
    without tickets, which a report over a fixed quarter wants."""
    now = now or utcnow()
    scope = _Scope(caller, filters)
    is_resolved = _flag(col(Ticket.status) == Status.resolved)
    late = (col(Ticket.first_response_at).is_not(None)) & (
        col(Ticket.first_response_at) > col(Ticket.due_at)
    )
    # Closing a ticket records a first response, so "open" only guards odd legacy rows.
    unanswered = (
        col(Ticket.first_response_at).is_(None)
        & col(Ticket.status).not_in([s.value for s in CLOSED_STATUSES])
        & (col(Ticket.due_at) < now)
    )
    totals = session.exec(
        scope.apply(
            select(
                func.count(),
                func.sum(is_resolved),
                func.sum(_flag(col(Ticket.category) != Intent.out_of_scope)),
                func.sum(_flag(col(Ticket.status).not_in(NOT_CASES))),
                func.sum(_flag(late)),
                func.sum(_flag(unanswered)),
            )
        )
    ).one()
    total, resolved, classified, counted, late_n, unanswered_n = (int(v or 0) for v in totals)

    def breakdown(column: Any, known: Iterable[str] = ()) -> list[CountRow]:
        rows = session.exec(
            scope.apply(select(column, func.count(), func.sum(is_resolved)).group_by(column))
        ).all()
        return _rows(rows, known)

    agency_rows = session.exec(
        scope.apply(
            select(TicketAgency.agency, func.count(), func.sum(is_resolved))
            .join(Ticket, col(Ticket.id) == col(TicketAgency.ticket_id))
            .group_by(TicketAgency.agency)
        )
    ).all()
    # Rounded before the comparison so the verdict always agrees with the figure shown.
    rate = round(resolved / counted, 4) if counted else None
    return StatsOut(
        generated_at=now,
        period=grouping,
        total=total,
        classified=classified,
        resolution=ResolutionOut(
            resolved=resolved,
            counted=counted,
            rate=rate,
            target=settings.resolution_target,
            target_met=rate >= settings.resolution_target if rate is not None else None,
        ),
        first_response=_first_response(session, scope),
        sla=SlaOut(
            breaches=late_n + unanswered_n, late_response=late_n, overdue_unanswered=unanswered_n
        ),
        by_period=_by_period(session, scope, grouping, is_resolved, span),
        by_channel=breakdown(Ticket.channel, [c.value for c in Channel]),
        by_intent=breakdown(Ticket.category),
        by_priority=sorted(
            breakdown(Ticket.priority, [p.value for p in Priority]), key=lambda r: r.key
        ),
        by_province=breakdown(Ticket.province),
        by_agency=_rows(agency_rows, settings.agency_codes),
        by_status=breakdown(Ticket.status, [s.value for s in Status]),
        calls=_calls(session, scope),
    )


def _calls(session: Session, scope: _Scope) -> CallsOut:
    def having(kind: str, outcome: str | None = None) -> Any:
        records = select(CallRecord.ticket_id).where(CallRecord.kind == kind)
        if outcome is not None:
            records = records.where(CallRecord.outcome == outcome)
        return _flag(col(Ticket.id).in_(records))

    received, classified, answered, missed = (
        int(v or 0)
        for v in session.exec(
            scope.apply(
                select(
                    func.count(),
                    func.sum(_flag(col(Ticket.category) != Intent.out_of_scope)),
                    func.sum(having("leg", "answered")),
                    func.sum(having("callback")),
                ).where(col(Ticket.channel) == Channel.voice)
            )
        ).one()
    )
    return CallsOut(received=received, classified=classified, answered=answered, missed=missed)


class _Scope:
    """The caller's visible tickets narrowed by the filters, applied to any statement whose
    FROM clause has the tickets table."""

    def __init__(self, caller: Caller, filters: TicketFilters) -> None:
        self.filters = filters
        self.visible = visibility_clause(caller)

    def apply(self, stmt: Any) -> Any:
        stmt = self.filters.apply(stmt)
        return stmt.where(self.visible) if self.visible is not None else stmt


def _flag(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def _rows(rows: Iterable[Any], known: Iterable[str] = ()) -> list[CountRow]:
    """Count rows, most tickets first; known values with no tickets are listed as zeros so a
    report shows 'zalo: 0' rather than leaving the reader to wonder."""
    counts: dict[str, CountRow] = {k: CountRow(key=k, tickets=0, resolved=0) for k in known}
    for key, tickets, resolved in rows:
        name = key if key is not None else UNKNOWN
        counts[name] = CountRow(key=name, tickets=int(tickets), resolved=int(resolved or 0))
    return sorted(counts.values(), key=lambda r: (-r.tickets, r.key))


def _first_response(session: Session, scope: _Scope) -> FirstResponseOut:
    rows = session.exec(
        scope.apply(
            select(Ticket.created_at, Ticket.first_response_at).where(
                col(Ticket.first_response_at).is_not(None)
            )
        )
    ).all()
    # A clock a little behind on another server must not produce negative waiting times.
    minutes = [max(0.0, (answered - created).total_seconds() / 60) for created, answered in rows]
    return FirstResponseOut(
        responded=len(minutes),
        median_minutes=_round(statistics.median(minutes)) if minutes else None,
        p90_minutes=_round(percentile(minutes, 0.9)) if minutes else None,
    )


def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default, percentile_cont)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _round(value: float) -> float:
    return round(value, 1)


# --- periods -------------------------------------------------------------------------------


# Weeks are not a grouping of the API's statistics (its `period` stays month, quarter, year);
# the staff console charts them, with the same buckets and the same counting rules.
WEEK = "week"


def period_start(moment: datetime, grouping: Grouping | str) -> datetime:
    """The local start of the period holding `moment` (aware, in DISPLAY_ZONE); a week starts
    on Monday (ISO 8601)."""
    local = moment.astimezone(DISPLAY_ZONE)
    if grouping == WEEK:
        monday = local.date() - timedelta(days=local.weekday())
        return datetime(monday.year, monday.month, monday.day, tzinfo=DISPLAY_ZONE)
    month = {
        Grouping.month: local.month,
        Grouping.quarter: 3 * ((local.month - 1) // 3) + 1,
        Grouping.year: 1,
    }[grouping]
    return datetime(local.year, month, 1, tzinfo=DISPLAY_ZONE)


def next_period(start: datetime, grouping: Grouping | str) -> datetime:
    if grouping == WEEK:
        # Wall-clock arithmetic on the local date: a week is seven calendar days.
        following = start.date() + timedelta(days=7)
        return datetime(following.year, following.month, following.day, tzinfo=DISPLAY_ZONE)
    months = {Grouping.month: 1, Grouping.quarter: 3, Grouping.year: 12}[grouping]
    index = start.year * 12 + start.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=DISPLAY_ZONE)


def period_key(start: datetime, grouping: Grouping | str) -> str:
    if grouping == WEEK:
        year, week, _ = start.date().isocalendar()
        return f"{year}-W{week:02d}"
    if grouping is Grouping.month:
        return f"{start.year}-{start.month:02d}"
    if grouping is Grouping.quarter:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


def by_week(
    session: Session,
    caller: Caller,
    filters: TicketFilters,
    span: tuple[datetime, datetime] | None = None,
) -> list[PeriodRow]:
    """Tickets received and resolved per local week (Monday to Sunday), as `by_period` counts
    them; with `span`, every week in it is listed even without tickets."""
    is_resolved = _flag(col(Ticket.status) == Status.resolved)
    return _by_period(session, _Scope(caller, filters), WEEK, is_resolved, span)


def _by_period(
    session: Session,
    scope: _Scope,
    grouping: Grouping | str,
    is_resolved: Any,
    span: tuple[datetime, datetime] | None,
) -> list[PeriodRow]:
    first, last = session.exec(
        scope.apply(select(func.min(Ticket.created_at), func.max(Ticket.created_at)))
    ).one()
    if span is not None:
        # The end is exclusive: the last period is the one holding the instant before it.
        first, last = span[0], span[1] - timedelta(microseconds=1)
    if first is None or last is None:
        return []
    starts = [period_start(first, grouping)]
    while (following := next_period(starts[-1], grouping)) <= last.astimezone(DISPLAY_ZONE):
        starts.append(following)
    bounds = [*starts, next_period(starts[-1], grouping)]
    # Local boundaries turned into instants in Python (zoneinfo knows the zone's history), so
    # the database only compares UTC instants: the same SQL on SQLite and PostgreSQL.
    bucket = case(
        *[(col(Ticket.created_at) < bound, index) for index, bound in enumerate(bounds[1:])],
        else_=len(starts) - 1,
    ).cast(Integer)
    # Grouped through a subquery: PostgreSQL would not match the CASE's bound parameters in
    # SELECT against a second copy of them in GROUP BY.
    inner = scope.apply(
        select(bucket.label("bucket"), is_resolved.label("resolved")).select_from(Ticket)
    ).subquery()
    counts = {
        int(index): (int(tickets), int(resolved or 0))
        for index, tickets, resolved in session.exec(
            select(inner.c.bucket, func.count(), func.sum(inner.c.resolved)).group_by(
                inner.c.bucket
            )
        ).all()
    }
    return [
        PeriodRow(
            key=period_key(start, grouping),
            tickets=counts.get(index, (0, 0))[0],
            resolved=counts.get(index, (0, 0))[1],
            start=start,
            end=bounds[index + 1],
        )
        for index, start in enumerate(starts)
    ]

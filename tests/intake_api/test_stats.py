"""GET /api/v1/stats: counts, resolution rate, first response, SLA breaches and periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from intake_api.db import utcnow
from intake_api.identity import Caller
from intake_api.models import Ticket, User
from intake_api.schemas import DISPLAY_ZONE
from intake_api.stats import by_week
from intake_api.tickets import TicketFilters
from tests.intake_api.conftest import Api

STATS = "/api/v1/stats"


def stats(api: Api, **params: Any) -> dict[str, Any]:
    response = api.get("supervisor", STATS, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def counts(rows: list[dict[str, Any]], field: str = "tickets") -> dict[str, int]:
    """Non-zero counts by key: the zero rows for known values are a presentation detail."""
    return {r["key"]: r[field] for r in rows if r[field]}


def move(api: Api, ticket_id: str, *statuses: str) -> None:
    for target in statuses:
        response = api.patch("operator", f"/api/v1/tickets/{ticket_id}", json={"status": target})
        assert response.status_code == 200, response.text


def resolve(api: Api, ticket_id: str) -> None:
    move(api, ticket_id, "acknowledged", "in_progress", "resolved")


def set_times(api: Api, ticket_id: str, **times: datetime | None) -> None:
    with Session(api.engine) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        for name, value in times.items():
            setattr(ticket, name, value)
        session.add(ticket)
        session.commit()


def test_counts_by_channel_intent_priority_province_agency_and_status(api: Api) -> None:
    api.new_ticket(
        priority="P1", category="request_rescue", agencies=["police", "dolisa"], channel="zalo"
    )
    api.new_ticket(priority="P2", category="report_trafficking", province="Hà Nội")
    api.new_ticket(
        priority="P3", category="out_of_scope", agencies=["dolisa"], channel="sms", province=None
    )
    api.new_ticket(priority="P2", category="report_missing")

    result = stats(api)
    assert result["total"] == 4
    assert result["classified"] == 3  # out_of_scope is not a classified tip
    assert counts(result["by_channel"]) == {"telegram": 2, "zalo": 1, "sms": 1}
    assert counts(result["by_priority"]) == {"P1": 1, "P2": 2, "P3": 1}
    assert [r["key"] for r in result["by_priority"]] == ["P1", "P2", "P3"]
    assert counts(result["by_province"]) == {"Nghệ An": 2, "Hà Nội": 1, "unknown": 1}
    assert counts(result["by_agency"]) == {"police": 3, "dolisa": 2}
    assert counts(result["by_intent"]) == {
        "request_rescue": 1,
        "report_trafficking": 1,
        "out_of_scope": 1,
        "report_missing": 1,
    }
    assert counts(result["by_status"]) == {"new": 4}
    this_month = datetime.now(UTC).astimezone(DISPLAY_ZONE).strftime("%Y-%m")
    assert counts(result["by_period"]) == {this_month: 4}

    # The ticket list's filters narrow the statistics the same way.
    police_p2 = stats(api, agency="police", priority="P2")
    assert police_p2["total"] == 2
    assert counts(police_p2["by_agency"]) == {"police": 2}
    assert stats(api, channel="zalo")["total"] == 1
    assert stats(api, province="Hà Nội")["total"] == 1
    assert stats(api, status=["resolved"])["total"] == 0


def test_resolution_rate_excludes_duplicates_and_is_compared_with_the_target(api: Api) -> None:
    ids = [api.new_ticket(channel="zalo" if i < 2 else "telegram")["id"] for i in range(5)]
    for ticket_id in ids[:3]:
        resolve(api, ticket_id)
    move(api, ids[3], "duplicate")  # not a case: left out of the rate

    resolution = stats(api)["resolution"]
    assert resolution["resolved"] == 3
    assert resolution["counted"] == 4
    assert resolution["rate"] == pytest.approx(0.75)
    assert resolution["target"] == pytest.approx(0.9)
    assert resolution["target_met"] is False
    assert counts(stats(api)["by_channel"], "resolved") == {"zalo": 2, "telegram": 1}

    resolve(api, ids[4])
    resolution = stats(api)["resolution"]
    assert resolution["rate"] == pytest.approx(1.0)
    assert resolution["target_met"] is True


def test_rate_is_null_without_tickets(api: Api) -> None:
    result = stats(api)
    assert result["total"] == 0
    assert result["resolution"]["rate"] is None
    assert result["resolution"]["target_met"] is None
    assert result["first_response"]["median_minutes"] is None
    assert result["by_period"] == []


def test_median_and_p90_time_to_first_response(api: Api) -> None:
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    for minutes in (10, 20, 60):
        ticket = api.new_ticket()
        set_times(
            api,
            ticket["id"],
            created_at=start,
            first_response_at=start + timedelta(minutes=minutes),
            due_at=start + timedelta(hours=24),
        )
    api.new_ticket()  # not answered yet: no waiting time to count

    first = stats(api)["first_response"]
    assert first["responded"] == 3
    assert first["median_minutes"] == pytest.approx(20.0)
    # Linear interpolation between ranks: 20 + 0.8 × (60 − 20).
    assert first["p90_minutes"] == pytest.approx(52.0)


def test_sla_breaches_count_late_and_overdue_unanswered_tickets(api: Api) -> None:
    now = utcnow()
    day = timedelta(days=1)
    late, overdue, on_time, pending = (api.new_ticket()["id"] for _ in range(4))
    set_times(api, late, created_at=now - 3 * day, due_at=now - 2 * day, first_response_at=now)
    set_times(api, overdue, created_at=now - 3 * day, due_at=now - 2 * day)
    set_times(
        api,
        on_time,
        created_at=now - 3 * day,
        due_at=now - 2 * day,
        first_response_at=now - 3 * day + timedelta(hours=1),
    )
    set_times(api, pending, due_at=now + day)

    sla = stats(api)["sla"]
    assert sla == {"breaches": 2, "late_response": 1, "overdue_unanswered": 1}
    # The same rule as the queue's overdue flag, so the two views never disagree.
    queue = api.get("supervisor", "/api/v1/tickets").json()["items"]
    assert {t["id"] for t in queue if t["overdue"]} == {late, overdue}


def test_periods_are_local_time_and_filters_use_local_dates(api: Api) -> None:
    times = {
        # 17:30 UTC on 31 January is already 1 February in Hà Nội.
        "feb": datetime(2026, 1, 31, 17, 30, tzinfo=UTC),
        "jan": datetime(2026, 1, 15, 3, 0, tzinfo=UTC),
        # New Year's Eve in UTC, New Year's Day in Vietnam.
        "new_year": datetime(2025, 12, 31, 18, 0, tzinfo=UTC),
        "apr": datetime(2026, 4, 10, 5, 0, tzinfo=UTC),
    }
    for when in times.values():
        ticket = api.new_ticket()
        set_times(api, ticket["id"], created_at=when, due_at=when + timedelta(days=1))

    by_month = stats(api)["by_period"]
    assert [(r["key"], r["tickets"]) for r in by_month] == [
        ("2026-01", 2),
        ("2026-02", 1),
        ("2026-03", 0),  # an empty month is listed, so a chart has no gap
        ("2026-04", 1),
    ]
    assert by_month[1]["start"] == "2026-02-01T00:00:00+07:00"
    assert by_month[1]["end"] == "2026-03-01T00:00:00+07:00"
    by_quarter = stats(api, period="quarter")["by_period"]
    assert counts(by_quarter) == {"2026-Q1": 3, "2026-Q2": 1}
    assert counts(stats(api, period="year")["by_period"]) == {"2026": 4}

    # A filter without a zone is Vietnam's local time.
    february = stats(api, created_from="2026-02-01T00:00:00", created_to="2026-03-01T00:00:00")
    assert february["total"] == 1
    first_quarter = stats(
        api, created_from="2026-01-01T00:00:00+07:00", created_to="2026-04-01T00:00:00+07:00"
    )
    assert first_quarter["total"] == 3


def test_statistics_are_for_supervisors_only(api: Api) -> None:
    for who in ("operator", "police", "dolisa", "admin", "bot"):
        assert api.get(who, STATS).status_code == 403, who
    assert api.client.get(STATS).status_code == 401


def test_bad_filters_are_refused_with_a_sentence(api: Api) -> None:
    week = api.get("supervisor", STATS, params={"period": "week"})
    assert week.status_code == 422
    assert "period" in week.json()["detail"]


def test_every_well_formed_time_range_is_answered(api: Api) -> None:
    """The schema accepts any two times, so the API does: a range that ends where (or before)
    it starts holds no ticket, and a time at the calendar's edge is still a bound."""
    api.new_ticket()
    for params in (
        {"created_from": "2026-03-01T00:00:00+07:00", "created_to": "2026-03-01T00:00:00+07:00"},
        {"created_from": "2026-03-01", "created_to": "2026-01-01"},
    ):
        empty = api.get("supervisor", STATS, params=params)
        assert empty.status_code == 200, empty.text
        assert empty.json()["total"] == 0
        assert api.get("operator", "/api/v1/tickets", params=params).json()["total"] == 0
    edge = api.get("supervisor", STATS, params={"created_from": "0001-01-01T00:00:00+14:00"})
    assert edge.status_code == 200 and edge.json()["total"] == 1


def test_weeks_are_local_monday_to_sunday_with_empty_weeks_listed(api: Api) -> None:
    times = [
        # Sunday 22:00 in Hà Nội (15:00 UTC): still the week of Monday 2 March.
        datetime(2026, 3, 8, 15, 0, tzinfo=UTC),
        # Sunday 17:30 UTC is already Monday 9 March in Hà Nội: the next week.
        datetime(2026, 3, 8, 17, 30, tzinfo=UTC),
        # Two weeks later, leaving the week of 16 March empty.
        datetime(2026, 3, 23, 3, 0, tzinfo=UTC),
    ]
    ids = []
    for when in times:
        ticket = api.new_ticket()
        set_times(api, ticket["id"], created_at=when, due_at=when + timedelta(days=1))
        ids.append(ticket["id"])
    resolve(api, ids[1])
    with Session(api.engine) as session:
        supervisor = session.exec(select(User).where(User.username == "supervisor")).one()
        weeks = by_week(session, Caller.of(supervisor), TicketFilters())
    assert [(w.key, w.tickets, w.resolved) for w in weeks] == [
        ("2026-W10", 1, 0),
        ("2026-W11", 1, 1),
        ("2026-W12", 0, 0),
        ("2026-W13", 1, 0),
    ]
    assert weeks[1].start == datetime(2026, 3, 9, tzinfo=DISPLAY_ZONE)
    assert weeks[1].end == datetime(2026, 3, 16, tzinfo=DISPLAY_ZONE)

"""GET /api/v1/reports/{year}/{period}: the quarterly, half-yearly and yearly downloads."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
import pytest

from intake_api.reports import load_labels
from tests.intake_api.conftest import Api
from tests.intake_api.test_stats import resolve, set_times

LABELS = load_labels()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def ticket_at(api: Api, when: datetime, **overrides: Any) -> str:
    ticket_id = api.new_ticket(**overrides)["id"]
    set_times(api, ticket_id, created_at=when, due_at=when + timedelta(days=1))
    return ticket_id


def first_quarter_tickets(api: Api) -> None:
    """Three tickets in Q1 2026 (one resolved) and one just after it, in local time."""
    resolved = api.new_ticket(channel="zalo", priority="P1", category="request_rescue")["id"]
    resolve(api, resolved)
    set_times(api, resolved, created_at=datetime(2026, 2, 3, 2, 0, tzinfo=UTC))
    ticket_at(api, datetime(2026, 1, 20, 4, 0, tzinfo=UTC), agencies=["dolisa"])
    # 31 December 17:30 UTC is 1 January 00:30 in Vietnam: Q1 2026, not 2025.
    ticket_at(api, datetime(2025, 12, 31, 17, 30, tzinfo=UTC), province=None)
    # 31 March 17:30 UTC is 1 April 00:30 in Vietnam: Q2.
    ticket_at(api, datetime(2026, 3, 31, 17, 30, tzinfo=UTC))


def sheet_rows(sheet: Any) -> dict[str, tuple[Any, ...]]:
    return {row[0]: row[1:] for row in sheet.iter_rows(min_row=2, values_only=True) if row[0]}


def test_quarter_report_as_xlsx_has_the_figures(api: Api) -> None:
    first_quarter_tickets(api)
    response = api.get("supervisor", "/api/v1/reports/2026/Q1")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert 'filename="bao-cao-2026-Q1.xlsx"' in response.headers["content-disposition"]
    assert response.headers["content-disposition"].startswith("attachment")

    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheets = LABELS.sheets
    assert book.sheetnames == [
        sheets[name]
        for name in ("summary", "period", "channel", "intent", "priority", "province", "agency")
    ]
    summary = {row[0]: row[1] for row in book[sheets["summary"]].iter_rows(values_only=True)}
    s = LABELS.summary
    assert summary[s["period"]] == "Quý I năm 2026"
    assert summary[s["from"]] == "01/01/2026"
    assert summary[s["to"]] == "31/03/2026"
    assert summary[s["tips_received"]] == 3
    assert summary[s["classified"]] == 3
    assert summary[s["resolved"]] == 1
    assert summary[s["resolution_rate"]] == pytest.approx(1 / 3, abs=1e-4)
    assert summary[s["resolution_target"]] == pytest.approx(0.9)
    assert summary[s["target_status"]] == s["target_not_met"]

    channels = sheet_rows(book[sheets["channel"]])
    assert channels["Zalo"] == (1, 1)
    assert channels["Telegram"] == (2, 0)
    months = sheet_rows(book[sheets["period"]])
    assert months == {"2026-01": (2, 0), "2026-02": (1, 1), "2026-03": (0, 0)}
    agencies = sheet_rows(book[sheets["agency"]])
    assert agencies["Công an"] == (2, 1)  # the configured agency name, not its code
    assert sheet_rows(book[sheets["province"]])[LABELS.values["unknown"]] == (1, 0)
    header = next(book[sheets["channel"]].iter_rows(max_row=1))
    assert header[0].value == LABELS.columns["key"]
    assert all(cell.font.bold for cell in header)


def test_csv_report_parses_and_opens_in_excel_as_utf8(api: Api) -> None:
    first_quarter_tickets(api)
    response = api.get("supervisor", "/api/v1/reports/2026/H1", params={"format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="bao-cao-2026-H1.csv"' in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    cols = LABELS.columns
    assert rows[0] == [cols["section"], cols["key"], cols["csv_value"], cols["resolved"]]
    assert all(len(row) == 4 for row in rows)
    table = {(row[0], row[1]): row[2:] for row in rows[1:]}
    summary, s = LABELS.sheets["summary"], LABELS.summary
    assert table[(summary, s["tips_received"])][0] == "4"  # H1 includes the 1 April ticket
    assert table[(summary, s["resolved"])][0] == "1"
    assert table[(LABELS.sheets["channel"], "Zalo")] == ["1", "1"]
    assert table[(LABELS.sheets["priority"], LABELS.values["P1"])] == ["1", "1"]
    assert len([key for key in table if key[0] == LABELS.sheets["period"]]) == 6


def test_report_reading_is_audited(api: Api) -> None:
    assert api.get("supervisor", "/api/v1/reports/2026/year").status_code == 200
    assert api.get("supervisor", "/api/v1/reports/2026/q2?format=csv").status_code == 200
    audit = api.get("supervisor", "/api/v1/audit", params={"action": "export"}).json()
    details = [(r["actor"], r["detail"]) for r in audit["items"]]
    assert details == [("supervisor", "2026 Q2 csv"), ("supervisor", "2026 year xlsx")]


def test_an_empty_period_is_a_report_with_no_data(api: Api) -> None:
    response = api.get("supervisor", "/api/v1/reports/2001/Q4")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    summary = {row[0]: row[1] for row in book[LABELS.sheets["summary"]].iter_rows(values_only=True)}
    s = LABELS.summary
    assert summary[s["tips_received"]] == 0
    assert summary[s["resolution_rate"]] == s["no_data"]
    assert summary[s["to"]] == "31/12/2001"
    assert 'filename="bao-cao-2001-Q4.xlsx"' in response.headers["content-disposition"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/reports/1999/Q1", "year"),
        ("/api/v1/reports/2101/year", "year"),
        ("/api/v1/reports/99999999999999999999999/Q1", "year"),
        ("/api/v1/reports/twenty/Q1", "year"),
        ("/api/v1/reports/2026/Q5", "period"),
        ("/api/v1/reports/2026/week", "period"),
        ("/api/v1/reports/2026/Q1?format=pdf", "format"),
    ],
)
def test_bad_year_period_or_format_is_a_422_naming_the_field(
    api: Api, url: str, field: str
) -> None:
    response = api.get("supervisor", url)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


def test_reports_are_for_supervisors_only(api: Api) -> None:
    for who in ("operator", "police", "admin"):
        assert api.get(who, "/api/v1/reports/2026/Q1").status_code == 403, who
    assert api.client.get("/api/v1/reports/2026/Q1").status_code == 401

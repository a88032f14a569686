"""The supervisors' dashboard and the report downloads: the same figures as the statistics
and reports of the API, over the tickets actually stored."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

from openpyxl import load_workbook
from sqlmodel import Session, select

from intake_api.models import AuditRecord
from intake_api.reports import load_labels
from intake_api.schemas import DISPLAY_ZONE
from tests.intake_api.console.conftest import Console
from tests.intake_api.test_stats import resolve


def figure(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert found, element_id
    return found.group(1).strip()


def test_the_dashboard_shows_the_statistics_of_the_api(console: Console) -> None:
    api = console.api
    done = api.new_ticket(priority="P1", category="request_rescue", channel="zalo")
    api.new_ticket(priority="P2", province="Hà Nội")
    api.new_ticket(priority="P3", category="out_of_scope", channel="sms")
    resolve(api, done["id"])
    html = console.sign_in("supervisor").get("/console/dashboard").text
    stats = api.get("supervisor", "/api/v1/stats").json()
    assert figure(html, "kpi-total") == str(stats["total"]) == "3"
    assert figure(html, "kpi-rate") == f"{stats['resolution']['rate'] * 100:.1f}%"
    assert figure(html, "kpi-breaches") == str(stats["sla"]["breaches"])
    assert "Chỉ tiêu 90%" in html and "chưa đạt" in html
    # Charts are drawn here, as SVG, with their figures as tables for screen readers.
    for chart in ("weeks", "priority", "channel", "intent", "province", "agency"):
        assert f'id="chart-{chart}"' in html, chart
    assert html.count("<svg") >= 7
    assert "<caption>Theo kênh</caption>" in html
    assert "<td>Zalo</td><td>1</td><td>1</td>" in html
    # This week's column holds the three tickets received and the one resolved.
    week_rows = re.findall(r"<tr><td>(\d\d/\d\d/\d{4})</td><td>(\d+)</td><td>(\d+)</td></tr>", html)
    assert week_rows[-1][1:] == ("3", "1")
    assert sum(int(n) for _, n, _ in week_rows) == 3


def test_the_range_can_be_chosen_and_nonsense_falls_back(console: Console) -> None:
    supervisor = console.sign_in("supervisor")
    thirty = supervisor.get("/console/dashboard", params={"range": "30"}).text
    year = supervisor.get("/console/dashboard", params={"range": "365"}).text
    weeks = r"<tr><td>\d\d/\d\d/\d{4}</td>"
    assert len(re.findall(weeks, thirty)) < len(re.findall(weeks, year))
    assert supervisor.get("/console/dashboard", params={"range": "9999"}).status_code == 200


def test_the_quarterly_report_downloads_with_the_numbers_of_the_tickets(
    console: Console,
) -> None:
    api = console.api
    done = api.new_ticket(channel="zalo")
    api.new_ticket(channel="sms")
    api.new_ticket(channel="sms")
    resolve(api, done["id"])
    now = datetime.now(DISPLAY_ZONE)
    quarter = f"Q{(now.month - 1) // 3 + 1}"
    supervisor = console.sign_in("supervisor")
    response = supervisor.get(
        "/console/reports", params={"year": str(now.year), "period": quarter, "format": "csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        f'attachment; filename="bao-cao-{now.year}-{quarter}.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    labels = load_labels()
    summary = {r[1]: r[2] for r in rows if r[0] == labels.sheets["summary"]}
    assert summary[labels.summary["tips_received"]] == "3"
    assert summary[labels.summary["resolved"]] == "1"
    channels = {r[1]: r[2] for r in rows if r[0] == labels.sheets["channel"]}
    assert channels["SMS"] == "2" and channels["Zalo"] == "1"
    # The same bytes as the API's download of the same report, but for the time stamp.
    api_csv = api.get(
        "supervisor", f"/api/v1/reports/{now.year}/{quarter}", params={"format": "csv"}
    )
    strip = re.compile(r"\d\d/\d\d/\d{4} \d\d:\d\d")
    assert strip.sub("", api_csv.content.decode()) == strip.sub("", response.content.decode())

    xlsx = supervisor.get(
        "/console/reports", params={"year": str(now.year), "period": "year", "format": "xlsx"}
    )
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    assert labels.sheets["summary"] in book.sheetnames
    with Session(api.engine) as session:
        exports = session.exec(
            select(AuditRecord).where(
                AuditRecord.action == "export", AuditRecord.actor == "supervisor"
            )
        ).all()
    # Console, API, console: every download is accountable, wherever it came from.
    assert [e.detail for e in exports] == [
        f"{now.year} {quarter} csv",
        f"{now.year} {quarter} csv",
        f"{now.year} year xlsx",
    ]


def test_a_report_request_that_makes_no_sense_is_a_page_not_a_crash(console: Console) -> None:
    supervisor = console.sign_in("supervisor")
    for params in (
        {"year": "2026", "period": "Q5", "format": "csv"},
        {"year": "1999", "period": "Q1", "format": "csv"},
        {"year": "20x6", "period": "Q1", "format": "csv"},
        {"year": "2026", "period": "Q1", "format": "pdf"},
        {},
    ):
        response = supervisor.get("/console/reports", params=params)
        assert response.status_code == 422, params
        assert "Không lập được báo cáo" in response.text

"""The periodic reports (quarter, half-year, year) as .xlsx and .csv for provincial programmes.

A report is the statistics of `intake_api.stats` over the tickets created in the period, the
period taken in Asia/Ho_Chi_Minh local time. Everything a staff member reads (sheet titles,
headers, row labels) comes from `report_labels.toml`, so wording changes need no code change.
"""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import Session

from intake_api.config import Settings
from intake_api.identity import Caller
from intake_api.schemas import DISPLAY_ZONE
from intake_api.stats import CountRow, Grouping, StatsOut, compute_stats
from intake_api.tickets import TicketFilters

LABELS_FILE = Path(__file__).with_name("report_labels.toml")
MIN_YEAR, MAX_YEAR = 2000, 2100
# Period code → (first month, number of months).
PERIODS: dict[str, tuple[int, int]] = {
    "Q1": (1, 3),
    "Q2": (4, 3),
    "Q3": (7, 3),
    "Q4": (10, 3),
    "H1": (1, 6),
    "H2": (7, 6),
    "year": (1, 12),
}
BREAKDOWNS = ("period", "channel", "intent", "priority", "province", "agency")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
# A cell starting with one of these is a formula to Excel; data must never run as one.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class BadPeriod(ValueError):
    """The year or period of a report request is not one we report on (422)."""


@dataclass(frozen=True)
class ReportPeriod:
    year: int
    code: str
    start: datetime  # local, inclusive
    end: datetime  # local, exclusive

    @property
    def slug(self) -> str:
        return f"{self.year}" if self.code == "year" else f"{self.year}-{self.code}"

    def filename(self, fmt: str) -> str:
        return f"bao-cao-{self.slug}.{fmt}"


def parse_period(year: int, code: str) -> ReportPeriod:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise BadPeriod(f"year: give a year from {MIN_YEAR} to {MAX_YEAR}, e.g. 2026.")
    # Staff type "q1" or "Year" as often as "Q1"; accept any case.
    normal = code.upper() if code.lower() != "year" else "year"
    if normal not in PERIODS:
        raise BadPeriod("period: use one of Q1, Q2, Q3, Q4, H1, H2 or year.")
    first_month, months = PERIODS[normal]
    start = datetime(year, first_month, 1, tzinfo=DISPLAY_ZONE)
    after = first_month - 1 + months
    end = datetime(year + after // 12, after % 12 + 1, 1, tzinfo=DISPLAY_ZONE)
    return ReportPeriod(year=year, code=normal, start=start, end=end)


def report_stats(
    session: Session, settings: Settings, caller: Caller, period: ReportPeriod
) -> StatsOut:
    filters = TicketFilters(created_from=period.start, created_to=period.end)
    return compute_stats(
        session, settings, caller, filters, Grouping.month, span=(period.start, period.end)
    )


# --- labels --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Labels:
    sheets: dict[str, str]
    columns: dict[str, str]
    summary: dict[str, str]
    periods: dict[str, str]
    values: dict[str, str]

    def value(self, key: str) -> str:
        return self.values.get(key, key)


_SHEET_FORBIDDEN = set(":\\/?*[]")
_SUMMARY_KEYS = (
    "title", "period", "from", "to", "generated_at", "tips_received", "classified", "resolved",
    "counted_for_rate", "resolution_rate", "resolution_target", "target_status", "target_met",
    "target_not_met", "no_data", "responded", "median_first_response", "p90_first_response",
    "sla_breaches", "calls_received", "calls_classified", "calls_answered", "calls_missed",
)  # fmt: skip


@lru_cache
def load_labels(path: Path = LABELS_FILE) -> Labels:
    with path.open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
    labels = Labels(
        sheets=dict(data.get("sheets", {})),
        columns=dict(data.get("columns", {})),
        summary=dict(data.get("summary", {})),
        periods=dict(data.get("periods", {})),
        values=dict(data.get("values", {})),
    )
    required = {
        "sheets": ("summary", *BREAKDOWNS),
        "columns": ("section", "key", "tickets", "resolved", "metric", "value", "csv_value"),
        "summary": _SUMMARY_KEYS,
        "periods": tuple(PERIODS),
    }
    missing = [
        f"{table}.{key}"
        for table, keys in required.items()
        for key in keys
        if key not in getattr(labels, table)
    ]
    if missing:
        raise ValueError(f"{path}: missing labels {', '.join(missing)}")
    for code, text in labels.periods.items():
        try:
            text.format(year=2000)
        except (KeyError, IndexError, ValueError):
            raise ValueError(f"{path}: periods.{code} may use only {{year}}") from None
    for name, title in labels.sheets.items():
        # Checked at load so a bad edit fails at start-up, not when a supervisor downloads.
        if len(title) > 31 or _SHEET_FORBIDDEN & set(title):
            raise ValueError(f"{path}: sheets.{name} is not a valid Excel sheet title")
    return labels


def _summary_rows(
    stats: StatsOut, period: ReportPeriod, labels: Labels
) -> list[tuple[str, Any, str | None]]:
    """(label, value, number format) for the summary; a value of None is shown as 'no data'."""
    s = labels.summary
    resolution, first = stats.resolution, stats.first_response
    if resolution.target_met is None:
        verdict = s["no_data"]
    else:
        verdict = s["target_met"] if resolution.target_met else s["target_not_met"]
    last_day = (period.end - timedelta(days=1)).date()
    generated = stats.generated_at.astimezone(DISPLAY_ZONE).strftime("%d/%m/%Y %H:%M")
    return [
        (s["period"], labels.periods[period.code].format(year=period.year), None),
        (s["from"], period.start.date().strftime("%d/%m/%Y"), None),
        (s["to"], last_day.strftime("%d/%m/%Y"), None),
        (s["generated_at"], generated, None),
        (s["tips_received"], stats.total, "0"),
        (s["classified"], stats.classified, "0"),
        (s["resolved"], resolution.resolved, "0"),
        (s["counted_for_rate"], resolution.counted, "0"),
        (s["resolution_rate"], resolution.rate, "0.0%"),
        (s["resolution_target"], resolution.target, "0%"),
        (s["target_status"], verdict, None),
        (s["responded"], first.responded, "0"),
        (s["median_first_response"], first.median_minutes, "0.0"),
        (s["p90_first_response"], first.p90_minutes, "0.0"),
        (s["sla_breaches"], stats.sla.breaches, "0"),
        (s["calls_received"], stats.calls.received, "0"),
        (s["calls_classified"], stats.calls.classified, "0"),
        (s["calls_answered"], stats.calls.answered, "0"),
        (s["calls_missed"], stats.calls.missed, "0"),
    ]


def _breakdown(stats: StatsOut, name: str, settings: Settings, labels: Labels) -> list[CountRow]:
    rows: list[CountRow] = getattr(stats, f"by_{name}")
    agency_names = {a.code: a.name for a in settings.agencies}
    shown = []
    for row in rows:
        key = agency_names.get(row.key, row.key) if name == "agency" else labels.value(row.key)
        shown.append(CountRow(key=key, tickets=row.tickets, resolved=row.resolved))
    return shown


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# --- xlsx ----------------------------------------------------------------------------------


def to_xlsx(stats: StatsOut, period: ReportPeriod, settings: Settings) -> bytes:
    labels = load_labels()
    cols = labels.columns
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = labels.sheets["summary"]
    summary.append([_safe(labels.summary["title"])])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([])
    _header(summary, [cols["metric"], cols["value"]])
    for label, value, number_format in _summary_rows(stats, period, labels):
        shown = labels.summary["no_data"] if value is None else value
        summary.append([_safe(label), _safe(shown)])
        if value is not None and number_format:
            summary.cell(row=summary.max_row, column=2).number_format = number_format
    _widths(summary, [64, 28])

    for name in BREAKDOWNS:
        sheet = book.create_sheet(labels.sheets[name])
        _header(sheet, [cols["key"], cols["tickets"], cols["resolved"]])
        for row in _breakdown(stats, name, settings, labels):
            sheet.append([_safe(row.key), row.tickets, row.resolved])
        sheet.freeze_panes = "A2"
        _widths(sheet, [44, 16, 16])

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _header(sheet: Worksheet, titles: list[str]) -> None:
    sheet.append([_safe(t) for t in titles])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)


def _widths(sheet: Worksheet, widths: list[int]) -> None:
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


# --- csv -----------------------------------------------------------------------------------


def to_csv(stats: StatsOut, period: ReportPeriod, settings: Settings) -> bytes:
    """One table: section, key, value, resolved. Summary rows carry their figure in the third
    column (a count or a rate) and leave the fourth empty; breakdown rows carry ticket and
    resolved counts. Rates are plain decimals so a spreadsheet can compute with them."""
    labels = load_labels()
    cols = labels.columns
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([cols["section"], cols["key"], cols["csv_value"], cols["resolved"]])
    section = labels.sheets["summary"]
    for label, value, _fmt in _summary_rows(stats, period, labels):
        writer.writerow([_safe(section), _safe(label), _safe("" if value is None else value), ""])
    for name in BREAKDOWNS:
        section = labels.sheets[name]
        for row in _breakdown(stats, name, settings, labels):
            writer.writerow([_safe(section), _safe(row.key), row.tickets, row.resolved])
    # The BOM is what makes Excel read the file as UTF-8 rather than the local code page.
    return "\ufeff".encode() + text.getvalue().encode("utf-8")

"""Staff in a real browser: the console served by `hotline serve`'s combined app, driven in
headless Chromium with Playwright, while a person writes in the web chat next to it.

One working day in order: the admin creates an operator; a rescue message arrives from the web
chat and the operator's open queue shows it without a reload, on top, highlighted, with the P1
sound; the operator claims it, replies (the reply reaches the web chat page) and refers it to
DOLISA; someone else who has the ticket's code writes from another web-chat session and the
queue and the ticket show it as from another sender, with nothing else on the ticket changed; a
DOLISA officer accepts and resolves it; a police officer cannot open a DOLISA-only ticket; a
supervisor downloads the quarterly report and its figures are the tickets in the database; the
admin disables the police officer's account, whose open session ends; the queue works on a
360-px phone. Screenshots land in var/screenshots/.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.config import BotSettings
from bot.server import combined_app
from intake_api.config import Settings
from intake_api.crypto import get_cipher
from intake_api.identity import Caller
from intake_api.intake import create_ticket
from intake_api.models import Ticket, User
from intake_api.reports import load_labels, parse_period
from intake_api.schemas import DISPLAY_ZONE, IntakeIn
from intake_api.users import create_user
from intake_api.workflow import queue_reply, record_delivery
from tests.conftest import in_ci
from tests.intake_api.conftest import PASSWORD, make_settings
from tests.local_http import ServedApp

# The deployment's agencies, which an agency account is checked against.
AGENCIES = ["police", "dolisa", "border_guard", "coast_guard", "commune", "womens_union"]
CHROMIUM = os.environ.get("HOTLINE_TEST_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# People held right now, about to be moved: P1, and routed by triage to the police alone, so
# the operator has DOLISA to refer it to (a request_rescue is routed to both already).
RESCUE_MESSAGE = "tôi thấy người ta đang giam giữ mấy cô gái ở Móng Cái, sắp đưa qua biên giới"
# Someone holding the code who is not the reporter tries to call the rescue off (as in
# tests/bot/messaging/test_service.py): staff must see who wrote it, and nothing may change.
CALL_OFF = "em về nhà rồi, các anh không cần liên lạc nữa"
pytestmark = pytest.mark.slow
_keys = itertools.count()


@dataclass
class Site:
    url: str
    engine: Engine
    settings: Settings


def file_ticket(
    site: Site,
    *,
    priority: str = "P2",
    category: str = "report_trafficking",
    agencies: tuple[str, ...] = ("police",),
    channel: str = "telegram",
    province: str | None = "Nghệ An",
    text: str = "nhà bên cạnh có người hay dẫn các cô gái trẻ sang Trung Quốc lấy chồng",
    age_days: float = 0,
) -> Ticket:
    """A ticket as the bot files it (the same domain call), created `age_days` ago."""
    body = IntakeIn.model_validate(
        {
            "channel": channel,
            "reporter": {"channel_user_id": f"{channel}-{next(_keys)}", "consent_to_contact": True},
            "transcript": [{"direction": "in", "text": text}],
            "nlu": {"text": text, "intent": {"name": category, "confidence": 0.9}, "entities": []},
            "triage": {"priority": priority, "category": category, "agencies": list(agencies)},
            "province": province,
        }
    )
    with Session(site.engine, expire_on_commit=False) as session:
        ticket, _ = create_ticket(
            session,
            site.settings,
            get_cipher(),
            body,
            f"seed-{next(_keys):05d}",
            caller(site, "bot"),
        )
        if age_days:
            created = datetime.now(UTC) - timedelta(days=age_days)
            ticket.created_at = created
            ticket.due_at = created + timedelta(hours=site.settings.service_levels_hours[priority])
            session.add(ticket)
            session.commit()
    return ticket


def caller(site: Site, username: str) -> Caller:
    with Session(site.engine) as session:
        return Caller.of(session.exec(select(User).where(User.username == username)).one())


@pytest.fixture
def site(engine: Engine, tmp_path: Path) -> Iterator[Site]:  # type: ignore[no-untyped-def]
    if engine.dialect.name != "sqlite":
        pytest.skip("one backend is enough to drive the pages")
    if not Path(CHROMIUM).exists():
        if in_ci():
            pytest.fail(f"Chromium not found at {CHROMIUM}; CI installs it (.ci/run)")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    settings = make_settings(tmp_path, console_poll_seconds=1.0)
    with Session(engine) as session:
        create_user(session, "admin", PASSWORD, ["admin"], full_name="Quản trị viên")
        create_user(
            session, "hoa", PASSWORD, ["dolisa"], full_name="Trần Thị Hoa", agencies=AGENCIES
        )
        create_user(
            session, "minh", PASSWORD, ["police"], full_name="Lê Văn Minh", agencies=AGENCIES
        )
        create_user(session, "thu", PASSWORD, ["supervisor"], full_name="Phạm Thu")
    app = combined_app(settings, BotSettings(reply_poll_seconds=0.5), engine)
    served = ServedApp(app).start()
    yield Site(url=served.url, engine=engine, settings=settings)
    served.stop()


def seed(site: Site) -> dict[str, Ticket]:
    """A few weeks of work, so the queue and the dashboard look like a real desk."""
    made = {
        "dolisa_only": file_ticket(
            site,
            category="request_support",
            agencies=("dolisa",),
            channel="zalo",
            province="Hà Tĩnh",
            text="em mới về nước, cần hỗ trợ học nghề",
            age_days=3,
        ),
        "failed_reply": file_ticket(site, province="Lào Cai", age_days=1.2),
        "sms": file_ticket(
            site, priority="P3", category="check_offer", channel="sms", age_days=0.3,
            province="Thành phố Hồ Chí Minh", text="cong ty tuyen lao dong di Nhat co that khong",
        ),
    }  # fmt: skip
    for weeks_ago, channel, province in [
        (1, "zalo", "Hà Nội"),
        (2, "telegram", "Nghệ An"),
        (3, "webchat", "An Giang"),
        (5, "sms", "Quảng Ninh"),
    ]:
        file_ticket(
            site, channel=channel, province=province, category="report_missing",
            age_days=weeks_ago * 7 + 1,
        )  # fmt: skip
    # A reply that could not be delivered: the queue must flag it.
    with Session(site.engine, expire_on_commit=False) as session:
        ticket = session.get(Ticket, made["failed_reply"].id)
        assert ticket is not None
        reply = queue_reply(session, caller(site, "thu"), ticket, "Chúng tôi đã nhận tin.")
        reply.state = "sending"  # the bot claimed it, then the platform refused it
        session.add(reply)
        session.commit()
        record_delivery(session, caller(site, "bot"), reply.id, False, "blocked by the user")  # type: ignore[arg-type]
    return made


def sign_in(page: Any, site: Site, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{site.url}/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def sign_out(page: Any) -> None:
    page.click("form.signout button")
    page.wait_for_selector("#login-title")


def no_horizontal_scroll(page: Any) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth"
            " && document.body.scrollWidth <= window.innerWidth"
        )
    )


def eventually(page: Any, expression: str, seconds: float = 5.0) -> Any:
    """The expression's value once it has one. Evaluated from outside the page: the console's
    Content-Security-Policy (no eval) stays on, as in production."""
    deadline = time.monotonic() + seconds
    while (value := page.evaluate(expression)) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def shot(page: Any, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def report_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_a_day_at_the_console(site: Site) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    seeded = seed(site)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            run_the_day(browser, site, seeded)
        finally:
            browser.close()


def run_the_day(browser: Any, site: Site, seeded: dict[str, Ticket]) -> None:
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    staff = desk.new_page()

    # The first page says how to begin; the admin creates the operator's account there.
    staff.goto(f"{site.url}/console")
    assert "/console/login" in staff.url and "make run" in staff.content()
    shot(staff, "login")
    sign_in(staff, site, "admin")
    assert staff.url.endswith("/console/admin")
    staff.fill("#n-username", "lan")
    staff.fill("#n-fullname", "Nguyễn Thị Lan")
    staff.fill("#n-password", "mat-khau-cua-lan-2026")
    staff.check("input[name=roles][value=operator]")
    staff.click("#create-user")
    staff.wait_for_selector("#user-lan")
    shot(staff, "admin")
    sign_out(staff)

    # The operator's queue is open when the rescue message comes in.
    sign_in(staff, site, "lan", "mat-khau-cua-lan-2026")
    assert staff.url.rstrip("/").endswith("/console")
    staff.wait_for_selector("#queue-rows tr[data-id]")
    before = staff.locator("#queue-rows tr[data-id]").count()
    assert staff.locator("tr.has-flags .flag-failed").count() == 1

    person = browser.new_context(viewport={"width": 420, "height": 800}).new_page()
    person.goto(f"{site.url}/chat")
    person.fill("#text", RESCUE_MESSAGE)
    person.press("#text", "Enter")
    answer = person.locator(".msg.bot", has_text="TIP-").first
    answer.wait_for(timeout=20_000)
    answer = answer.inner_text()
    code = next(word.strip(".,:;()") for word in answer.split() if word.startswith("TIP-"))

    arrived = staff.locator("#queue-rows tr.arrived", has_text=code)
    arrived.wait_for(timeout=15_000)  # no reload: the page's own refresh brought it
    first_row = staff.locator("#queue-rows tr[data-id]").first
    assert code in first_row.inner_text()
    assert "prio-row-P1" in (first_row.get_attribute("class") or "")
    assert staff.locator("#queue-rows tr[data-id]").count() == before + 1
    staff.wait_for_selector("#arrivals:not([hidden])")
    assert code in staff.locator("#arrivals").inner_text()
    # The sound was played, or the browser asked for a click first (then the page says so).
    assert eventually(staff, "document.body.dataset.sound") in ("played", "blocked")
    shot(staff, "queue")

    # The operator opens it, claims it and answers the person.
    staff.click(f"#queue-rows a:has-text('{code}')")
    staff.wait_for_selector(".chat .msg-reporter")
    assert "Móng Cái" in staff.locator(".chat .msg-reporter").first.inner_text()
    assert "Móng Cái" in staff.locator("table.entities").inner_text()
    staff.click("#claim")
    staff.wait_for_selector(".flash-ok")
    assert staff.locator("#assignee").inner_text() == "lan"
    reply_text = "Chúng tôi đã báo công an, giữ máy bên mình nhé."
    staff.fill("#reply-text", reply_text)
    staff.click("form.reply button[type=submit]")
    staff.wait_for_selector(".chat .msg-staff")
    # The bot delivers it to the web chat; the ticket page follows the delivery state.
    person.locator(".msg.bot", has_text=reply_text).wait_for(timeout=20_000)
    staff.wait_for_selector(".chat .msg-staff .delivery-delivered", timeout=20_000)
    staff.evaluate("window.scrollTo(0, 0)")
    shot(staff, "ticket")
    ticket_url = staff.url.split("?")[0]
    heading = staff.locator("h1").inner_text()
    another_sender_writes(browser, site, staff, code, ticket_url, heading)

    staff.select_option("#refer-to", "dolisa")
    staff.fill("#refer-reason", "Nạn nhân cần hỗ trợ tâm lý và nơi ở tạm sau khi về nước.")
    staff.click("form[action$='/referrals'] button[type=submit]")
    staff.wait_for_selector(".flash-ok")
    assert "Đang chuyển cơ quan khác" in staff.locator("h1").inner_text()
    sign_out(staff)

    # DOLISA accepts the referral and resolves the case.
    sign_in(staff, site, "hoa")
    staff.wait_for_selector(f"#queue-rows a:has-text('{code}')")
    staff.goto(ticket_url)
    staff.click("form.decide button.primary")
    staff.wait_for_selector(".flash-ok")
    assert "Đã tiếp nhận" in staff.locator("h1").inner_text()
    staff.select_option("#status-to", "in_progress")
    staff.click("form[action$='/status'] button[type=submit]")
    staff.wait_for_selector(".flash-ok")
    staff.select_option("#status-to", "resolved")
    staff.click("form[action$='/status'] button[type=submit]")
    staff.wait_for_selector(".flash-ok")
    assert "Đã giải quyết" in staff.locator("h1").inner_text()
    sign_out(staff)

    # Police cannot open a DOLISA-only ticket: the same page as a ticket that does not exist.
    sign_in(staff, site, "minh")
    response = staff.goto(f"{site.url}/console/tickets/{seeded['dolisa_only'].id}")
    assert response is not None and response.status == 404
    assert "Không tìm thấy tin báo" in staff.locator("h1").inner_text()
    assert seeded["dolisa_only"].reference_code not in staff.content()
    sign_out(staff)

    # The supervisor's dashboard and the quarterly report.
    sign_in(staff, site, "thu")
    staff.goto(f"{site.url}/console/dashboard")
    staff.wait_for_selector("#chart-weeks svg")
    shot(staff, "dashboard")
    now = datetime.now(DISPLAY_ZONE)
    quarter = f"Q{(now.month - 1) // 3 + 1}"
    staff.select_option("#r-year", str(now.year))
    staff.select_option("#r-period", quarter)
    staff.select_option("#r-format", "csv")
    with staff.expect_download() as download_info:
        staff.click("#download-report")
    download = download_info.value
    content = Path(download.path()).read_bytes()
    assert download.suggested_filename == f"bao-cao-{now.year}-{quarter}.csv"
    check_report(site, report_rows(content), now.year, quarter)
    sign_out(staff)

    # The admin disables the police officer's account while it is signed in elsewhere.
    officer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(officer, site, "minh")
    assert officer.url.rstrip("/").endswith("/console")
    sign_in(staff, site, "admin")
    staff.click("#user-minh details.account-access summary")
    assert staff.is_checked("#user-minh form.disable-user input[name=revoke]")
    staff.click("#user-minh form.disable-user button[type=submit]")
    staff.wait_for_selector(".flash-ok")
    assert "đã khoá" in staff.locator("#user-minh").inner_text()
    assert staff.locator("#user-admin form.disable-user").count() == 0  # never one's own
    officer.reload()
    assert "/console/login" in officer.url  # the open session ended at its next request
    sign_in(officer, site, "minh")
    assert "/console/login" in officer.url
    assert "Sai tên đăng nhập hoặc mật khẩu" in officer.locator(".flash-err").inner_text()
    with Session(site.engine) as session:
        minh = session.exec(select(User).where(User.username == "minh")).one()
    assert minh.active is False
    officer.context.close()
    sign_out(staff)
    desk.close()

    # The operator on a phone in the field: 360 px, no sideways scrolling, sound off.
    phone = browser.new_context(
        viewport={"width": 360, "height": 780}, device_scale_factor=2, is_mobile=True,
        has_touch=True,
    )  # fmt: skip
    mobile = phone.new_page()
    sign_in(mobile, site, "lan", "mat-khau-cua-lan-2026")
    mobile.wait_for_selector("#queue-rows tr[data-id]")
    assert no_horizontal_scroll(mobile)
    mobile.click("#sound-toggle")
    mobile.reload()
    assert mobile.get_attribute("#sound-toggle", "aria-pressed") == "false"  # remembered
    urgent = file_ticket(site, priority="P1", category="request_rescue", channel="zalo")
    mobile.locator("#queue-rows tr.arrived", has_text=urgent.reference_code).wait_for(
        timeout=15_000
    )
    assert eventually(mobile, "document.body.dataset.sound") == "muted"
    assert no_horizontal_scroll(mobile)
    shot(mobile, "phone", full_page=False)  # what the screen shows
    mobile.click(f"#queue-rows a:has-text('{urgent.reference_code}')")
    mobile.wait_for_selector(".chat")
    assert no_horizontal_scroll(mobile)
    shot(mobile, "phone-ticket")
    phone.close()


def another_sender_writes(
    browser: Any, site: Site, staff: Any, code: str, ticket_url: str, heading: str
) -> None:
    """A second web-chat session (another browser, not the reporter) asks about the code and
    adds a message: the operator's open queue flags the ticket without a reload, and the ticket
    page marks the message as from another sender and shows the ticket as it was."""
    staff.goto(f"{site.url}/console")
    row = staff.locator("#queue-rows tr[data-id]", has_text=code)
    row.wait_for()
    assert row.locator(".flag-sender").count() == 0
    stranger = browser.new_context(viewport={"width": 420, "height": 800}).new_page()
    stranger.goto(f"{site.url}/chat")
    stranger.fill("#text", f"mã {code} sao rồi")
    stranger.press("#text", "Enter")
    stranger.locator(".msg.bot", has_text=code).first.wait_for(timeout=20_000)
    stranger.fill("#text", CALL_OFF)
    stranger.press("#text", "Enter")
    stranger.locator(".msg.bot", has_text="Đã chuyển thêm thông tin").wait_for(timeout=20_000)
    stranger.context.close()

    row.locator(".flag-sender").wait_for(timeout=15_000)  # the queue's own refresh
    staff.click(f"#queue-rows a:has-text('{code}')")
    staff.wait_for_selector(".chat .msg-another")
    assert staff.url.split("?")[0] == ticket_url
    marked = staff.locator(".chat .msg-another")
    assert marked.count() == 1 and CALL_OFF in marked.inner_text()
    assert marked.locator(".flag-sender").count() == 1
    reporter = staff.locator(".chat .msg-reporter").first
    assert "Móng Cái" in reporter.inner_text()
    assert "msg-another" not in (reporter.get_attribute("class") or "")
    # Heard, and trusted with nothing: status, priority and assignee are as they were.
    assert staff.locator("h1").inner_text() == heading
    assert staff.locator("#assignee").inner_text() == "lan"
    with Session(site.engine) as session:
        ticket = session.exec(select(Ticket).where(Ticket.reference_code == code)).one()
    assert ticket.other_sender is True and ticket.priority == "P1"


def check_report(site: Site, rows: list[list[str]], year: int, quarter: str) -> None:
    """The report's figures against the tickets themselves, counted here in Python."""
    period = parse_period(year, quarter)
    with Session(site.engine) as session:
        tickets = [
            t
            for t in session.exec(select(Ticket)).all()
            if period.start <= t.created_at.astimezone(DISPLAY_ZONE) < period.end
        ]
    labels = load_labels()
    summary = {row[1]: row[2] for row in rows if row[0] == labels.sheets["summary"]}
    assert int(summary[labels.summary["tips_received"]]) == len(tickets)
    resolved = sum(t.status == "resolved" for t in tickets)
    assert resolved >= 1  # the case DOLISA closed today
    assert int(summary[labels.summary["resolved"]]) == resolved
    by_channel = {
        row[1]: int(row[2]) for row in rows if row[0] == labels.sheets["channel"] and row[2]
    }
    for channel in {t.channel for t in tickets}:
        expected = sum(t.channel == channel for t in tickets)
        assert by_channel[labels.value(channel)] == expected, channel
    assert sum(by_channel.values()) == len(tickets)

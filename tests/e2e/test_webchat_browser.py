"""A person in a real browser: the web chat page served by `hotline serve`'s app, driven in
headless Chromium with Playwright, until the ticket exists in the API."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.config import BotSettings
from bot.server import combined_app
from intake_api.models import Ticket
from tests.conftest import in_ci
from tests.intake_api.conftest import make_settings
from tests.local_http import ServedApp

CHROMIUM = os.environ.get("HOTLINE_TEST_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
pytestmark = pytest.mark.slow


@pytest.fixture
def server(engine, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if engine.dialect.name != "sqlite":
        pytest.skip("one backend is enough to drive the page")
    served = ServedApp(combined_app(make_settings(tmp_path), BotSettings(), engine)).start()
    yield served.url
    served.stop()


def test_person_chats_in_the_page_and_the_ticket_appears(
    server: str, engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        if in_ci():
            pytest.fail(f"Chromium not found at {CHROMIUM}; CI installs it (.ci/run)")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page()
            page.goto(f"{server}/chat")
            page.fill("#text", "cứu em với, em bị nhốt ở Campuchia")
            page.press("#text", "Enter")
            page.wait_for_selector(".msg.bot", timeout=20_000)
            first = page.locator(".msg.bot").first.inner_text()
            assert "113" in first and "TIP-" in first
            page.screenshot(path=str(tmp_path / "webchat.png"))
        finally:
            browser.close()
    with Session(engine) as session:
        (ticket,) = session.exec(select(Ticket)).all()
    assert ticket.channel == "webchat" and ticket.priority == "P1"
    assert ticket.reference_code in first


def test_after_erasing_the_page_clears_and_a_second_rescue_still_shows_its_answer(
    server: str, engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        if in_ci():
            pytest.fail(f"Chromium not found at {CHROMIUM}; CI installs it (.ci/run)")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.goto(f"{server}/chat")
            page.fill("#text", "cứu em với, em bị nhốt ở Campuchia")
            page.press("#text", "Enter")
            page.wait_for_selector(".msg.bot", timeout=20_000)
            page.fill("#text", "xoa")
            page.press("#text", "Enter")
            # Only the erase confirmation is left: the rescue and the person's words are gone.
            page.wait_for_function(
                "document.querySelectorAll('.msg').length === 1"
                " && !document.body.innerText.includes('Campuchia')",
                timeout=20_000,
            )
            page.fill("#text", "cứu em, họ đang đánh em")
            page.press("#text", "Enter")
            page.wait_for_function(
                "[...document.querySelectorAll('.msg.bot')].some("
                "m => m.innerText.includes('113') && m.innerText.includes('TIP-'))",
                timeout=20_000,
            )
            page.screenshot(path=str(tmp_path / "webchat-after-erase.png"))
        finally:
            browser.close()
    with Session(engine) as session:
        codes = {t.reference_code for t in session.exec(select(Ticket)).all()}
    assert len(codes) == 2

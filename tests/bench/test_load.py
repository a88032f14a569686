"""bench/load.py's count of replies received twice: a copy of a reply the bot had recorded as
sent is a duplicate (what the issue forbids); a copy of a reply still unconfirmed when it arrived
is a repeat of at-least-once delivery, shown apart and not counted as a duplicate."""

from __future__ import annotations

from types import SimpleNamespace

from bench import load
from intake_api.crypto import PersonalDataCipher, generate_key
from tests.faults.evidence import Outgoing, Stored
from tests.faults.platforms import Delivery
from tests.faults.reporters import Reporter

REPLY = "Chào bạn, đây là đường dây nóng."


def _case(sent_at: float | None, copies: list[tuple[str, float]]) -> load.Figures:
    cipher = PersonalDataCipher([generate_key()], "bench-load-test")
    reporter = Reporter(1, "telegram", "greeting", ["xin chào"])
    stored = Stored(cipher)
    stored.conversations[cipher.blind_index("conversation", "telegram", reporter.address)] = "c1"
    stored.outgoing["c1"] = [
        Outgoing(
            id=7,
            conversation_id="c1",
            text=REPLY,
            state="sent" if sent_at is not None else "pending",
            platform_message_id="101",
            attempts=2,
            created_at=100.0,
            sent_at=sent_at,
            last_error="timed out",
        )
    ]
    received = [
        Delivery("telegram", reporter.address, REPLY, platform_id, at, True)
        for platform_id, at in copies
    ]
    run = SimpleNamespace(window=(100.0, 110.0), sent=[], reporters=[reporter])
    return load.measure("postgres", run, stored, {("telegram", reporter.address): received})  # type: ignore[arg-type]


def test_a_copy_arriving_after_the_reply_was_recorded_as_sent_is_a_duplicate() -> None:
    figures = _case(sent_at=101.0, copies=[("101", 100.5), ("102", 103.0)])
    assert figures.duplicated_replies == 1
    assert figures.repeated_replies == 0
    assert any("recorded as sent reached the person again" in p for p in figures.problems)


def test_a_copy_of_a_reply_not_yet_confirmed_is_a_repeat_not_a_duplicate() -> None:
    # The first try timed out although Telegram had the message (100.5); the second try's
    # answer was recorded (101.0, id 101).
    figures = _case(sent_at=101.0, copies=[("100", 100.5), ("101", 100.9)])
    assert figures.duplicated_replies == 0
    assert figures.repeated_replies == 1
    assert any("2 tries, timed out" in p for p in figures.problems)
    assert "not counted as duplicated): 1" in load.details(figures)


def test_one_copy_is_neither() -> None:
    figures = _case(sent_at=101.0, copies=[("101", 100.5)])
    assert (figures.duplicated_replies, figures.repeated_replies) == (0, 0)
    assert figures.problems == []

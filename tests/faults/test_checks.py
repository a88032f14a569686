"""The fault tests' own checks, on hand-made records: each must catch what it is there for
(a check that cannot fail would let every fault test pass)."""

from __future__ import annotations

from intake_api.crypto import PersonalDataCipher, generate_key
from tests.faults.checks import examine
from tests.faults.evidence import (
    Inbound,
    Outgoing,
    Stored,
    codes_in,
    delivered,
    duplicates_after_confirmation,
    out_of_order,
)
from tests.faults.platforms import Delivery


def row(
    id: int, text: str, created: float, sent: float | None, platform_id: str | None
) -> Outgoing:
    return Outgoing(
        id=id,
        conversation_id="c1",
        text=text,
        state="sent" if sent is not None else "pending",
        platform_message_id=platform_id,
        attempts=1,
        created_at=created,
        sent_at=sent,
        last_error=None,
    )


def got(text: str, at: float, platform_id: str, confirmed: bool = True) -> Delivery:
    return Delivery("telegram", "42", text, platform_id, at, confirmed)


def test_a_copy_sent_after_the_bot_recorded_the_first_is_a_duplicate() -> None:
    rows = [row(1, "Hãy gọi ngay 113", created=1.0, sent=2.0, platform_id="m1")]
    deliveries = [got("Hãy gọi ngay 113", 1.9, "m1"), got("Hãy gọi ngay 113", 5.0, "m2")]
    assert duplicates_after_confirmation(deliveries, rows) == [deliveries[1]]


def test_a_copy_the_bot_never_heard_of_before_its_record_is_at_least_once() -> None:
    # Killed after the platform delivered m1, before recording it; the restart sent m2.
    rows = [row(1, "Hãy gọi ngay 113", created=1.0, sent=40.0, platform_id="m2")]
    deliveries = [got("Hãy gọi ngay 113", 1.5, "m1"), got("Hãy gọi ngay 113", 39.9, "m2")]
    assert duplicates_after_confirmation(deliveries, rows) == []


def test_the_same_words_written_twice_may_arrive_twice_but_not_three_times() -> None:
    rows = [
        row(1, "Bạn cần giúp gì?", created=1.0, sent=2.0, platform_id="m1"),
        row(2, "Bạn cần giúp gì?", created=10.0, sent=11.0, platform_id="m2"),
    ]
    twice = [got("Bạn cần giúp gì?", 1.9, "m1"), got("Bạn cần giúp gì?", 10.9, "m2")]
    assert duplicates_after_confirmation(twice, rows) == []
    # Between the first's record and the second's writing, a copy belongs to neither.
    stray = got("Bạn cần giúp gì?", 5.0, "m3")
    assert duplicates_after_confirmation([*twice, stray], rows) == [stray]


def test_a_later_reply_arriving_first_is_out_of_order() -> None:
    rows = [
        row(1, "Hãy gọi ngay 113", created=1.0, sent=9.0, platform_id="m2"),
        row(2, "Nếu điện thoại có thể bị kiểm tra", created=1.0, sent=2.0, platform_id="m1"),
    ]
    note = "Nếu điện thoại có thể bị kiểm tra"
    assert out_of_order([got(note, 1.9, "m1"), got("Hãy gọi ngay 113", 8.9, "m2")], rows) == [2]
    assert out_of_order([got("Hãy gọi ngay 113", 1.5, "m2"), got(note, 1.9, "m1")], rows) == []


def test_a_late_resend_of_an_earlier_reply_is_not_a_copy_of_a_later_one_of_the_same_text() -> None:
    # "Cảm ơn bạn" twice in one conversation; the first one's re-send after a crash (recorded
    # as its own) arrives after the second was written, before the reply written in between.
    rows = [
        row(1, "Cảm ơn bạn", created=1.0, sent=6.0, platform_id="m3"),
        row(2, "Bạn ở tỉnh nào?", created=2.0, sent=7.0, platform_id="m4"),
        row(3, "Cảm ơn bạn", created=3.0, sent=8.0, platform_id="m5"),
    ]
    received = [
        got("Cảm ơn bạn", 1.1, "m1"),  # the first send, cut off before the bot recorded it
        got("Cảm ơn bạn", 5.9, "m3"),
        got("Bạn ở tỉnh nào?", 6.9, "m4"),
        got("Cảm ơn bạn", 7.9, "m5"),
    ]
    assert out_of_order(received, rows) == []
    # The same arrivals with the second "Cảm ơn bạn" really first are still caught.
    early = [*received[:1], got("Cảm ơn bạn", 3.5, "m5"), *received[1:3]]
    assert out_of_order(early, rows) == [3]


def test_a_reply_counts_as_delivered_only_after_it_was_written() -> None:
    written = row(1, "Cảm ơn bạn", created=10.0, sent=None, platform_id=None)
    assert delivered(written, [got("Cảm ơn bạn", 5.0, "m0")]) == []
    assert len(delivered(written, [got("Cảm ơn bạn", 10.5, "m1")])) == 1


def test_each_message_owns_the_replies_written_until_the_next_one_was_worked() -> None:
    cipher = PersonalDataCipher([generate_key()], "blind")
    first = Inbound(1, "c1", "k1", "processed", processed_at=10.0)
    second = Inbound(2, "c1", "k2", "processed", processed_at=20.0)
    stored = Stored(
        cipher,
        inbound={"k1": first, "k2": second},
        inbound_by_conversation={"c1": [first, second]},
        outgoing={
            "c1": [
                row(1, "a", created=10.001, sent=11.0, platform_id="m1"),
                row(2, "b", created=10.002, sent=12.0, platform_id="m2"),
                row(3, "c", created=20.001, sent=21.0, platform_id="m3"),
            ]
        },
    )
    assert [r.id for r in stored.replies_to(first)] == [1, 2]
    assert [r.id for r in stored.replies_to(second)] == [3]
    unworked = Inbound(3, "c1", "k3", "received", processed_at=None)
    assert stored.replies_to(unworked) == []


def test_reference_codes_are_found_in_the_words_around_them() -> None:
    text = "Tin khẩn của bạn đã được chuyển đi, mã TIP-F6E7K. Gọi 113."
    assert codes_in([got(text, 1.0, "m1")]) == {"TIP-F6E7K"}
    assert codes_in([got("mã TIP-12", 1.0, "m1")]) == set()


def test_a_filing_the_api_refused_is_a_ticket_problem() -> None:
    # A message added to a rescue ticket, refused because it reached the API before its
    # ticket, never reaches staff although every reply went out.
    cipher = PersonalDataCipher([generate_key()], "a-blind-index-key-for-the-checks")
    clean = examine([], [], {}, Stored(cipher), tips_filed=False)
    assert clean.ticket_problems == []
    refused = Stored(cipher, refused_filings=["filing 2 (append for TIP-AB12C) refused: 404"])
    found = examine([], [], {}, refused, tips_filed=False)
    assert found.ticket_problems == ["filing 2 (append for TIP-AB12C) refused: 404"]

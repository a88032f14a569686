"""What the service stored, read straight from its database with the run's keys, and the
comparisons with what the reporters' phones received.

Read with plain SQL, not the service's code, so a check cannot share a bug with it. The rows
are linked the way the service writes them: a turn marks its inbound message processed and
writes its replies in one transaction, so the replies of a message are the outgoing rows of
its conversation created from that message's `processed_at` until the next message's.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from intake_api.crypto import PersonalDataCipher
from tests.faults.platforms import Delivery

CODE = re.compile(r"\bTIP-[A-Z0-9]{5}\b")


def epoch(value: Any) -> float | None:
    """A stored time (naive UTC; a string on SQLite) as seconds since the epoch."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return float(value.timestamp())


@dataclass(frozen=True)
class Inbound:
    id: int
    conversation_id: str
    message_key: str
    state: str
    processed_at: float | None


@dataclass(frozen=True)
class Outgoing:
    id: int
    conversation_id: str | None
    text: str | None
    state: str
    platform_message_id: str | None
    attempts: int
    created_at: float
    sent_at: float | None
    last_error: str | None


@dataclass(frozen=True)
class Ticket:
    reference_code: str
    conversation_id: str | None
    priority: str
    channel: str
    created_at: float


@dataclass
class Stored:
    """A snapshot of the bot's and the API's tables after a run."""

    cipher: PersonalDataCipher
    conversations: dict[str, str] = field(default_factory=dict)  # sender hash -> id
    inbound: dict[str, Inbound] = field(default_factory=dict)  # message key -> row
    inbound_by_conversation: dict[str, list[Inbound]] = field(default_factory=dict)
    outgoing: dict[str, list[Outgoing]] = field(default_factory=dict)
    tickets: list[Ticket] = field(default_factory=list)
    # Filings the API refused for good (a ticket, or a message or call record for one): what a
    # person said that never reached staff.
    refused_filings: list[str] = field(default_factory=list)

    def conversation(self, channel: str, address: str) -> str | None:
        return self.conversations.get(self.cipher.blind_index("conversation", channel, address))

    def inbound_of(self, channel: str, message_id: str) -> Inbound | None:
        return self.inbound.get(self.cipher.blind_index("inbound", channel, message_id))

    def tickets_of(self, conversation_id: str) -> list[Ticket]:
        return [t for t in self.tickets if t.conversation_id == conversation_id]

    def replies_to(self, message: Inbound) -> list[Outgoing]:
        """The rows the turn of `message` wrote (see the module's docstring)."""
        if message.processed_at is None:
            return []
        turns = sorted(
            m.processed_at
            for m in self.inbound_by_conversation.get(message.conversation_id, [])
            if m.processed_at is not None
        )
        after = turns[bisect.bisect_right(turns, message.processed_at) :]
        until = after[0] if after else float("inf")
        return [
            row
            for row in self.outgoing.get(message.conversation_id, [])
            if message.processed_at <= row.created_at < until
        ]

    def first_reply(self, channel: str, message_id: str) -> Outgoing | None:
        """The first reply the turn of that message wrote (a rescue's carries its code)."""
        inbound = self.inbound_of(channel, message_id)
        rows = self.replies_to(inbound) if inbound is not None else []
        return rows[0] if rows else None


def snapshot(engine: Engine, cipher: PersonalDataCipher) -> Stored:
    stored = Stored(cipher)
    with engine.connect() as conn:
        for conversation_id, sender_hash in conn.execute(
            text("SELECT id, sender_hash FROM bot_conversations")
        ):
            stored.conversations[sender_hash] = conversation_id
        by_conversation: dict[str, list[Inbound]] = defaultdict(list)
        for r in conn.execute(
            text(
                "SELECT id, conversation_id, message_key, state, processed_at "
                "FROM bot_inbound ORDER BY id"
            )
        ):
            row = Inbound(int(r[0]), str(r[1]), str(r[2]), str(r[3]), epoch(r[4]))
            stored.inbound[row.message_key] = row
            by_conversation[row.conversation_id].append(row)
        stored.inbound_by_conversation = dict(by_conversation)
        outgoing: dict[str, list[Outgoing]] = defaultdict(list)
        for r in conn.execute(
            text(
                "SELECT id, conversation_id, text, state, platform_message_id, attempts, "
                "created_at, sent_at, last_error FROM bot_outgoing ORDER BY id"
            )
        ):
            outgoing[str(r[1])].append(
                Outgoing(
                    id=int(r[0]),
                    conversation_id=r[1],
                    text=cipher.decrypt(r[2]) if r[2] is not None else None,
                    state=str(r[3]),
                    platform_message_id=r[4],
                    attempts=int(r[5]),
                    created_at=epoch(r[6]) or 0.0,
                    sent_at=epoch(r[7]),
                    last_error=r[8],
                )
            )
        stored.outgoing = dict(outgoing)
        stored.tickets = [
            Ticket(r[0], r[1], r[2], r[3], epoch(r[4]) or 0.0)
            for r in conn.execute(
                text(
                    "SELECT reference_code, conversation_id, priority, channel, created_at "
                    "FROM tickets"
                )
            )
        ]
        stored.refused_filings = [
            f"filing {r[0]} ({r[1]} for {r[2]}) refused after {r[3]} tries: {r[4]}"
            for r in conn.execute(
                text(
                    "SELECT id, kind, reference_code, attempts, last_error FROM bot_outbox "
                    "WHERE state = 'failed' ORDER BY id"
                )
            )
        ]
    return stored


def delivered(
    row: Outgoing, deliveries: Sequence[Delivery], rows: Sequence[Outgoing] = ()
) -> list[Delivery]:
    """The copies of `row` the person received (its text, after it was written), leaving out
    a copy that another of the conversation's `rows` recorded as its own (two replies of one
    text: a late re-send of the first is not a copy of the second)."""
    others = {r.platform_message_id for r in rows if r.id != row.id and r.platform_message_id}
    return [
        d
        for d in deliveries
        if d.text == row.text and d.at >= row.created_at and d.platform_id not in others
    ]


def duplicates_after_confirmation(
    deliveries: Sequence[Delivery], rows: Sequence[Outgoing]
) -> list[Delivery]:
    """Copies a person received although the bot already knew the message had gone out.

    A copy is allowed while some message of the same text is still open for it: written before
    the copy arrived and not yet recorded as sent then (a crash between the platform's answer
    and the record, or a timeout that hid a delivery, makes the bot send it again). A copy that
    arrives when every message of its text was already recorded as sent, each with another
    platform id, is a reply sent twice where the platform confirmed it.
    """
    duplicates = []
    for delivery in deliveries:
        same = [r for r in rows if r.text == delivery.text]
        if any(r.platform_message_id == delivery.platform_id for r in same):
            continue  # the copy the bot recorded
        still_open = [
            r
            for r in same
            if r.created_at <= delivery.at and (r.sent_at is None or r.sent_at >= delivery.at)
        ]
        if not still_open:
            duplicates.append(delivery)
    return duplicates


def out_of_order(deliveries: Sequence[Delivery], rows: Sequence[Outgoing]) -> list[int]:
    """Ids of messages whose first copy reached the person before the first copy of a message
    written earlier in the same conversation (they must go out in order)."""
    first: dict[int, float] = {}
    for row in rows:
        copies = delivered(row, deliveries, rows)
        if copies:
            first[row.id] = min(d.at for d in copies)
    late: list[int] = []
    latest = 0.0
    for row in rows:
        at = first.get(row.id)
        if at is None:
            continue
        if at < latest:
            late.append(row.id)
        latest = max(latest, at)
    return late


def codes_in(deliveries: Iterable[Delivery]) -> set[str]:
    return {code for d in deliveries for code in CODE.findall(d.text)}


def codes_of(row: Outgoing | None) -> set[str]:
    return set(CODE.findall(row.text or "")) if row is not None else set()

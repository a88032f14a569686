"""The promises a fault must not break, checked over a whole run:

- every message a person wrote was stored, worked, and answered: its turn wrote at least one
  reply and every reply reached the person at least once;
- a rescue request is exactly one P1 ticket, and the code its first reply gives is that
  ticket's; an unfinished tip is exactly one ticket once its silence has passed (when the run
  waits for it); no conversation has more than one; no code given that is not a ticket; no
  filing (a ticket, a message added to one) refused by the API;
- nothing the bot meant to send is left waiting or failed;
- no reply reached a person twice where the platform had confirmed it and the bot recorded it;
- each conversation's replies reached the person in the order they were written.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from tests.faults.drive import Key, Said
from tests.faults.evidence import (
    Outgoing,
    Stored,
    codes_in,
    codes_of,
    delivered,
    duplicates_after_confirmation,
    out_of_order,
)
from tests.faults.platforms import Delivery
from tests.faults.reporters import Reporter


@dataclass
class Examination:
    messages: int = 0
    unanswered: list[str] = field(default_factory=list)
    ticket_problems: list[str] = field(default_factory=list)
    unsent: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    disorder: list[str] = field(default_factory=list)
    replies: int = 0  # rows the bot wrote for these people
    copies_allowed: int = 0  # re-sends the platform had not confirmed (at least once)

    def summary(self) -> str:
        return (
            f"{self.messages} messages, {self.replies} replies written, "
            f"{len(self.unanswered)} unanswered, {len(self.ticket_problems)} ticket problems, "
            f"{len(self.unsent)} unsent, {len(self.duplicates)} confirmed replies sent again, "
            f"{self.copies_allowed} unconfirmed copies, {len(self.disorder)} out of order"
        )


def timeline(received: Sequence[Delivery], rows: Sequence[Outgoing]) -> str:
    """Each reply of a conversation: when written and recorded sent, and when each copy of
    its text reached the person (seconds from the first reply written)."""
    origin = min((row.created_at for row in rows), default=0.0)
    lines = []
    for row in rows:
        copies = ", ".join(f"{d.at - origin:+.2f}" for d in delivered(row, received, rows))
        copies = copies or "none"
        sent = "never" if row.sent_at is None else f"{row.sent_at - origin:+.2f}"
        lines.append(
            f"    reply {row.id} written {row.created_at - origin:+.2f} recorded sent {sent} "
            f"({row.attempts} tries) copies at {copies}: {(row.text or '')[:40]!r}"
        )
    return "\n".join(lines)


def who(reporter: Reporter) -> str:
    return f"{reporter.kind} #{reporter.number} on {reporter.channel}"


def examine(
    reporters: Sequence[Reporter],
    said: Sequence[Said],
    phones: Mapping[Key, list[Delivery]],
    stored: Stored,
    *,
    tips_filed: bool,
) -> Examination:
    found = Examination(messages=len(said))
    for s in said:
        name = f"{who(s.reporter)} message {s.index}"
        if s.posted.accepted_at is None:
            found.unanswered.append(
                f"{name} never acknowledged ({s.posted.attempts} tries: "
                f"{', '.join(s.posted.errors[-3:])})"
            )
            continue
        inbound = stored.inbound_of(s.reporter.channel, s.request.message_id)
        if inbound is None:
            found.unanswered.append(f"{name} acknowledged but not stored")
            continue
        if inbound.state != "processed":
            found.unanswered.append(f"{name} stored but never worked ({inbound.state})")
            continue
        rows = stored.replies_to(inbound)
        received = phones.get((s.reporter.channel, s.reporter.address), [])
        if not rows:
            found.unanswered.append(f"{name} worked without a reply")
        missing = [row.id for row in rows if not delivered(row, received)]
        if missing:
            found.unanswered.append(f"{name}: replies {missing} never reached the person")

    found.ticket_problems.extend(stored.refused_filings)
    firsts = {s.reporter.number: s for s in said if s.index == 0}
    for reporter in reporters:
        key = (reporter.channel, reporter.address)
        name = who(reporter)
        conversation = stored.conversation(*key)
        if conversation is None:
            found.ticket_problems.append(f"{name}: no conversation stored")
            continue
        received = phones.get(key, [])
        tickets = stored.tickets_of(conversation)
        filed = {t.reference_code for t in tickets}
        if reporter.kind == "rescue":
            if len(tickets) != 1 or tickets[0].priority != "P1":
                found.ticket_problems.append(
                    f"{name}: tickets {[t.priority for t in tickets]}, expected one P1"
                )
            opening = firsts.get(reporter.number)
            first = (
                codes_of(stored.first_reply(reporter.channel, opening.request.message_id))
                if opening is not None
                else set()
            )
            if not first or not first <= filed:
                found.ticket_problems.append(
                    f"{name}: the first reply carries {sorted(first)}, its ticket is {filed}"
                )
        elif reporter.kind == "tip" and tips_filed and len(tickets) != 1:
            found.ticket_problems.append(f"{name}: {len(tickets)} tickets after the silence")
        elif len(tickets) > 1:
            found.ticket_problems.append(f"{name}: {len(tickets)} tickets")
        stray = codes_in(received) - filed
        if stray:
            found.ticket_problems.append(f"{name}: given codes {sorted(stray)} of no ticket")

        rows = stored.outgoing.get(conversation, [])
        found.replies += len(rows)
        found.unsent.extend(
            f"{name}: reply {row.id} {row.state} after {row.attempts} tries ({row.last_error})"
            for row in rows
            if row.state != "sent"
        )
        again = duplicates_after_confirmation(received, rows)
        found.duplicates.extend(f"{name}: sent again: {d.text[:50]!r}" for d in again)
        recorded = {row.platform_message_id for row in rows}
        found.copies_allowed += sum(
            1 for d in received if d.platform_id not in recorded and d not in again
        )
        late = out_of_order(received, rows)
        if late:
            found.disorder.append(
                f"{name}: replies {late} arrived before earlier ones\n" + timeline(received, rows)
            )
    return found


async def until(condition: Callable[[], bool], timeout: float, every: float = 0.25) -> bool:
    """Polls `condition` (in a thread: it may query the database) until true or `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(condition):
            return True
        await asyncio.sleep(every)
    return bool(await asyncio.to_thread(condition))


def waits_after(
    said: Sequence[Said], ready: float, fault: float, next_fault: float
) -> list[tuple[float, Said]]:
    """How long each person waited for an answer once the service was back at `ready`: every
    message outstanding at the fault or written before the next one, from when the service was
    back (or the message acknowledged, if later) until its answer or the next fault."""
    waits = []
    for s in said:
        accepted, answered = s.posted.accepted_at, s.answered_at
        if accepted is None or accepted >= next_fault:
            continue
        if answered is not None and answered < fault:
            continue  # answered before the fault
        end = min(answered if answered is not None else float("inf"), next_fault)
        waits.append((end - max(accepted, ready), s))
    return waits


def reply_waits(
    stored: Stored,
    phones: Mapping[Key, list[Delivery]],
    reporters: Sequence[Reporter],
    ready: float,
    fault: float,
    next_fault: float,
) -> list[tuple[float, str]]:
    """How long each reply waiting at the fault, or written before the next one, took to reach
    its person once the service was back at `ready` (or from when it was written, if later)."""
    waits = []
    for reporter in reporters:
        conversation = stored.conversation(reporter.channel, reporter.address)
        received = phones.get((reporter.channel, reporter.address), [])
        for row in stored.outgoing.get(conversation or "", []):
            if row.created_at >= next_fault:
                continue
            copies = delivered(row, received)
            first = min((d.at for d in copies), default=float("inf"))
            if first < fault:
                continue  # it reached the person before the fault
            end = min(first, next_fault)
            waits.append(
                (
                    end - max(row.created_at, ready),
                    f"{who(reporter)} reply {row.id} written {_at(row.created_at, fault)}, "
                    f"first received {_at(first if copies else None, fault)} "
                    f"({row.attempts} tries)",
                )
            )
    return waits


def story(s: Said, stored: Stored, origin: float) -> str:
    """What happened to one message, in seconds from `origin` (for a failure's explanation)."""
    inbound = stored.inbound_of(s.reporter.channel, s.request.message_id)
    parts = [f"acknowledged {_at(s.posted.accepted_at, origin)}"]
    if inbound is not None:
        parts.append(f"worked {_at(inbound.processed_at, origin)}")
        for row in stored.replies_to(inbound):
            parts.append(
                f"reply {row.id} written {_at(row.created_at, origin)} sent "
                f"{_at(row.sent_at, origin)} ({row.attempts} tries)"
            )
    parts.append(f"first answer seen {_at(s.answered_at, origin)}")
    return ", ".join(parts)


def _at(moment: float | None, origin: float) -> str:
    return "never" if moment is None else f"{moment - origin:+.1f} s"


def at_rest(stored: Stored, reporters: Sequence[Reporter], *, tips_filed: bool) -> bool:
    """Whether the service has finished with these people: every message worked, nothing
    waiting to be sent, every rescue (and, when asked, every tip) filed."""
    for reporter in reporters:
        conversation = stored.conversation(reporter.channel, reporter.address)
        if conversation is None:
            return False
        if any(m.state != "processed" for m in stored.inbound_by_conversation[conversation]):
            return False
        if any(row.state == "pending" for row in stored.outgoing.get(conversation, [])):
            return False
        wants_ticket = reporter.kind == "rescue" or (tips_filed and reporter.kind == "tip")
        if wants_ticket and not stored.tickets_of(conversation):
            return False
    return True

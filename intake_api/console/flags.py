"""The flags staff must not miss on a ticket, read from what the ticket records.

- `failed_reply`: a staff reply that could not be delivered (replies in state `failed`).
- `another_sender`: a message added by reference code from someone other than the reporter
  (docs/api.md, Roles): the ticket's `other_sender`.
- `after_silence`: an unfinished report the bot filed after the person went silent: its triage
  reason (intake_api.rules.silence).
- `callback`: a phone caller is owed a call-back (an open call-back task: a missed, abandoned
  or after-hours call; `intake_api.tickets.callbacks_due`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from intake_api.enums import ReplyState
from intake_api.models import Reply, Ticket
from intake_api.rules.silence import filed_after_silence
from intake_api.tickets import callbacks_due


@dataclass(frozen=True)
class Flags:
    failed_reply: bool = False
    another_sender: bool = False
    after_silence: bool = False
    callback: bool = False

    @property
    def any(self) -> bool:
        return self.failed_reply or self.another_sender or self.after_silence or self.callback


def flags_of(ticket: object, failed_reply: bool, callback: bool = False) -> Flags:
    return Flags(
        failed_reply=failed_reply,
        another_sender=bool(getattr(ticket, "other_sender", False)),
        after_silence=filed_after_silence(getattr(ticket, "triage_reasons", None)),
        callback=callback,
    )


def tickets_with_failed_replies(session: Session, ticket_ids: Iterable[str]) -> set[str]:
    ids = list(ticket_ids)
    if not ids:
        return set()
    rows = session.exec(
        select(Reply.ticket_id)
        .where(col(Reply.ticket_id).in_(ids), Reply.state == ReplyState.failed)
        .distinct()
    ).all()
    return set(rows)


def flags_for(session: Session, tickets: list[Ticket]) -> dict[str, Flags]:
    failed = tickets_with_failed_replies(session, [t.id for t in tickets])
    owed = callbacks_due(session, [t.id for t in tickets])
    return {t.id: flags_of(t, t.id in failed, t.id in owed) for t in tickets}

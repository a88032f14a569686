"""The flags staff must not miss on a ticket, read from what the ticket records.

- `failed_reply`: a staff reply that could not be delivered (replies in state `failed`).
- `another_sender`: a message added by reference code from someone other than the reporter
  (docs/api.md, Roles). The ticket field is to come (issue 9); until the model has
  `ANOTHER_SENDER_FIELD`, this flag is never raised.
- `after_silence`: an unfinished report the bot filed after the person went silent. The bot
  does not mark such tickets yet; until the model has `AFTER_SILENCE_FIELD`, never raised.

The two hooks read the field when it exists, so the queue column and the ticket banner light up
the day the field lands, without a change here beyond the name if it differs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from intake_api.enums import ReplyState
from intake_api.models import Reply, Ticket

ANOTHER_SENDER_FIELD = "another_sender"
AFTER_SILENCE_FIELD = "filed_after_silence"


@dataclass(frozen=True)
class Flags:
    failed_reply: bool = False
    another_sender: bool = False
    after_silence: bool = False

    @property
    def any(self) -> bool:
        return self.failed_reply or self.another_sender or self.after_silence


def _field(ticket: object, name: str) -> bool:
    return bool(getattr(ticket, name, False))


def flags_of(ticket: object, failed_reply: bool) -> Flags:
    return Flags(
        failed_reply=failed_reply,
        another_sender=_field(ticket, ANOTHER_SENDER_FIELD),
        after_silence=_field(ticket, AFTER_SILENCE_FIELD),
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
    return {t.id: flags_of(t, t.id in failed) for t in tickets}

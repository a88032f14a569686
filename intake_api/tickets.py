"""Reading tickets: who may see which, the queue with its filters, and the views staff get."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_
from sqlmodel import Session, col, select

from intake_api.audit import record
from intake_api.db import utcnow
from intake_api.enums import CLOSED_STATUSES, ReferralState
from intake_api.identity import Caller
from intake_api.models import (
    CallRecord,
    Note,
    Referral,
    Reply,
    Ticket,
    TicketAgency,
    TicketEvent,
    TicketMessage,
    User,
)
from intake_api.refcodes import normalize_reference_code
from intake_api.rules.lifecycle import is_closed
from intake_api.rules.senders import ANOTHER_SENDER, REPORTER
from intake_api.rules.visibility import filed_by_clause, visibility_clause
from intake_api.schemas import (
    CallOut,
    EventOut,
    MessageOut,
    NoteOut,
    ReferralOut,
    ReplyOut,
    ReporterOut,
    TicketDetail,
    TicketSummary,
)


class TicketNotFound(LookupError):
    pass


def find_by_reference(session: Session, code: str) -> Ticket | None:
    """The ticket with this reference code as a person typed it (any case, space, no dash)."""
    canonical = normalize_reference_code(code)
    if canonical is None:
        return None
    return session.exec(select(Ticket).where(Ticket.reference_code == canonical)).first()


def get_visible(
    session: Session, caller: Caller, ticket_id: str, for_update: bool = False
) -> Ticket:
    """The ticket, or TicketNotFound when it is missing or the caller may not see it (docs/api.md:
    404, not 403, so the answer reveals nothing about tickets of other agencies).

    `for_update` locks the row until the caller's transaction ends (PostgreSQL; SQLite has one
    writer at a time anyway): an edit then takes the ticket before any row that hangs off it,
    in the same order as every other edit, so two concurrent edits queue instead of
    deadlocking, and the second sees what the first did."""
    stmt = select(Ticket).where(Ticket.id == ticket_id)
    clause = visibility_clause(caller)
    if clause is not None:
        stmt = stmt.where(clause)
    if for_update:
        stmt = stmt.with_for_update(of=Ticket)  # type: ignore[arg-type]
    return _found_or_denied(session, caller, stmt, ticket_id)


def get_filed(session: Session, caller: Caller, ticket_id: str) -> Ticket:
    """A ticket the calling service account filed, or TicketNotFound (as for staff: 404)."""
    stmt = select(Ticket).where(Ticket.id == ticket_id, filed_by_clause(caller))
    return _found_or_denied(session, caller, stmt, ticket_id)


def find_filed_by_reference(session: Session, caller: Caller, code: str) -> Ticket:
    """The ticket with this reference code, if the calling service account filed it; a code
    of another filer's ticket is as unknown as a code nobody has (TicketNotFound)."""
    canonical = normalize_reference_code(code)
    if canonical is None:
        raise TicketNotFound(code)
    stmt = select(Ticket).where(Ticket.reference_code == canonical, filed_by_clause(caller))
    ticket = session.exec(stmt).first()
    if ticket is None:
        other = session.exec(select(Ticket.id).where(Ticket.reference_code == canonical)).first()
        if other is not None:
            record_denied(session, caller, other)
        raise TicketNotFound(code)
    return ticket


def lookup_status(session: Session, caller: Caller, code: str) -> Ticket:
    """A reporter's follow-up by reference code: the filer's own ticket (its status is all the
    answer carries), the look-up audited."""
    ticket = find_filed_by_reference(session, caller, code)
    record(session, caller.username, "status_lookup", ticket.id)
    session.commit()
    return ticket


def _found_or_denied(session: Session, caller: Caller, stmt: Any, ticket_id: str) -> Ticket:
    ticket = session.exec(stmt).first()
    if ticket is None:
        if session.get(Ticket, ticket_id) is not None:
            record_denied(session, caller, ticket_id)
        raise TicketNotFound(ticket_id)
    return ticket


def record_denied(session: Session, caller: Caller, ticket_id: str) -> None:
    """A request for an existing ticket the caller may not see: answered 404 like a missing
    one, and written to the audit trail so probing shows up (docs/api.md)."""
    record(session, caller.username, "denied", ticket_id, "not visible to this account")
    session.commit()


def pending_referral_agencies(session: Session, ticket_id: str) -> list[str]:
    rows = session.exec(
        select(Referral.to_agency).where(
            Referral.ticket_id == ticket_id, Referral.state == ReferralState.pending
        )
    ).all()
    return sorted(set(rows))


@dataclass
class TicketFilters:
    status: list[str] | None = None
    priority: list[str] | None = None
    agency: str | None = None
    province: str | None = None
    channel: str | None = None
    assignee: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None

    def apply(self, stmt: Any) -> Any:
        if self.status:
            stmt = stmt.where(col(Ticket.status).in_(self.status))
        if self.priority:
            stmt = stmt.where(col(Ticket.priority).in_(self.priority))
        if self.agency:
            stmt = stmt.where(
                col(Ticket.id).in_(
                    select(TicketAgency.ticket_id).where(TicketAgency.agency == self.agency)
                )
            )
        if self.province:
            stmt = stmt.where(Ticket.province == self.province)
        if self.channel:
            stmt = stmt.where(Ticket.channel == self.channel)
        if self.assignee == "none":
            stmt = stmt.where(col(Ticket.assignee_id).is_(None))
        elif self.assignee:
            stmt = stmt.where(
                col(Ticket.assignee_id).in_(select(User.id).where(User.username == self.assignee))
            )
        if self.created_from:
            stmt = stmt.where(Ticket.created_at >= self.created_from)
        if self.created_to:
            stmt = stmt.where(Ticket.created_at < self.created_to)
        if self.q:
            # Personal data is encrypted and cannot be searched; q matches the clear fields.
            like = f"%{self.q.lower()}%"
            stmt = stmt.where(
                or_(
                    func.lower(Ticket.reference_code).like(like),
                    func.lower(Ticket.province).like(like),
                    func.lower(Ticket.country).like(like),
                    func.lower(Ticket.category).like(like),
                )
            )
        return stmt


def visible_tickets(caller: Caller, filters: TicketFilters) -> Any:
    stmt = filters.apply(select(Ticket))
    clause = visibility_clause(caller)
    return stmt.where(clause) if clause is not None else stmt


def list_page(
    session: Session, caller: Caller, filters: TicketFilters, page: int, page_size: int
) -> tuple[list[Ticket], int]:
    stmt = visible_tickets(caller, filters)
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    # Open tickets first, then by priority and due time: the queue staff work from the top.
    closed_last = case((col(Ticket.status).in_(sorted(CLOSED_STATUSES)), 1), else_=0)
    stmt = stmt.order_by(closed_last, Ticket.priority, Ticket.due_at, Ticket.id)
    rows = session.exec(stmt.offset((page - 1) * page_size).limit(page_size)).all()
    return list(rows), int(total)


def agencies_of(session: Session, ticket_ids: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {tid: [] for tid in ticket_ids}
    if ticket_ids:
        rows = session.exec(
            select(TicketAgency).where(col(TicketAgency.ticket_id).in_(ticket_ids))
        ).all()
        for row in rows:
            result[row.ticket_id].append(row.agency)
    return {tid: sorted(a) for tid, a in result.items()}


def usernames(session: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = session.exec(select(User).where(col(User.id).in_(user_ids))).all()
    return {u.id: u.username for u in rows if u.id is not None}


def summaries(session: Session, tickets: list[Ticket]) -> list[TicketSummary]:
    agencies = agencies_of(session, [t.id for t in tickets])
    names = usernames(session, {t.assignee_id for t in tickets if t.assignee_id is not None})
    owed = callbacks_due(session, [t.id for t in tickets])
    return [
        _summary(t, agencies[t.id], names.get(t.assignee_id or -1), t.id in owed) for t in tickets
    ]


def callbacks_due(session: Session, ticket_ids: list[str]) -> set[str]:
    """The tickets among these whose caller is owed a call-back (an open call-back task)."""
    if not ticket_ids:
        return set()
    rows = session.exec(
        select(CallRecord.ticket_id)
        .where(
            col(CallRecord.ticket_id).in_(ticket_ids),
            CallRecord.kind == "callback",
            CallRecord.state == "open",
        )
        .distinct()
    ).all()
    return set(rows)


def _summary(
    ticket: Ticket, agencies: list[str], assignee: str | None, callback_due: bool = False
) -> TicketSummary:
    return TicketSummary(
        id=ticket.id,
        reference_code=ticket.reference_code,
        status=ticket.status,
        priority=ticket.priority,
        category=ticket.category,
        channel=ticket.channel,
        province=ticket.province,
        country=ticket.country,
        agencies=agencies,
        assignee=assignee,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        due_at=ticket.due_at,
        overdue=is_overdue(ticket),
        other_sender=ticket.other_sender,
        callback_due=callback_due,
    )


def is_overdue(ticket: Ticket) -> bool:
    if ticket.first_response_at is not None:
        return ticket.first_response_at > ticket.due_at
    return not is_closed(ticket.status) and utcnow() > ticket.due_at


def detail(session: Session, caller: Caller, ticket: Ticket) -> TicketDetail:
    """The full ticket; reading its personal data is written to the audit trail."""
    summary = summaries(session, [ticket])[0]

    def rows(model: Any, order: Any) -> list[Any]:
        return list(session.exec(select(model).where(model.ticket_id == ticket.id).order_by(order)))

    record(session, caller.username, "view", ticket.id, "reporter, transcript, notes")
    session.commit()
    return TicketDetail(
        **summary.model_dump(),
        location=ticket.location,
        intent=ticket.intent,
        intent_confidence=ticket.intent_confidence,
        triage_reasons=ticket.triage_reasons or [],
        version=ticket.version,
        first_response_at=ticket.first_response_at,
        closed_at=ticket.closed_at,
        reporter=ReporterOut(
            channel_user_id=ticket.reporter_channel_user_id,
            phone=ticket.reporter_phone,
            name=ticket.reporter_name,
            anonymous=ticket.anonymous,
            consent_to_contact=ticket.consent_to_contact,
        ),
        transcript=[_message_out(m) for m in rows(TicketMessage, TicketMessage.id)],
        nlu=ticket.nlu,
        notes=[
            NoteOut(id=n.id, author=n.author, text=n.text, created_at=n.created_at)
            for n in rows(Note, Note.id)
        ],
        referrals=[
            ReferralOut.model_validate(r, from_attributes=True) for r in rows(Referral, Referral.id)
        ],
        replies=[ReplyOut.model_validate(r, from_attributes=True) for r in rows(Reply, Reply.id)],
        events=[
            EventOut.model_validate(e, from_attributes=True)
            for e in rows(TicketEvent, TicketEvent.id)
        ],
        calls=[call_out(c) for c in rows(CallRecord, CallRecord.id)],
    )


def call_out(row: CallRecord) -> CallOut:
    return CallOut(
        id=row.id,  # type: ignore[arg-type]
        kind=row.kind,
        target=row.target,
        outcome=row.outcome,
        duration_seconds=row.duration_seconds,
        has_recording=row.recording_sid is not None,
        state=row.state,
        attempts=row.attempts,
        done_by=row.done_by,
        done_at=row.done_at,
        created_at=row.created_at,
    )


def _message_out(message: TicketMessage) -> MessageOut:
    if message.direction == "out":
        sender = "bot"
    elif message.sender in (REPORTER, ANOTHER_SENDER):
        sender = message.sender
    else:
        sender = "unknown"
    return MessageOut(
        direction=message.direction,
        text=message.text,
        at=message.at,
        sender=sender,  # type: ignore[arg-type]
        phone=message.phone,
    )

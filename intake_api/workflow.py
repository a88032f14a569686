"""Changing tickets: status moves, triage edits, notes, referrals, replies and reporter messages.
Every change bumps the ticket's version and leaves an event (who, when, from, to)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from intake_api.audit import record
from intake_api.config import Settings
from intake_api.crypto import get_cipher
from intake_api.db import utcnow
from intake_api.enums import REPLYABLE_CHANNELS, ReferralState, ReplyState, Status
from intake_api.identity import Caller
from intake_api.leases import take_lease
from intake_api.models import (
    Note,
    Referral,
    Reply,
    Ticket,
    TicketAgency,
    TicketEvent,
    TicketMessage,
    User,
)
from intake_api.rules.lifecycle import illegal_move_reason, is_closed
from intake_api.rules.priority import due_at, raises
from intake_api.schemas import OutboundReply, ReporterMessageIn, TicketPatch
from intake_api.tickets import agencies_of


class Conflict(Exception):
    """An illegal move or a conflicting edit (409)."""


class Invalid(ValueError):
    """Well-formed input that names something that does not exist (422)."""


class Forbidden(PermissionError):
    pass


def _event(
    session: Session, ticket: Ticket, actor: str, kind: str, old: object, new: object
) -> None:
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            actor=actor,
            kind=kind,
            from_value=None if old is None else str(old)[:200],
            to_value=None if new is None else str(new)[:200],
        )
    )


def _touch(ticket: Ticket, now: datetime) -> None:
    ticket.updated_at = now
    ticket.version += 1


def _mark_first_response(ticket: Ticket, now: datetime) -> None:
    if ticket.first_response_at is None:
        ticket.first_response_at = now


def set_status(session: Session, ticket: Ticket, actor: str, target: str, now: datetime) -> None:
    reason = illegal_move_reason(ticket.status, target)
    if reason is not None:
        raise Conflict(reason)
    if target == ticket.status:
        return
    _event(session, ticket, actor, "status", ticket.status, target)
    ticket.status = target
    if is_closed(target):
        ticket.closed_at = now
    elif ticket.closed_at is not None:
        ticket.closed_at = None  # reopened
    if target != Status.new:
        _mark_first_response(ticket, now)


def set_agencies(session: Session, ticket: Ticket, actor: str, agencies: list[str]) -> None:
    current = agencies_of(session, [ticket.id])[ticket.id]
    target = sorted(set(agencies))
    if target == current:
        return
    for agency in set(current) - set(target):
        row = session.get(TicketAgency, (ticket.id, agency))
        if row is not None:
            session.delete(row)
    for agency in set(target) - set(current):
        session.add(TicketAgency(ticket_id=ticket.id, agency=agency))
    _event(session, ticket, actor, "agencies", ",".join(current), ",".join(target))


def apply_patch(
    session: Session, settings: Settings, caller: Caller, ticket: Ticket, patch: TicketPatch
) -> Ticket:
    if patch.version is not None and patch.version != ticket.version:
        raise Conflict(
            f"the ticket changed since you loaded it (your version {patch.version}, "
            f"current {ticket.version}); reload it and apply your edit again"
        )
    fields = patch.model_fields_set - {"version"}
    if not fields:
        raise Invalid("nothing to change: give status, priority, agencies or assignee")
    if fields & {"priority", "agencies"} and not caller.sees_all_tickets:
        raise Forbidden("only operators and supervisors change a ticket's priority or agencies")
    unknown = sorted(set(patch.agencies or []) - set(settings.agency_codes))
    if unknown:
        raise Invalid(f"agencies: unknown agency {', '.join(unknown)}")
    now = utcnow()
    actor = caller.username
    if "assignee" in fields:
        _set_assignee(session, ticket, actor, patch.assignee)
    if patch.priority is not None and patch.priority != ticket.priority:
        _event(session, ticket, actor, "priority", ticket.priority, patch.priority)
        ticket.priority = patch.priority
        ticket.due_at = due_at(settings.service_levels_hours, patch.priority, ticket.created_at)
    if patch.agencies is not None:
        set_agencies(session, ticket, actor, patch.agencies)
    if patch.status is not None:
        set_status(session, ticket, actor, patch.status, now)
    _touch(ticket, now)
    _save_versioned(session, ticket)
    return ticket


def _set_assignee(session: Session, ticket: Ticket, actor: str, username: str | None) -> None:
    old = session.get(User, ticket.assignee_id) if ticket.assignee_id else None
    new: User | None = None
    if username:
        new = session.exec(select(User).where(User.username == username)).first()
        if new is None or not new.active:
            raise Invalid(f"assignee: there is no active user '{username}'")
        if not new.role_set & {"operator", "police", "dolisa", "supervisor"}:
            raise Invalid(f"assignee: '{username}' does not work tickets")
    if (old.id if old else None) == (new.id if new else None):
        return
    ticket.assignee_id = new.id if new else None
    _event(session, ticket, actor, "assignee", old.username if old else None, username)


def _save_versioned(session: Session, ticket: Ticket) -> None:
    """Commits only if nobody else changed the ticket meanwhile (compare-and-set on version)."""
    expected = ticket.version - 1
    # No autoflush: the in-memory ticket already carries the new version number.
    with session.no_autoflush:
        result = session.execute(
            update(Ticket)
            .where(col(Ticket.id) == ticket.id, col(Ticket.version) == expected)
            .values(version=ticket.version)
            .execution_options(synchronize_session=False)
        )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict("the ticket was changed by someone else at the same time; reload it")
    session.add(ticket)
    session.commit()


def add_note(session: Session, caller: Caller, ticket: Ticket, text: str) -> Note:
    note = Note(ticket_id=ticket.id, author=caller.username, text=text)
    session.add(note)
    _event(session, ticket, caller.username, "note", None, None)
    _touch(ticket, utcnow())
    _save_versioned(session, ticket)
    return note


def refer(
    session: Session,
    settings: Settings,
    caller: Caller,
    ticket: Ticket,
    to_agency: str,
    reason: str,
) -> Referral:
    if to_agency not in settings.agency_codes:
        raise Invalid(f"to_agency: unknown agency '{to_agency}'")
    if is_closed(ticket.status):
        raise Conflict("a closed ticket cannot be referred; reopen it first")
    if ticket.status == Status.referred:
        raise Conflict("the ticket already has a pending referral")
    current = agencies_of(session, [ticket.id])[ticket.id]
    if to_agency in current:
        raise Conflict(f"the ticket is already routed to '{to_agency}'")
    from_agency = next(iter(sorted(caller.agencies & set(current))), None)
    referral = Referral(
        ticket_id=ticket.id,
        from_agency=from_agency,
        to_agency=to_agency,
        reason=reason,
        state=ReferralState.pending,
        created_by=caller.username,
    )
    session.add(referral)
    now = utcnow()
    ticket.status_before_referral = ticket.status
    _event(session, ticket, caller.username, "status", ticket.status, Status.referred)
    _event(session, ticket, caller.username, "referral", from_agency, to_agency)
    ticket.status = Status.referred
    _mark_first_response(ticket, now)
    _touch(ticket, now)
    _save_versioned(session, ticket)
    return referral


def decide_referral(
    session: Session,
    caller: Caller,
    ticket: Ticket,
    referral_id: int,
    accept: bool,
    note: str | None,
) -> Referral:
    referral = session.get(Referral, referral_id)
    if referral is None or referral.ticket_id != ticket.id:
        raise LookupError(referral_id)
    if referral.state != ReferralState.pending:
        raise Conflict(f"the referral was already {referral.state}")
    if not caller.sees_all_tickets and referral.to_agency not in caller.agencies:
        raise Forbidden(f"only the receiving agency ('{referral.to_agency}') decides this referral")
    now = utcnow()
    referral.state = ReferralState.accepted if accept else ReferralState.returned
    referral.decided_by = caller.username
    referral.decided_at = now
    referral.decision_note = note
    if accept:
        session.add(TicketAgency(ticket_id=ticket.id, agency=referral.to_agency))
    back_to = ticket.status_before_referral or Status.acknowledged
    _event(session, ticket, caller.username, f"referral_{referral.state}", None, referral.to_agency)
    _event(session, ticket, caller.username, "status", ticket.status, back_to)
    ticket.status = back_to
    ticket.status_before_referral = None
    _touch(ticket, now)
    session.add(referral)
    _save_versioned(session, ticket)
    return referral


def queue_reply(session: Session, caller: Caller, ticket: Ticket, text: str) -> Reply:
    if ticket.channel not in REPLYABLE_CHANNELS:
        raise Conflict(f"the tip came by '{ticket.channel}'; there is no chat to reply into")
    if not ticket.reporter_channel_user_id and not ticket.conversation_id:
        raise Conflict("the reporter left no channel address to reply to")
    reply = Reply(
        ticket_id=ticket.id,
        author=caller.username,
        text=text,
        channel=ticket.channel,
        state=ReplyState.queued,
    )
    session.add(reply)
    now = utcnow()
    _event(session, ticket, caller.username, "reply_queued", None, ticket.channel)
    _mark_first_response(ticket, now)
    _touch(ticket, now)
    _save_versioned(session, ticket)
    return reply


def append_reporter_message(
    session: Session,
    settings: Settings,
    caller: Caller,
    ticket: Ticket,
    body: ReporterMessageIn,
    _attempt: int = 0,
) -> tuple[TicketMessage, bool]:
    """Appends a further message and the details it brings; a retried delivery of the same
    message_id is a no-op."""
    if body.message_id:
        existing = session.exec(
            select(TicketMessage).where(
                TicketMessage.ticket_id == ticket.id, TicketMessage.dedupe_key == body.message_id
            )
        ).first()
        if existing is not None:
            return existing, False
    if body.province is not None and body.province not in settings.provinces:
        raise Invalid(f"province: '{body.province}' is not one of the configured provinces")
    actor = caller.username
    now = utcnow()
    message = TicketMessage(
        ticket_id=ticket.id,
        direction="in",
        text=body.text,
        at=body.at or now,
        dedupe_key=body.message_id,
    )
    session.add(message)
    _event(session, ticket, actor, "reporter_message", None, None)
    for name in ("province", "country"):
        value = getattr(body, name)
        if value is not None and value != getattr(ticket, name):
            _event(session, ticket, actor, name, getattr(ticket, name), value)
            setattr(ticket, name, value)
    if body.location is not None:
        ticket.location = body.location.model_dump()
        _event(session, ticket, actor, "location", None, "shared")
    if body.phone is not None:
        phone = body.phone
        ticket.reporter_phone = phone
        ticket.phone_hash = get_cipher().blind_index("phone", phone)
        _event(session, ticket, actor, "reporter_phone", None, "updated")
    if raises(ticket.priority, body.priority):
        _event(session, ticket, actor, "priority", ticket.priority, body.priority)
        ticket.priority = body.priority
        ticket.due_at = due_at(settings.service_levels_hours, body.priority, ticket.created_at)
    _touch(ticket, now)
    try:
        _save_versioned(session, ticket)
    except (IntegrityError, Conflict):
        # A concurrent retry of the same message, or a staff edit at the same moment: reload
        # and try again, so a reporter's message is never refused for someone else's edit.
        session.rollback()
        if _attempt >= 3:
            raise
        session.refresh(ticket)
        return append_reporter_message(session, settings, caller, ticket, body, _attempt + 1)
    return message, True


def claim_replies(
    session: Session,
    settings: Settings,
    caller: Caller,
    limit: int,
    channels: list[str] | None = None,
) -> list[OutboundReply]:
    """Leases queued replies (and those whose lease ran out) to the calling bot process.

    A reply whose delivery result never comes back is handed out again after the lease, which
    gives at-least-once delivery; the bot de-duplicates by reply id on its side.
    """
    now = utcnow()
    candidates = session.exec(
        select(Reply)
        .where(
            (col(Reply.state) == ReplyState.queued)
            | ((col(Reply.state) == ReplyState.sending) & (col(Reply.lease_until) < now))
        )
        .where(col(Reply.channel).in_(channels) if channels else True)
        .order_by(Reply.id)
        .limit(limit)
    ).all()
    claimed: list[OutboundReply] = []
    lease = now + timedelta(seconds=settings.reply_lease_seconds)
    for reply in candidates:
        # Two bot processes never lease the same reply at once.
        taken = take_lease(
            session,
            Reply,
            col(Reply.lease_until),
            lease,
            col(Reply.id) == reply.id,
            col(Reply.state) == reply.state,
            now=now,
            state=ReplyState.sending,
            attempts=reply.attempts + 1,
        )
        if taken:
            session.refresh(reply)
            ticket = session.get(Ticket, reply.ticket_id)
            assert ticket is not None
            record(session, caller.username, "deliver", ticket.id, f"reply {reply.id}")
            claimed.append(
                OutboundReply(
                    id=reply.id,  # type: ignore[arg-type]
                    ticket_id=ticket.id,
                    reference_code=ticket.reference_code,
                    channel=reply.channel,
                    channel_user_id=ticket.reporter_channel_user_id,
                    conversation_id=ticket.conversation_id,
                    text=reply.text,
                    attempts=reply.attempts,
                )
            )
    session.commit()
    return claimed


def record_delivery(
    session: Session, caller: Caller, reply_id: int, delivered: bool, error: str | None
) -> Reply:
    reply = session.get(Reply, reply_id)
    if reply is None:
        raise LookupError(reply_id)
    if reply.state == ReplyState.delivered:
        return reply  # a repeated report of the same delivery changes nothing
    ticket = session.get(Ticket, reply.ticket_id)
    assert ticket is not None
    now = utcnow()
    reply.state = ReplyState.delivered if delivered else ReplyState.failed
    reply.lease_until = None
    reply.last_error = None if delivered else (error or "delivery failed")[:500]
    if delivered:
        reply.delivered_at = now
    session.add(reply)
    _event(session, ticket, caller.username, f"reply_{reply.state}", None, str(reply.id))
    _touch(ticket, now)
    _save_versioned(session, ticket)
    return reply


def retry_reply(session: Session, caller: Caller, ticket: Ticket, reply_id: int) -> Reply:
    reply = session.get(Reply, reply_id)
    if reply is None or reply.ticket_id != ticket.id:
        raise LookupError(reply_id)
    if reply.state != ReplyState.failed:
        raise Conflict(f"only a failed reply can be retried; this one is {reply.state}")
    reply.state = ReplyState.queued
    session.add(reply)
    _event(session, ticket, caller.username, "reply_retry", None, str(reply.id))
    _touch(ticket, utcnow())
    _save_versioned(session, ticket)
    return reply

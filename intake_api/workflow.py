"""Changing tickets: status moves, triage edits, notes, referrals, replies and reporter messages.
Every change bumps the ticket's version and leaves an event (who, when, from, to)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from intake_api.audit import record
from intake_api.config import Settings
from intake_api.crypto import get_cipher
from intake_api.db import utcnow
from intake_api.enums import REPLYABLE_CHANNELS, ReferralState, ReplyState, Status
from intake_api.identity import Caller
from intake_api.intake import UnknownValue, province_in_force
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
from intake_api.rules.senders import ANOTHER_SENDER, sender_of
from intake_api.rules.visibility import filed_by_clause, may_see
from intake_api.schemas import OutboundReply, ReporterMessageIn, TicketPatch
from intake_api.tickets import agencies_of, pending_referral_agencies


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


def _bump(session: Session, ticket: Ticket, now: datetime, first_response: bool = False) -> None:
    """Commits an addition to the ticket (a note, a reply, a delivery result) that cannot
    conflict with anyone's edit: the version moves on in one UPDATE, whatever it was, so
    concurrent additions all succeed and an editor holding the old version still gets 409."""
    values: dict[str, object] = {"version": Ticket.version + 1, "updated_at": now}
    if first_response:
        values["first_response_at"] = func.coalesce(Ticket.first_response_at, now)
    with session.no_autoflush:
        session.execute(
            update(Ticket)
            .where(col(Ticket.id) == ticket.id)
            .values(values)
            .execution_options(synchronize_session=False)
        )
    session.commit()
    session.refresh(ticket)


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
        return ticket  # an empty patch changes nothing (RFC 7396)
    if fields & {"priority", "agencies"} and not caller.sees_all_tickets:
        raise Forbidden("only operators and supervisors change a ticket's priority or agencies")
    unknown = sorted(set(patch.agencies or []) - set(settings.agency_codes))
    if unknown:
        raise Invalid(f"agencies: unknown agency {', '.join(unknown)}")
    now = utcnow()
    actor = caller.username
    if patch.agencies is not None:
        set_agencies(session, ticket, actor, patch.agencies)
    if "assignee" in fields:
        _set_assignee(session, caller, ticket, patch.assignee, claim=patch.version is None)
    if patch.priority is not None and patch.priority != ticket.priority:
        _event(session, ticket, actor, "priority", ticket.priority, patch.priority)
        ticket.priority = patch.priority
        ticket.due_at = due_at(settings.service_levels_hours, patch.priority, ticket.created_at)
    if patch.status is not None:
        set_status(session, ticket, actor, patch.status, now)
    _touch(ticket, now)
    _save_versioned(session, ticket)
    return ticket


def _set_assignee(
    session: Session, caller: Caller, ticket: Ticket, username: str | None, claim: bool
) -> None:
    """Assigns the ticket. Without the version the caller loaded (`claim`), this claims it:
    refused while someone else holds it, so two people never both believe it is theirs; the
    version compare-and-set on saving makes the check and the change one step."""
    old = session.get(User, ticket.assignee_id) if ticket.assignee_id else None
    new: User | None = None
    if username:
        new = session.exec(select(User).where(User.username == username)).first()
        if new is None or not new.active:
            raise Invalid(f"assignee: there is no active user '{username}'")
        if not Caller.of(new).works_tickets:
            raise Invalid(f"assignee: '{username}' does not work tickets")
        # Assigned work must be visible to the one it is assigned to, or it is silently lost.
        routed = agencies_of(session, [ticket.id])[ticket.id]
        if not may_see(Caller.of(new), routed, pending_referral_agencies(session, ticket.id)):
            raise Invalid(
                f"assignee: '{username}' cannot see this ticket (it is routed to "
                f"{', '.join(routed) or 'no agency'}); route it to their agency first"
            )
    if (old.id if old else None) == (new.id if new else None):
        return
    if claim and old is not None and old.id != caller.user_id:
        raise Conflict(
            f"the ticket is already assigned to '{old.username}'; to reassign it, send the "
            "version you loaded with the new assignee"
        )
    ticket.assignee_id = new.id if new else None
    _event(session, ticket, caller.username, "assignee", old.username if old else None, username)


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
    """Notes never conflict: concurrent notes on one ticket are all kept."""
    note = Note(ticket_id=ticket.id, author=caller.username, text=text)
    session.add(note)
    _event(session, ticket, caller.username, "note", None, None)
    _bump(session, ticket, utcnow())
    session.refresh(note)
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
    # The agencies may have changed while the referral waited (an operator routed the ticket
    # there meanwhile): accepting adds the agency only if it is not there yet.
    if accept and session.get(TicketAgency, (ticket.id, referral.to_agency)) is None:
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


def decided_meanwhile(
    session: Session, caller: Caller, ticket_id: str, referral_id: int
) -> Referral | None:
    """The referral, when the caller's agency was its addressee and it was decided already.

    A returned referral takes the ticket out of the receiving agency's sight, so a colleague's
    decision racing the return would otherwise be told the ticket does not exist. The agency
    knew of the ticket through this very referral; telling it the referral's fate reveals
    nothing new."""
    referral = session.get(Referral, referral_id)
    if referral is None or referral.ticket_id != ticket_id:
        return None
    if referral.state == ReferralState.pending or referral.to_agency not in caller.agencies:
        return None
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
    _event(session, ticket, caller.username, "reply_queued", None, ticket.channel)
    # Replies, like notes, never conflict with each other or with an edit.
    _bump(session, ticket, utcnow(), first_response=True)
    session.refresh(reply)
    return reply


def append_reporter_message(
    session: Session,
    settings: Settings,
    caller: Caller,
    ticket: Ticket,
    body: ReporterMessageIn,
    _attempt: int = 0,
) -> tuple[TicketMessage, bool]:
    """Appends a further message and the information it brings; a retried delivery of the
    same message_id is a no-op.

    A message adds, it never takes away: the reporter's phone number is never replaced (a
    different one is kept with the message), priority only rises (rules/priority.py), and a
    message from another sender (rules/senders.py) changes nothing but its own flag."""
    if body.message_id:
        existing = session.exec(
            select(TicketMessage).where(
                TicketMessage.ticket_id == ticket.id, TicketMessage.dedupe_key == body.message_id
            )
        ).first()
        if existing is not None:
            return existing, False
    try:
        province = province_in_force(settings, body.province)
    except UnknownValue as exc:
        raise Invalid(str(exc)) from None
    actor = caller.username
    now = utcnow()
    sender = sender_of(ticket.sender_ref, body.sender_ref)
    message = TicketMessage(
        ticket_id=ticket.id,
        direction="in",
        text=body.text,
        at=body.at or now,
        dedupe_key=body.message_id,
        sender=sender,
    )
    session.add(message)
    if sender == ANOTHER_SENDER:
        # Someone else who knows the code: heard, shown to staff as such, trusted with nothing.
        _event(session, ticket, actor, "another_sender_message", None, _offered(body))
        ticket.other_sender = True
    else:
        _event(session, ticket, actor, "reporter_message", None, None)
        _apply_details(session, settings, ticket, actor, body, province, message)
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
    record(
        session,
        actor,
        "message",
        ticket.id,
        "from another sender" if sender == ANOTHER_SENDER else None,
    )
    session.commit()
    return message, True


def _offered(body: ReporterMessageIn) -> str | None:
    """Which details another sender's message offered and were not applied (names only)."""
    names = [
        n for n in ("province", "country", "phone", "priority", "location") if getattr(body, n)
    ]
    return f"not applied: {', '.join(names)}" if names else None


def _apply_details(
    session: Session,
    settings: Settings,
    ticket: Ticket,
    actor: str,
    body: ReporterMessageIn,
    province: str | None,
    message: TicketMessage,
) -> None:
    for name, value in (("province", province), ("country", body.country)):
        if value is not None and value != getattr(ticket, name):
            _event(session, ticket, actor, name, getattr(ticket, name), value)
            setattr(ticket, name, value)
    if body.location is not None:
        ticket.location = body.location.model_dump()
        _event(session, ticket, actor, "location", None, "shared")
    if body.phone is not None and body.phone != ticket.reporter_phone:
        if ticket.reporter_phone is None and not ticket.anonymous:
            ticket.reporter_phone = body.phone
            ticket.phone_hash = get_cipher().blind_index("phone", body.phone)
            _event(session, ticket, actor, "reporter_phone", None, "added")
        else:
            # Contact data is never overwritten: the number stays with the message for staff.
            message.phone = body.phone
            _event(session, ticket, actor, "phone_offered", None, "kept with the message")
    if raises(ticket.priority, body.priority):
        _event(session, ticket, actor, "priority", ticket.priority, body.priority)
        ticket.priority = str(body.priority)
        ticket.due_at = due_at(settings.service_levels_hours, ticket.priority, ticket.created_at)


def claim_replies(
    session: Session,
    settings: Settings,
    caller: Caller,
    limit: int,
    channels: list[str] | None = None,
) -> list[OutboundReply]:
    """Leases queued replies (and those whose lease ran out) of the tickets the calling bot
    filed, to the calling bot process.

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
        .where(col(Reply.ticket_id).in_(select(Ticket.id).where(filed_by_clause(caller))))
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
            "lease_until",
            lease,
            {"id": reply.id, "state": reply.state},
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
    """Records the bot's report on a reply of a ticket it filed (LookupError for any other).

    Idempotent and race-free: the reply moves in one conditional UPDATE, so of concurrent or
    repeated reports one changes it and the others change nothing. A delivery is final; a
    failure only counts for a reply being sent."""
    reply = session.exec(
        select(Reply)
        .where(Reply.id == reply_id)
        .where(col(Reply.ticket_id).in_(select(Ticket.id).where(filed_by_clause(caller))))
    ).first()
    if reply is None:
        raise LookupError(reply_id)
    now = utcnow()
    if delivered:
        values: dict[str, object] = {
            "state": ReplyState.delivered,
            "lease_until": None,
            "last_error": None,
            "delivered_at": now,
        }
        still = col(Reply.state) != ReplyState.delivered
    else:
        values = {
            "state": ReplyState.failed,
            "lease_until": None,
            "last_error": (error or "delivery failed")[:500],
        }
        still = col(Reply.state) == ReplyState.sending
    moved = session.execute(
        update(Reply)
        .where(col(Reply.id) == reply_id, still)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    ticket = session.get(Ticket, reply.ticket_id)
    assert ticket is not None
    outcome = "delivered" if delivered else "failed"
    record(session, caller.username, "delivery_result", ticket.id, f"reply {reply_id} {outcome}")
    if moved.rowcount == 1:  # type: ignore[attr-defined]
        _event(session, ticket, caller.username, f"reply_{outcome}", None, str(reply_id))
        _bump(session, ticket, now)
    else:
        session.commit()
    session.refresh(reply)
    return reply


def retry_reply(session: Session, caller: Caller, ticket: Ticket, reply_id: int) -> Reply:
    reply = session.get(Reply, reply_id)
    if reply is None or reply.ticket_id != ticket.id:
        raise LookupError(reply_id)
    # One conditional UPDATE: of two people pressing retry at once, one queues it again.
    moved = session.execute(
        update(Reply)
        .where(col(Reply.id) == reply_id, col(Reply.state) == ReplyState.failed)
        .values(state=ReplyState.queued)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        session.refresh(reply)
        raise Conflict(
            f"only a failed reply can be retried; this one is {reply.state} (reload the ticket)"
        )
    _event(session, ticket, caller.username, "reply_retry", None, str(reply.id))
    _bump(session, ticket, utcnow())
    session.refresh(reply)
    return reply

"""One ticket: what was said, what the bot understood, what staff did, and the buttons to work
it. Every button calls the same `intake_api.workflow` function as the API's route; a ticket
the person may not see is a 404 page, as in the API."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlmodel import Session, select

from intake_api.assignees import assignable_users
from intake_api.calls import RecordingUnavailable, fetch_recording, record_callback
from intake_api.console.flags import flags_of
from intake_api.console.queue import minutes_left
from intake_api.console.session import ConsoleSession
from intake_api.console.web import (
    PREFIX,
    SignedIn,
    form_of,
    go,
    page,
    render_text,
    require,
    settings_of,
)
from intake_api.db import utcnow
from intake_api.deps import SessionDep
from intake_api.enums import REPLYABLE_CHANNELS, Priority, ReferralState, ReplyState, Status
from intake_api.identity import TICKET_ROLES
from intake_api.models import Reply, Ticket
from intake_api.rules.lifecycle import LEGAL_MOVES, illegal_move_reason, is_closed
from intake_api.schemas import (
    CallbackIn,
    NoteIn,
    ReferralDecision,
    ReferralIn,
    ReplyIn,
    TicketDetail,
    TicketPatch,
)
from intake_api.tickets import TicketNotFound, detail, find_by_reference, get_visible
from intake_api.workflow import (
    Conflict,
    Forbidden,
    Invalid,
    add_note,
    apply_patch,
    decide_referral,
    queue_reply,
    refer,
    retry_reply,
)

router = APIRouter(prefix=f"{PREFIX}/tickets", include_in_schema=False)

_TICKET_ID = re.compile(r"^[0-9A-Za-z_\-]{1,64}$")
# The order moves are offered in: along the lifecycle, closing last.
_MOVE_ORDER = [
    Status.acknowledged,
    Status.in_progress,
    Status.resolved,
    Status.unfounded,
    Status.duplicate,
]


class _Gone(Exception):
    """Not there, or not for this person (one answer for both: no existence oracle)."""


def _load(db: Session, sess: ConsoleSession, ticket_id: str) -> Ticket:
    if not _TICKET_ID.match(ticket_id):
        raise _Gone
    try:
        return get_visible(db, sess.caller, ticket_id)
    except TicketNotFound:
        raise _Gone from None


def _not_found(request: Request, sess: ConsoleSession) -> Response:
    return page(request, sess, "error.html", 404, reason="not_found")


def legal_moves(status: str) -> list[str]:
    allowed = LEGAL_MOVES[Status(status)]
    return [s.value for s in _MOVE_ORDER if s in allowed]


def chat(d: TicketDetail) -> list[dict[str, Any]]:
    """The transcript and the staff replies in time order, each marked with who spoke."""
    entries: list[dict[str, Any]] = [
        {
            "kind": "reporter" if m.direction == "in" else "bot",
            "text": m.text,
            "at": m.at,
            "another_sender": getattr(m, "sender", None) == "another_sender",
        }
        for m in d.transcript
    ]
    entries += [
        {
            "kind": "staff",
            "text": r.text,
            "at": r.created_at,
            "author": r.author,
            "reply_id": r.id,
            "state": r.state,
            "reply": r,
            "another_sender": False,
        }
        for r in d.replies
    ]
    return sorted(entries, key=lambda e: e["at"])


def entities(d: TicketDetail) -> list[dict[str, Any]]:
    found = (d.nlu or {}).get("entities") or []
    return [
        {"entity": str(e["entity"]), "value": e.get("value"), "text": e.get("text")}
        for e in found
        if isinstance(e, dict) and "entity" in e
    ]


@router.get("/{ticket_id}")
def ticket_page(ticket_id: str, request: Request, sess: SignedIn, db: SessionDep) -> Response:
    require(sess, TICKET_ROLES)
    try:
        ticket = _load(db, sess, ticket_id)
    except _Gone:
        return _not_found(request, sess)
    d = detail(db, sess.caller, ticket)  # writes the audit record of this view
    settings = settings_of(request)
    caller = sess.caller
    moves = legal_moves(ticket.status)
    failed = any(r.state == ReplyState.failed for r in d.replies)
    owed = any(c.kind == "callback" and c.state == "open" for c in d.calls)
    return page(
        request,
        sess,
        "ticket.html",
        d=d,
        chat=chat(d),
        entities=entities(d),
        flags=flags_of(ticket, failed, owed),
        minutes_left=minutes_left(ticket, utcnow()),
        status_moves=[m for m in moves if m != Status.duplicate],
        can_mark_duplicate=Status.duplicate in moves,
        assignable=[u.username for u in assignable_users(db, ticket.id)],
        # Shown only where apply_patch would accept it (it refuses everyone else).
        can_change_priority=caller.sees_all_tickets,
        priorities=[p.value for p in Priority],
        agency_names={a.code: a.name for a in settings.agencies},
        refer_targets=[a for a in settings.agencies if a.code not in d.agencies],
        # workflow.refer refuses a closed ticket and a second pending referral.
        can_refer=not is_closed(ticket.status) and ticket.status != Status.referred,
        decidable={
            r.id
            for r in d.referrals
            if r.state == ReferralState.pending
            and (caller.sees_all_tickets or r.to_agency in caller.agencies)
        },
        replyable=ticket.channel in REPLYABLE_CHANNELS,
    )


@router.get("/{ticket_id}/replies")
def reply_states(ticket_id: str, request: Request, sess: SignedIn, db: SessionDep) -> Response:
    """Delivery states for the page to update in place (no text: nothing to audit)."""
    require(sess, TICKET_ROLES)
    try:
        ticket = _load(db, sess, ticket_id)
    except _Gone:
        return JSONResponse(status_code=404, content={"detail": "No such ticket."})
    rows = db.exec(select(Reply).where(Reply.ticket_id == ticket.id)).all()
    return JSONResponse(
        {"replies": {str(r.id): render_text("console/_reply_state.html", r=r) for r in rows}},
        headers={"Cache-Control": "no-store"},
    )


# --- actions -------------------------------------------------------------------------------

Action = Callable[[Session, ConsoleSession, Ticket, Any, Request], str]


async def _act(
    ticket_id: str,
    request: Request,
    sess: ConsoleSession,
    db: Session,
    action: Action,
    anchor: str = "",
) -> Response:
    require(sess, TICKET_ROLES)
    form = await form_of(request, sess)
    try:
        ticket = _load(db, sess, ticket_id)
    except _Gone:
        return _not_found(request, sess)
    try:
        ok = action(db, sess, ticket, form, request)
    except _Refused as exc:
        return go(request, sess, f"/tickets/{ticket_id}", anchor, err=exc.code)
    except Conflict:
        db.rollback()
        return go(request, sess, f"/tickets/{ticket_id}", anchor, err="conflict")
    except Forbidden:
        db.rollback()
        return go(request, sess, f"/tickets/{ticket_id}", anchor, err="forbidden")
    except (Invalid, ValidationError):
        db.rollback()
        return go(request, sess, f"/tickets/{ticket_id}", anchor, err="invalid")
    return go(request, sess, f"/tickets/{ticket_id}", anchor, ok=ok)


class _Refused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _version(form: Any) -> int | None:
    value = _field(form, "version")
    return int(value) if value.isdigit() and len(value) < 12 else None


def _patch(db: Session, request: Request, sess: ConsoleSession, t: Ticket, **fields: Any) -> None:
    apply_patch(db, settings_of(request), sess.caller, t, TicketPatch(**fields))


def _claim(db: Session, sess: ConsoleSession, t: Ticket, form: Any, request: Request) -> str:
    fields: dict[str, Any] = {"assignee": sess.caller.username, "version": _version(form)}
    if t.status == Status.new:
        fields["status"] = Status.acknowledged  # taking a new tip is its first response
    _patch(db, request, sess, t, **fields)
    return "claimed"


def _assign(db: Session, sess: ConsoleSession, t: Ticket, form: Any, request: Request) -> str:
    username = _field(form, "assignee")
    if username and username not in {u.username for u in assignable_users(db, t.id)}:
        raise _Refused("not_assignable")
    _patch(db, request, sess, t, assignee=username or None, version=_version(form))
    return "assigned"


def _status(db: Session, sess: ConsoleSession, t: Ticket, form: Any, request: Request) -> str:
    target = _field(form, "status")
    if target not in legal_moves(t.status) or target == Status.duplicate:
        raise _Refused("illegal_move")
    _patch(db, request, sess, t, status=target, version=_version(form))
    return "status"


def _priority(db: Session, sess: ConsoleSession, t: Ticket, form: Any, request: Request) -> str:
    _patch(db, request, sess, t, priority=_field(form, "priority"), version=_version(form))
    return "priority"


def _refer(db: Session, sess: ConsoleSession, t: Ticket, form: Any, request: Request) -> str:
    body = ReferralIn(to_agency=_field(form, "to_agency"), reason=_field(form, "reason"))
    refer(db, settings_of(request), sess.caller, t, body.to_agency, body.reason)
    return "referred"


def _row_id(value: str, missing: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise _Refused(missing)
    return int(value)


def _decision(accept: bool, referral_id: str) -> Action:
    def decide(db: Session, sess: ConsoleSession, t: Ticket, form: Any, request: Request) -> str:
        body = ReferralDecision(note=_field(form, "note") or None)
        try:
            decide_referral(
                db, sess.caller, t, _row_id(referral_id, "no_referral"), accept, body.note
            )
        except LookupError:
            raise _Refused("no_referral") from None
        return "accepted" if accept else "returned"

    return decide


def _duplicate(db: Session, sess: ConsoleSession, t: Ticket, form: Any, request: Request) -> str:
    """There is no 'duplicate of' link on a ticket: the link is a note naming the original,
    written with the move to `duplicate`."""
    original = find_by_reference(db, _field(form, "original")[:32])
    if original is not None:
        try:
            original = get_visible(db, sess.caller, original.id)
        except TicketNotFound:
            original = None
    if original is None:
        raise _Refused("no_original")
    if original.id == t.id:
        raise _Refused("same_ticket")
    if illegal_move_reason(t.status, Status.duplicate) is not None:
        raise _Refused("illegal_move")
    _patch(db, request, sess, t, status=Status.duplicate, version=_version(form))
    text = render_text("console/notes/duplicate.txt", code=original.reference_code).strip()
    add_note(db, sess.caller, t, text)
    return "duplicate"


def _reply(db: Session, sess: ConsoleSession, t: Ticket, form: Any, request: Request) -> str:
    body = ReplyIn(text=_field(form, "text"))
    try:
        queue_reply(db, sess.caller, t, body.text)
    except Conflict:
        raise _Refused("reply_impossible") from None
    return "replied"


def _retry(reply_id: str) -> Action:
    def retry(db: Session, sess: ConsoleSession, t: Ticket, form: Any, request: Request) -> str:
        try:
            retry_reply(db, sess.caller, t, _row_id(reply_id, "no_reply"))
        except LookupError:
            raise _Refused("no_reply") from None
        return "retried"

    return retry


def _callback(call_id: str) -> Action:
    def called(db: Session, sess: ConsoleSession, t: Ticket, form: Any, request: Request) -> str:
        body = CallbackIn(outcome=_field(form, "outcome"))
        try:
            record_callback(db, sess.caller, t, _row_id(call_id, "no_callback"), body)
        except LookupError:
            raise _Refused("no_callback") from None
        return "called_back"

    return called


def _note(db: Session, sess: ConsoleSession, t: Ticket, form: Any, request: Request) -> str:
    body = NoteIn(text=_field(form, "text"))
    add_note(db, sess.caller, t, body.text)
    return "noted"


@router.post("/{ticket_id}/claim")
async def claim(ticket_id: str, request: Request, sess: SignedIn, db: SessionDep) -> Response:
    return await _act(ticket_id, request, sess, db, _claim)


@router.post("/{ticket_id}/assign")
async def assign(ticket_id: str, request: Request, sess: SignedIn, db: SessionDep) -> Response:
    return await _act(ticket_id, request, sess, db, _assign)


@router.post("/{ticket_id}/status")
async def status(ticket_id: str, request: Request, sess: SignedIn, db: SessionDep) -> Response:
    return await _act(ticket_id, request, sess, db, _status)


@router.post("/{ticket_id}/priority")
async def priority(ticket_id: str, request: Request, sess: SignedIn, db: SessionDep) -> Response:
    return await _act(ticket_id, request, sess, db, _priority)


@router.post("/{ticket_id}/referrals")
async def post_referral(
    ticket_id: str, request: Request, sess: SignedIn, db: SessionDep
) -> Response:
    return await _act(ticket_id, request, sess, db, _refer, "referrals")


@router.post("/{ticket_id}/referrals/{referral_id}/accept")
async def accept(
    ticket_id: str, referral_id: str, request: Request, sess: SignedIn, db: SessionDep
) -> Response:
    return await _act(ticket_id, request, sess, db, _decision(True, referral_id), "referrals")


@router.post("/{ticket_id}/referrals/{referral_id}/return")
async def give_back(
    ticket_id: str, referral_id: str, request: Request, sess: SignedIn, db: SessionDep
) -> Response:
    return await _act(ticket_id, request, sess, db, _decision(False, referral_id), "referrals")


@router.post("/{ticket_id}/duplicate")
async def duplicate(ticket_id: str, request: Request, sess: SignedIn, db: SessionDep) -> Response:
    return await _act(ticket_id, request, sess, db, _duplicate)


@router.post("/{ticket_id}/replies")
async def reply(ticket_id: str, request: Request, sess: SignedIn, db: SessionDep) -> Response:
    return await _act(ticket_id, request, sess, db, _reply, "chat")


@router.post("/{ticket_id}/replies/{reply_id}/retry")
async def retry(
    ticket_id: str, reply_id: str, request: Request, sess: SignedIn, db: SessionDep
) -> Response:
    return await _act(ticket_id, request, sess, db, _retry(reply_id), "chat")


@router.post("/{ticket_id}/callbacks/{call_id}")
async def call_back(
    ticket_id: str, call_id: str, request: Request, sess: SignedIn, db: SessionDep
) -> Response:
    return await _act(ticket_id, request, sess, db, _callback(call_id), "calls")


@router.get("/{ticket_id}/recordings/{call_id}")
def recording(
    ticket_id: str, call_id: str, request: Request, sess: SignedIn, db: SessionDep
) -> Response:
    """A call's recording for the page's player: fetched by the server with its Twilio
    credentials, audited as a listening (intake_api.calls)."""
    require(sess, TICKET_ROLES)
    try:
        ticket = _load(db, sess, ticket_id)
        audio = fetch_recording(
            db, settings_of(request), sess.caller, ticket, _row_id(call_id, "no_callback")
        )
    except (_Gone, _Refused, LookupError):
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    except RecordingUnavailable:
        return Response(status_code=503, headers={"Cache-Control": "no-store", "Retry-After": "30"})
    return Response(
        audio.content, media_type=audio.media_type, headers={"Cache-Control": "no-store"}
    )


@router.post("/{ticket_id}/notes")
async def note(ticket_id: str, request: Request, sess: SignedIn, db: SessionDep) -> Response:
    return await _act(ticket_id, request, sess, db, _note, "notes")

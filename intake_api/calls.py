"""What phone calls leave on their tickets (docs/api.md, Calls): each forwarding leg's
outcome, recordings, and the call-back tasks staff work; and a recording's audio, fetched
from Twilio with the server's credentials so staff never hold them.

Every record is unique per ticket on the filer's key: a replayed platform callback or the
bot's retried delivery adds nothing. Each new record leaves an event on the ticket.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from intake_api.audit import record
from intake_api.config import Settings
from intake_api.db import utcnow
from intake_api.identity import Caller
from intake_api.models import CallRecord, Ticket
from intake_api.schemas import CallbackIn, CallRecordIn, LegRecordIn, RecordingRecordIn
from intake_api.workflow import Conflict, _bump, _event

TWILIO_API = "https://api.twilio.com"
FETCH_TIMEOUT_SECONDS = 15.0
# An hour of 8 kHz audio as MP3 is far below this; anything larger is not a call recording.
MAX_RECORDING_BYTES = 64 * 1024 * 1024

OPEN, DONE = "open", "done"


def record_call(
    session: Session, caller: Caller, ticket: Ticket, body: CallRecordIn
) -> tuple[CallRecord, bool]:
    """Adds the record unless its key is already on the ticket; (record, created)."""
    existing = _by_key(session, ticket.id, body.key)
    if existing is not None:
        return existing, False
    row = CallRecord(
        ticket_id=ticket.id, dedupe_key=body.key, kind=body.kind, call_sid=body.call_sid
    )
    if isinstance(body, LegRecordIn):
        row.target, row.outcome = body.target, body.outcome
        row.duration_seconds = body.duration_seconds
        _event(session, ticket, caller.username, "call_leg", body.target, body.outcome)
    elif isinstance(body, RecordingRecordIn):
        row.target, row.duration_seconds = body.purpose, body.duration_seconds
        row.recording_sid, row.recording_url = body.recording_sid, body.recording_url
        seconds = f"{body.duration_seconds} s" if body.duration_seconds is not None else None
        _event(session, ticket, caller.username, "call_recording", body.purpose, seconds)
    else:
        row.target, row.state = body.reason, OPEN
        _event(session, ticket, caller.username, "callback_needed", None, body.reason)
    session.add(row)
    record(session, caller.username, "call", ticket.id, f"{body.kind} {body.key}"[:500])
    try:
        _bump(session, ticket, utcnow())
    except IntegrityError:
        # The same key delivered twice at once: the other one stored it.
        session.rollback()
        again = _by_key(session, ticket.id, body.key)
        if again is None:
            raise
        return again, False
    session.refresh(row)
    return row, True


def _by_key(session: Session, ticket_id: str, key: str) -> CallRecord | None:
    return session.exec(
        select(CallRecord).where(CallRecord.ticket_id == ticket_id, CallRecord.dedupe_key == key)
    ).first()


def record_callback(
    session: Session, caller: Caller, ticket: Ticket, callback_id: int, body: CallbackIn
) -> CallRecord:
    """A call-back a staff member made on a task of this ticket (LookupError for another's)."""
    task = session.get(CallRecord, callback_id)
    if task is None or task.ticket_id != ticket.id or task.kind != "callback":
        raise LookupError(callback_id)
    if task.state != OPEN:
        raise Conflict(f"this call-back was already made by '{task.done_by}'; reload the ticket")
    task.attempts += 1
    if body.outcome in ("reached", "wrong_number"):
        task.state, task.done_by, task.done_at = DONE, caller.username, utcnow()
    task.outcome = body.outcome
    session.add(task)
    _event(session, ticket, caller.username, "callback_made", task.target, body.outcome)
    # Calling the reporter back is a response to the ticket.
    _bump(session, ticket, utcnow(), first_response=True)
    session.refresh(task)
    return task


class RecordingUnavailable(Exception):
    """The audio cannot be fetched now (Twilio unreachable, credentials not configured)."""


@dataclass(frozen=True)
class Audio:
    content: bytes
    media_type: str


def recording_of(session: Session, ticket: Ticket, call_id: int) -> CallRecord:
    row = session.get(CallRecord, call_id)
    if row is None or row.ticket_id != ticket.id or row.recording_sid is None:
        raise LookupError(call_id)
    return row


def fetch_recording(
    session: Session,
    settings: Settings,
    caller: Caller,
    ticket: Ticket,
    call_id: int,
    client: httpx.Client | None = None,
) -> Audio:
    """The recording's audio (MP3), fetched from Twilio with the server's credentials; the
    listening is audited. The URL is built from the recording's id and the configured
    account, never taken from what was stored, so no request can aim the server elsewhere."""
    row = recording_of(session, ticket, call_id)
    record(session, caller.username, "listen", ticket.id, f"recording {call_id}")
    session.commit()
    sid, token = settings.twilio_account_sid, settings.twilio_auth_token
    if not (sid and token):
        raise RecordingUnavailable(
            "recordings cannot be played: HOTLINE_TWILIO_ACCOUNT_SID and "
            "HOTLINE_TWILIO_AUTH_TOKEN are not set on the API"
        )
    base = (settings.twilio_api_base or TWILIO_API).rstrip("/")
    url = f"{base}/2010-04-01/Accounts/{sid}/Recordings/{row.recording_sid}.mp3"
    own = client is None
    http = client or httpx.Client(timeout=FETCH_TIMEOUT_SECONDS)
    try:
        response = http.get(url, auth=(sid, token))
    except httpx.HTTPError as exc:
        raise RecordingUnavailable(f"Twilio could not be reached ({type(exc).__name__})") from None
    finally:
        if own:
            http.close()
    if response.status_code == 404:
        raise LookupError(call_id)  # deleted at Twilio
    if response.status_code != 200:
        raise RecordingUnavailable(f"Twilio answered HTTP {response.status_code}")
    if len(response.content) > MAX_RECORDING_BYTES:
        raise RecordingUnavailable("the recording is larger than any call recording can be")
    media = response.headers.get("content-type", "audio/mpeg").split(";")[0].strip()
    return Audio(response.content, media if media.startswith("audio/") else "audio/mpeg")

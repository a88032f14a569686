"""What service accounts call (docs/api.md, Roles): filing and following up on their own
tickets (the bot and partners), reporter look-ups (the bot alone)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Response, status
from sqlmodel import col, select

from intake_api.audit import record
from intake_api.calls import record_call
from intake_api.deps import BotDep, FilerDep, SessionDep, SettingsDep, get_state
from intake_api.enums import CLOSED_STATUSES
from intake_api.errors import SIGNED_IN, WITH_BODY, error_responses
from intake_api.intake import IdempotencyConflict, ReferenceCodeTaken, create_ticket
from intake_api.models import Ticket
from intake_api.routes.tickets import TicketId
from intake_api.rules.visibility import filed_by_clause
from intake_api.schemas import (
    NO_NUL_PATTERN,
    AppendOut,
    CallRecordAck,
    CallRecordIn,
    IntakeIn,
    IntakeOut,
    ReporterByChannel,
    ReporterLookupIn,
    ReporterMessageIn,
    StatusLookupOut,
    TicketSummary,
)
from intake_api.state import AppState
from intake_api.tickets import find_filed_by_reference, get_filed, lookup_status, summaries
from intake_api.workflow import append_reporter_message

router = APIRouter(prefix="/api/v1", tags=["intake"], responses=error_responses(*SIGNED_IN))

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="A unique key per intake; a replay with the same key returns the same ticket.",
    ),
]
# A reference code as a person typed it (any case, a space or no dash).
CodeParam = Annotated[str, Path(min_length=1, max_length=40, pattern=NO_NUL_PATTERN)]


@router.post(
    "/intake",
    status_code=status.HTTP_201_CREATED,
    response_model=IntakeOut,
    responses={
        200: {"model": IntakeOut, "description": "A replay of an earlier intake"},
        **error_responses(409, *WITH_BODY),
    },
)
def intake(
    body: IntakeIn,
    idempotency_key: IdempotencyKey,
    response: Response,
    caller: FilerDep,
    session: SessionDep,
    settings: SettingsDep,
    state: Annotated[AppState, Depends(get_state)],
) -> IntakeOut:
    """A new ticket, filed by a service account (the bot or a partner), which alone follows
    up on it. A pre-2025 province name is stored as the unit that absorbed it."""
    try:
        ticket, created = create_ticket(
            session, settings, state.cipher, body, idempotency_key, caller
        )
    except IdempotencyConflict:
        raise HTTPException(
            status_code=status.HTTP_409_CONFLICT,
            detail="This Idempotency-Key was already used for a different intake; use a new key.",
        ) from None
    except ReferenceCodeTaken as exc:
        raise HTTPException(
            status_code=status.HTTP_409_CONFLICT,
            detail=f"reference_code: {exc} already belongs to another ticket; draw another code.",
        ) from None
    if not created:
        response.status_code = status.HTTP_200_OK
    return IntakeOut.model_validate(ticket, from_attributes=True)


@router.get(
    "/tickets/by-reference/{code}",
    response_model=StatusLookupOut,
    responses=error_responses(404),
)
def status_by_reference(code: CodeParam, caller: FilerDep, session: SessionDep) -> StatusLookupOut:
    """Status only, for a reporter's follow-up, of a ticket this account filed: never
    personal data, and the same answer whoever asks."""
    ticket = lookup_status(session, caller, code)
    return StatusLookupOut.model_validate(ticket, from_attributes=True)


@router.post(
    "/tickets/by-reference/{code}/messages",
    status_code=201,
    response_model=AppendOut,
    responses=error_responses(404, 409, *WITH_BODY),
)
def append_by_reference(
    code: CodeParam,
    body: ReporterMessageIn,
    caller: FilerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> AppendOut:
    """A further message, addressed by the code the reporter was given, to a ticket this
    account filed. From another sender (`sender_ref`), it is kept and flagged, nothing else."""
    ticket = find_filed_by_reference(session, caller, code)
    _, created = append_reporter_message(session, settings, caller, ticket, body)
    return AppendOut(ticket_id=ticket.id, appended=created)


@router.post(
    "/tickets/by-reference/{code}/calls",
    status_code=201,
    response_model=CallRecordAck,
    responses={
        200: {"model": CallRecordAck, "description": "This key was already recorded"},
        **error_responses(404, *WITH_BODY),
    },
)
def call_by_reference(
    code: CodeParam,
    body: CallRecordIn,
    response: Response,
    caller: BotDep,
    session: SessionDep,
) -> CallRecordAck:
    """The configured bot only: what a phone call left on a ticket it filed (a forwarding
    leg's outcome, a recording, a call-back owed), each an event on the ticket. The same
    `key` again records nothing (`200`)."""
    ticket = find_filed_by_reference(session, caller, code)
    _, created = record_call(session, caller, ticket, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return CallRecordAck(ticket_id=ticket.id, recorded=created)


@router.post(
    "/tickets/{ticket_id}/messages",
    status_code=201,
    response_model=AppendOut,
    responses=error_responses(404, 409, *WITH_BODY),
)
def append_message(
    ticket_id: TicketId,
    body: ReporterMessageIn,
    caller: FilerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> AppendOut:
    """A further message to a ticket this account filed (as by reference code)."""
    ticket = get_filed(session, caller, ticket_id)
    _, created = append_reporter_message(session, settings, caller, ticket, body)
    return AppendOut(ticket_id=ticket.id, appended=created)


@router.post(
    "/reporters/open-tickets",
    response_model=list[TicketSummary],
    responses=error_responses(*WITH_BODY),
)
def reporter_open_tickets(
    body: Annotated[ReporterLookupIn, Body()],
    caller: BotDep,
    session: SessionDep,
    state: Annotated[AppState, Depends(get_state)],
) -> list[TicketSummary]:
    """The configured bot only: a reporter's open tickets among those it filed, found by blind
    index without decrypting anything.

    A POST, so the channel id or phone number never lands in a URL or an access log.
    """
    cipher = state.cipher
    if isinstance(body, ReporterByChannel):
        clause = Ticket.reporter_hash == cipher.blind_index(body.channel, body.channel_user_id)
    else:
        clause = Ticket.phone_hash == cipher.blind_index("phone", body.phone)
    rows = session.exec(
        select(Ticket)
        .where(clause, filed_by_clause(caller), col(Ticket.status).not_in(list(CLOSED_STATUSES)))
        .order_by(col(Ticket.created_at).desc())
    ).all()
    record(session, caller.username, "reporter_lookup", None, f"{len(rows)} open tickets")
    session.commit()
    return summaries(session, list(rows))

"""What the bot (role `service`) calls: intake, further messages, status look-ups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Response, status
from sqlmodel import col, select

from intake_api.audit import record
from intake_api.deps import ServiceDep, SessionDep, SettingsDep, get_state
from intake_api.enums import CLOSED_STATUSES
from intake_api.intake import (
    IdempotencyConflict,
    ReferenceCodeTaken,
    UnknownValue,
    create_ticket,
)
from intake_api.models import Ticket
from intake_api.routes.tickets import TicketId
from intake_api.schemas import (
    IntakeIn,
    IntakeOut,
    ReporterLookupIn,
    ReporterMessageIn,
    StatusLookupOut,
    TicketSummary,
)
from intake_api.state import AppState
from intake_api.tickets import find_by_reference, summaries
from intake_api.workflow import Invalid, append_reporter_message

router = APIRouter(prefix="/api/v1", tags=["intake"])

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


@router.post(
    "/intake",
    status_code=status.HTTP_201_CREATED,
    response_model=IntakeOut,
    responses={200: {"model": IntakeOut, "description": "A replay of an earlier intake"}},
)
def intake(
    body: IntakeIn,
    idempotency_key: IdempotencyKey,
    response: Response,
    caller: ServiceDep,
    session: SessionDep,
    settings: SettingsDep,
    state: Annotated[AppState, Depends(get_state)],
) -> IntakeOut:
    try:
        ticket, created = create_ticket(
            session, settings, state.cipher, body, idempotency_key, caller.username
        )
    except IdempotencyConflict:
        raise HTTPException(
            status_code=status.HTTP_409_CONFLICT,
            detail="This Idempotency-Key was already used for a different intake; use a new key.",
        ) from None
    except UnknownValue as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    except ReferenceCodeTaken as exc:
        raise HTTPException(
            status_code=status.HTTP_409_CONFLICT,
            detail=f"reference_code: {exc} already belongs to another ticket; draw another code.",
        ) from None
    if not created:
        response.status_code = status.HTTP_200_OK
    return IntakeOut.model_validate(ticket, from_attributes=True)


def _by_code(session: SessionDep, code: str) -> Ticket:
    ticket = find_by_reference(session, code)
    if ticket is None:
        raise HTTPException(status_code=404, detail="No report has this reference code.")
    return ticket


@router.get("/tickets/by-reference/{code}", response_model=StatusLookupOut)
def status_by_reference(code: str, caller: ServiceDep, session: SessionDep) -> StatusLookupOut:
    """Status only, for a reporter's follow-up: never personal data."""
    ticket = _by_code(session, code)
    return StatusLookupOut.model_validate(ticket, from_attributes=True)


@router.post("/tickets/by-reference/{code}/messages", status_code=201)
def append_by_reference(
    code: str,
    body: ReporterMessageIn,
    caller: ServiceDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, object]:
    """A further message from the reporter, addressed by the code they were given."""
    ticket = _by_code(session, code)
    try:
        _, created = append_reporter_message(session, settings, caller, ticket, body)
    except Invalid as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return {"ticket_id": ticket.id, "appended": created}


@router.post("/tickets/{ticket_id}/messages", status_code=201)
def append_message(
    ticket_id: TicketId,
    body: ReporterMessageIn,
    caller: ServiceDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, object]:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise HTTPException(status_code=404, detail=f"No ticket has the id '{ticket_id}'.")
    try:
        _, created = append_reporter_message(session, settings, caller, ticket, body)
    except Invalid as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return {"ticket_id": ticket.id, "appended": created}


@router.post("/reporters/open-tickets", response_model=list[TicketSummary])
def reporter_open_tickets(
    body: Annotated[ReporterLookupIn, Body()],
    caller: ServiceDep,
    session: SessionDep,
    state: Annotated[AppState, Depends(get_state)],
) -> list[TicketSummary]:
    """A reporter's open tickets, found by blind index without decrypting anything.

    A POST, so the channel id or phone number never lands in a URL or an access log.
    """
    cipher = state.cipher
    if body.channel and body.channel_user_id:
        clause = Ticket.reporter_hash == cipher.blind_index(body.channel, body.channel_user_id)
    elif body.phone:
        clause = Ticket.phone_hash == cipher.blind_index("phone", body.phone)
    else:
        raise HTTPException(
            status_code=422, detail="Give either channel and channel_user_id, or phone."
        )
    rows = session.exec(
        select(Ticket)
        .where(clause, col(Ticket.status).not_in(list(CLOSED_STATUSES)))
        .order_by(col(Ticket.created_at).desc())
    ).all()
    record(session, caller.username, "reporter_lookup", None, f"{len(rows)} open tickets")
    session.commit()
    return summaries(session, list(rows))

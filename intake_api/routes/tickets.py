"""Staff working tickets: the queue, one ticket, edits, notes, referrals and replies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from intake_api.deps import Caller, SessionDep, SettingsDep, StaffDep
from intake_api.models import Ticket
from intake_api.routes.filters import ticket_filters
from intake_api.schemas import (
    NoteIn,
    NoteOut,
    ReferralDecision,
    ReferralIn,
    ReferralOut,
    ReplyIn,
    ReplyOut,
    TicketDetail,
    TicketPage,
    TicketPatch,
)
from intake_api.tickets import (
    TicketFilters,
    TicketNotFound,
    detail,
    get_visible,
    list_page,
    summaries,
)
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

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])

# Row ids are bounded so an absurd number is a 422, not a database overflow.
RowId = Annotated[int, Path(ge=1, le=2**62)]
# Ticket ids are 32 hex digits; anything else cannot name a ticket (and a NUL byte would
# otherwise reach PostgreSQL, which refuses it).
TicketId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_\-]+$")]


def load(session: SessionDep, caller: Caller, ticket_id: str) -> Ticket:
    try:
        return get_visible(session, caller, ticket_id)
    except TicketNotFound:
        raise HTTPException(
            status_code=404, detail=f"No ticket has the id '{ticket_id}'."
        ) from None


def _raise_for(exc: Exception) -> None:
    if isinstance(exc, Conflict):
        raise HTTPException(status_code=409, detail=str(exc)) from None
    if isinstance(exc, Forbidden):
        raise HTTPException(status_code=403, detail=str(exc)) from None
    if isinstance(exc, Invalid):
        raise HTTPException(status_code=422, detail=str(exc)) from None
    raise exc


@router.get("", response_model=TicketPage)
def list_tickets(
    caller: StaffDep,
    session: SessionDep,
    filters: Annotated[TicketFilters, Depends(ticket_filters)],
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TicketPage:
    rows, total = list_page(session, caller, filters, page, page_size)
    return TicketPage(items=summaries(session, rows), total=total, page=page, page_size=page_size)


@router.get("/{ticket_id}", response_model=TicketDetail)
def get_ticket(ticket_id: TicketId, caller: StaffDep, session: SessionDep) -> TicketDetail:
    return detail(session, caller, load(session, caller, ticket_id))


@router.patch("/{ticket_id}", response_model=TicketDetail)
def patch_ticket(
    ticket_id: TicketId,
    body: TicketPatch,
    caller: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
) -> TicketDetail:
    ticket = load(session, caller, ticket_id)
    try:
        apply_patch(session, settings, caller, ticket, body)
    except (Conflict, Forbidden, Invalid) as exc:
        _raise_for(exc)
    return detail(session, caller, load(session, caller, ticket_id))


@router.post("/{ticket_id}/notes", response_model=NoteOut, status_code=status.HTTP_201_CREATED)
def post_note(ticket_id: TicketId, body: NoteIn, caller: StaffDep, session: SessionDep) -> NoteOut:
    note = add_note(session, caller, load(session, caller, ticket_id), body.text)
    return NoteOut.model_validate(note, from_attributes=True)


@router.post(
    "/{ticket_id}/referrals", response_model=ReferralOut, status_code=status.HTTP_201_CREATED
)
def post_referral(
    ticket_id: TicketId,
    body: ReferralIn,
    caller: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
) -> ReferralOut:
    ticket = load(session, caller, ticket_id)
    try:
        referral = refer(session, settings, caller, ticket, body.to_agency, body.reason)
    except (Conflict, Invalid) as exc:
        _raise_for(exc)
    return ReferralOut.model_validate(referral, from_attributes=True)


def _decide(
    ticket_id: TicketId,
    referral_id: RowId,
    body: ReferralDecision | None,
    caller: Caller,
    session: SessionDep,
    accept: bool,
) -> ReferralOut:
    ticket = load(session, caller, ticket_id)
    try:
        referral = decide_referral(
            session, caller, ticket, referral_id, accept, body.note if body else None
        )
    except LookupError:
        raise HTTPException(
            status_code=404, detail=f"This ticket has no referral {referral_id}."
        ) from None
    except (Conflict, Forbidden) as exc:
        _raise_for(exc)
    return ReferralOut.model_validate(referral, from_attributes=True)


@router.post("/{ticket_id}/referrals/{referral_id}/accept", response_model=ReferralOut)
def accept_referral(
    ticket_id: TicketId,
    referral_id: RowId,
    caller: StaffDep,
    session: SessionDep,
    body: ReferralDecision | None = None,
) -> ReferralOut:
    return _decide(ticket_id, referral_id, body, caller, session, accept=True)


@router.post("/{ticket_id}/referrals/{referral_id}/return", response_model=ReferralOut)
def return_referral(
    ticket_id: TicketId,
    referral_id: RowId,
    caller: StaffDep,
    session: SessionDep,
    body: ReferralDecision | None = None,
) -> ReferralOut:
    return _decide(ticket_id, referral_id, body, caller, session, accept=False)


@router.post("/{ticket_id}/replies", response_model=ReplyOut, status_code=status.HTTP_201_CREATED)
def post_reply(
    ticket_id: TicketId, body: ReplyIn, caller: StaffDep, session: SessionDep
) -> ReplyOut:
    ticket = load(session, caller, ticket_id)
    try:
        reply = queue_reply(session, caller, ticket, body.text)
    except Conflict as exc:
        _raise_for(exc)
    return ReplyOut.model_validate(reply, from_attributes=True)


@router.post("/{ticket_id}/replies/{reply_id}/retry", response_model=ReplyOut)
def post_reply_retry(
    ticket_id: TicketId, reply_id: RowId, caller: StaffDep, session: SessionDep
) -> ReplyOut:
    ticket = load(session, caller, ticket_id)
    try:
        reply = retry_reply(session, caller, ticket, reply_id)
    except LookupError:
        raise HTTPException(
            status_code=404, detail=f"This ticket has no reply {reply_id}."
        ) from None
    except Conflict as exc:
        _raise_for(exc)
    return ReplyOut.model_validate(reply, from_attributes=True)

"""Staff working tickets: the queue, one ticket, edits, notes, referrals and replies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status

from intake_api.calls import RecordingUnavailable, fetch_recording, record_callback
from intake_api.deps import Caller, SessionDep, SettingsDep, StaffDep
from intake_api.errors import SIGNED_IN, WITH_BODY, error_responses
from intake_api.models import Ticket
from intake_api.routes.filters import ticket_filters
from intake_api.schemas import (
    INT32_MAX,
    INT64_MAX,
    CallbackIn,
    CallOut,
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
    call_out,
    detail,
    get_visible,
    list_page,
    summaries,
)
from intake_api.workflow import (
    Conflict,
    add_note,
    apply_patch,
    decide_referral,
    decided_meanwhile,
    queue_reply,
    refer,
    retry_reply,
)

router = APIRouter(
    prefix="/api/v1/tickets", tags=["tickets"], responses=error_responses(*SIGNED_IN)
)

# Row ids are bounded by their columns, so an absurd number is a 422, not a database overflow.
ReferralId = Annotated[int, Path(ge=1, le=INT32_MAX)]
ReplyId = Annotated[int, Path(ge=1, le=INT64_MAX)]
# Ticket ids are 32 hex digits; anything else cannot name a ticket (and a NUL byte would
# otherwise reach PostgreSQL, which refuses it).
TicketId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_\-]+$")]
ON_A_TICKET = error_responses(404)


def load(session: SessionDep, caller: Caller, ticket_id: str, for_update: bool = False) -> Ticket:
    """The ticket if the caller may see it; 404 otherwise (and a denied one is audited).
    An edit loads it `for_update` (see tickets.get_visible)."""
    return get_visible(session, caller, ticket_id, for_update)


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


@router.get("/{ticket_id}", response_model=TicketDetail, responses=ON_A_TICKET)
def get_ticket(ticket_id: TicketId, caller: StaffDep, session: SessionDep) -> TicketDetail:
    return detail(session, caller, load(session, caller, ticket_id))


@router.patch(
    "/{ticket_id}",
    response_model=TicketDetail,
    responses=error_responses(404, 409, *WITH_BODY),
)
def patch_ticket(
    ticket_id: TicketId,
    body: TicketPatch,
    caller: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
) -> TicketDetail:
    """Status, priority, agencies, assignee. Without `version`, an assignee claims the ticket
    and is refused (409) while someone else holds it; an empty patch changes nothing."""
    ticket = load(session, caller, ticket_id, for_update=True)
    apply_patch(session, settings, caller, ticket, body)
    return detail(session, caller, load(session, caller, ticket_id))


@router.post(
    "/{ticket_id}/notes",
    response_model=NoteOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, *WITH_BODY),
)
def post_note(ticket_id: TicketId, body: NoteIn, caller: StaffDep, session: SessionDep) -> NoteOut:
    """An internal note; notes never conflict, however many are written at once."""
    note = add_note(session, caller, load(session, caller, ticket_id), body.text)
    return NoteOut.model_validate(note, from_attributes=True)


@router.post(
    "/{ticket_id}/referrals",
    response_model=ReferralOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409, *WITH_BODY),
)
def post_referral(
    ticket_id: TicketId,
    body: ReferralIn,
    caller: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
) -> ReferralOut:
    ticket = load(session, caller, ticket_id, for_update=True)
    referral = refer(session, settings, caller, ticket, body.to_agency, body.reason)
    return ReferralOut.model_validate(referral, from_attributes=True)


def _decide(
    ticket_id: str,
    referral_id: int,
    body: ReferralDecision | None,
    caller: Caller,
    session: SessionDep,
    accept: bool,
) -> ReferralOut:
    try:
        ticket = load(session, caller, ticket_id, for_update=True)
    except TicketNotFound:
        # Returned by a colleague a moment ago: say so, not "no such ticket".
        settled = decided_meanwhile(session, caller, ticket_id, referral_id)
        if settled is None:
            raise
        raise Conflict(f"the referral was already {settled.state}") from None
    try:
        referral = decide_referral(
            session, caller, ticket, referral_id, accept, body.note if body else None
        )
    except LookupError:
        raise HTTPException(
            status_code=404, detail=f"This ticket has no referral {referral_id}."
        ) from None
    return ReferralOut.model_validate(referral, from_attributes=True)


DECISION_ERRORS = error_responses(404, 409, *WITH_BODY)


@router.post(
    "/{ticket_id}/referrals/{referral_id}/accept",
    response_model=ReferralOut,
    responses=DECISION_ERRORS,
)
def accept_referral(
    ticket_id: TicketId,
    referral_id: ReferralId,
    caller: StaffDep,
    session: SessionDep,
    body: ReferralDecision | None = None,
) -> ReferralOut:
    """The receiving agency takes the ticket on, whatever happened to its agencies since."""
    return _decide(ticket_id, referral_id, body, caller, session, accept=True)


@router.post(
    "/{ticket_id}/referrals/{referral_id}/return",
    response_model=ReferralOut,
    responses=DECISION_ERRORS,
)
def return_referral(
    ticket_id: TicketId,
    referral_id: ReferralId,
    caller: StaffDep,
    session: SessionDep,
    body: ReferralDecision | None = None,
) -> ReferralOut:
    return _decide(ticket_id, referral_id, body, caller, session, accept=False)


@router.post(
    "/{ticket_id}/replies",
    response_model=ReplyOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409, *WITH_BODY),
)
def post_reply(
    ticket_id: TicketId, body: ReplyIn, caller: StaffDep, session: SessionDep
) -> ReplyOut:
    ticket = load(session, caller, ticket_id)
    reply = queue_reply(session, caller, ticket, body.text)
    return ReplyOut.model_validate(reply, from_attributes=True)


@router.post(
    "/{ticket_id}/replies/{reply_id}/retry",
    response_model=ReplyOut,
    responses=error_responses(404, 409),
)
def post_reply_retry(
    ticket_id: TicketId, reply_id: ReplyId, caller: StaffDep, session: SessionDep
) -> ReplyOut:
    ticket = load(session, caller, ticket_id)
    try:
        reply = retry_reply(session, caller, ticket, reply_id)
    except LookupError:
        raise HTTPException(
            status_code=404, detail=f"This ticket has no reply {reply_id}."
        ) from None
    return ReplyOut.model_validate(reply, from_attributes=True)


CallId = Annotated[int, Path(ge=1, le=INT64_MAX)]


@router.post(
    "/{ticket_id}/callbacks/{call_id}",
    response_model=CallOut,
    responses=error_responses(404, 409, *WITH_BODY),
)
def post_callback(
    ticket_id: TicketId, call_id: CallId, body: CallbackIn, caller: StaffDep, session: SessionDep
) -> CallOut:
    """A call-back made to a phone caller on one of the ticket's call-back tasks, recorded as
    an event; `reached` or `wrong_number` closes the task, `no_answer` keeps it open."""
    ticket = load(session, caller, ticket_id)
    try:
        task = record_callback(session, caller, ticket, call_id, body)
    except LookupError:
        raise HTTPException(
            status_code=404, detail=f"This ticket has no call-back task {call_id}."
        ) from None
    return call_out(task)


@router.get(
    "/{ticket_id}/recordings/{call_id}",
    response_class=Response,
    responses={
        200: {"content": {"audio/mpeg": {}}, "description": "The recording's audio."},
        **error_responses(404),
    },
)
def get_recording(
    ticket_id: TicketId,
    call_id: CallId,
    caller: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """A call's recording, fetched from Twilio with the server's credentials (staff never
    hold them); every listening is in the audit trail. `503` while Twilio cannot be reached
    or the API has no Twilio credentials."""
    ticket = load(session, caller, ticket_id)
    try:
        audio = fetch_recording(session, settings, caller, ticket, call_id)
    except LookupError:
        raise HTTPException(
            status_code=404, detail=f"This ticket has no recording {call_id}."
        ) from None
    except RecordingUnavailable as exc:
        raise HTTPException(
            status_code=503,
            detail=f"The recording cannot be played now: {exc}.",
            headers={"Retry-After": "30"},
        ) from None
    return Response(
        audio.content,
        media_type=audio.media_type,
        headers={"Cache-Control": "no-store", "Content-Disposition": "inline"},
    )

"""Staff replies on their way to reporters: the bot leases those of the tickets it filed,
sends, and reports back (the configured bot only; a partner has no chat to deliver into)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from intake_api.deps import BotDep, SessionDep, SettingsDep
from intake_api.enums import Channel
from intake_api.errors import SIGNED_IN, WITH_BODY, error_responses
from intake_api.schemas import INT64_MAX, DeliveryResult, OutboundReply, ReplyOut
from intake_api.workflow import claim_replies, record_delivery

router = APIRouter(
    prefix="/api/v1/outbound", tags=["outbound"], responses=error_responses(*SIGNED_IN)
)


@router.post("/replies/claim", response_model=list[OutboundReply])
def claim(
    caller: BotDep,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    channel: Annotated[
        list[Channel] | None, Query(description="Only replies for these channels")
    ] = None,
) -> list[OutboundReply]:
    """Leases waiting staff replies of the tickets this bot filed, and only those."""
    return claim_replies(
        session, settings, caller, limit, [c.value for c in channel] if channel else None
    )


@router.post(
    "/replies/{reply_id}/result",
    response_model=ReplyOut,
    responses=error_responses(404, *WITH_BODY),
)
def report_result(
    reply_id: Annotated[int, Path(ge=1, le=INT64_MAX)],
    body: DeliveryResult,
    caller: BotDep,
    session: SessionDep,
) -> ReplyOut:
    """The delivery of a reply of a ticket this bot filed; repeating it changes nothing."""
    try:
        reply = record_delivery(session, caller, reply_id, body.state == "delivered", body.error)
    except LookupError:
        raise HTTPException(status_code=404, detail=f"There is no reply {reply_id}.") from None
    return ReplyOut.model_validate(reply, from_attributes=True)

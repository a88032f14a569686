"""Staff replies on their way to reporters: the bot leases them, sends, and reports back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from intake_api.deps import ServiceDep, SessionDep, SettingsDep
from intake_api.enums import Channel
from intake_api.schemas import DeliveryResult, OutboundReply, ReplyOut
from intake_api.workflow import claim_replies, record_delivery

router = APIRouter(prefix="/api/v1/outbound", tags=["outbound"])


@router.post("/replies/claim", response_model=list[OutboundReply])
def claim(
    caller: ServiceDep,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    channel: Annotated[
        list[Channel] | None, Query(description="Only replies for these channels")
    ] = None,
) -> list[OutboundReply]:
    return claim_replies(
        session, settings, caller, limit, [c.value for c in channel] if channel else None
    )


@router.post("/replies/{reply_id}/result", response_model=ReplyOut)
def report_result(
    reply_id: Annotated[int, Path(ge=1, le=2**62)],
    body: DeliveryResult,
    caller: ServiceDep,
    session: SessionDep,
) -> ReplyOut:
    try:
        reply = record_delivery(session, caller, reply_id, body.state == "delivered", body.error)
    except LookupError:
        raise HTTPException(status_code=404, detail=f"There is no reply {reply_id}.") from None
    return ReplyOut.model_validate(reply, from_attributes=True)

"""Staff replies on their way to the reporter (docs/architecture.md step 7): claimed from the API,
sent through the original channel, recorded so a re-offered reply is not sent twice, and its
delivery state reported back to the ticket. At least once, without duplicates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from bot.channels.base import ChannelSender, DeliveryError, OutboundText
from bot.intake.transport import IntakeTransport, Rejected, Unavailable
from bot.models import DeliveredReply

log = structlog.get_logger("bot.replies")


class ReplyDelivery:
    def __init__(
        self,
        engine: Engine,
        transport: IntakeTransport,
        senders: Mapping[str, ChannelSender],
        render: Callable[[str, str], str],
        address_of: Callable[[str], str | None],
    ) -> None:
        self._engine = engine
        self._transport = transport
        self._senders = senders
        # (reference code, staff text) → what the reporter reads, worded in nlu_data/.
        self._render = render
        # conversation id → channel address, for anonymous reporters whose address the API
        # never received.
        self._address_of = address_of

    def _already_sent(self, reply_id: int) -> bool:
        with Session(self._engine) as session:
            return session.get(DeliveredReply, reply_id) is not None

    def _mark_sent(self, reply_id: int) -> None:
        with Session(self._engine) as session:
            session.add(DeliveredReply(reply_id=reply_id))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()

    async def run_once(self, limit: int = 20) -> int:
        """Delivers what is waiting; returns how many replies reached their reporter."""
        channels = sorted(self._senders)
        try:
            claimed = await run_in_threadpool(self._transport.claim_replies, limit, channels)
        except Unavailable:
            return 0
        delivered = 0
        for reply in claimed:
            if await self._deliver(reply):
                delivered += 1
        return delivered

    async def _deliver(self, reply: dict[str, Any]) -> bool:
        reply_id = int(reply["id"])
        if not await run_in_threadpool(self._already_sent, reply_id):
            sender = self._senders.get(reply["channel"])
            address = reply.get("channel_user_id")
            if not address and reply.get("conversation_id"):
                address = await run_in_threadpool(self._address_of, reply["conversation_id"])
            if sender is None or not address:
                await self._report(reply_id, False, "channel not connected")
                return False
            text = self._render(reply["reference_code"], reply["text"])
            try:
                await sender.send(OutboundText(reply["channel"], str(address), text))
            except DeliveryError as exc:
                if exc.permanent:
                    await self._report(reply_id, False, str(exc)[:200])
                # A transient failure is left leased: the API offers it again after the lease.
                log.warning("staff_reply_not_sent", reply_id=reply_id, permanent=exc.permanent)
                return False
            await run_in_threadpool(self._mark_sent, reply_id)
        await self._report(reply_id, True, None)
        return True

    async def _report(self, reply_id: int, delivered: bool, error: str | None) -> None:
        try:
            await run_in_threadpool(self._transport.report_delivery, reply_id, delivered, error)
        except (Unavailable, Rejected):
            # Sent but not yet reported: the next claim re-offers it, we skip the send and report.
            log.warning("delivery_report_failed", reply_id=reply_id)

"""Staff replies on their way to the reporter (docs/architecture.md step 7): claimed from the
API, sent through the message service's own send path (retried on a transient failure and
recorded with the conversation, so `/xoa` erases them like the bot's own answers), marked so a
re-offered reply is not sent twice, and its delivery state reported back to the ticket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from bot.contract import DeliveryError, OutboundText
from bot.intake.transport import IntakeTransport, Rejected, Unavailable
from bot.models import DeliveredReply

log = structlog.get_logger("bot.replies")

# Sends one message on its channel within a conversation: `BotService.send`.
SendFn = Callable[[OutboundText, str | None], Awaitable[str | None]]


class ReplyDelivery:
    def __init__(
        self,
        engine: Engine,
        transport: IntakeTransport,
        channels: Sequence[str],
        send: SendFn,
        render: Callable[[str, str], str],
        conversation_of: Callable[[str | None, str, str | None], tuple[str | None, str] | None],
    ) -> None:
        self._engine = engine
        self._transport = transport
        self._channels = sorted(channels)
        self._send = send
        # (reference code, staff text) → what the reporter reads, worded in nlu_data/.
        self._render = render
        # (conversation id, channel, address) → (conversation id, address) of the conversation
        # the reply belongs to; anonymous reporters' addresses never reached the API.
        self._conversation_of = conversation_of

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
        try:
            claimed = await run_in_threadpool(self._transport.claim_replies, limit, self._channels)
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
            found = await run_in_threadpool(
                self._conversation_of,
                reply.get("conversation_id"),
                reply["channel"],
                reply.get("channel_user_id"),
            )
            if reply["channel"] not in self._channels or found is None:
                await self._report(reply_id, False, "channel not connected")
                return False
            conversation_id, address = found
            text = self._render(reply["reference_code"], reply["text"])
            try:
                await self._send(OutboundText(reply["channel"], address, text), conversation_id)
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

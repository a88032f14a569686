"""Staff replies on their way to the reporter (docs/architecture.md step 7): claimed from the
API, written as an outgoing message of the conversation and sent through the message service's
own send path (in order with the bot's answers, retried with back-off, recorded with the
platform's id so `/xoa` erases them too), and their delivery state reported back to the ticket.
A reply is queued once, whatever the API re-offers: at least once, and not twice."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool

from bot.contract import OutboundText
from bot.intake.transport import IntakeTransport, Rejected, Unavailable
from bot.messaging.service import BotService
from intake_api.db import run_db

log = structlog.get_logger("bot.replies")


class ReplyDelivery:
    def __init__(
        self,
        transport: IntakeTransport,
        channels: Sequence[str],
        service: BotService,
        render: Callable[[str, str], str],
    ) -> None:
        self._transport = transport
        self._channels = sorted(channels)
        self._service = service
        # (reference code, staff text) → what the reporter reads, worded in nlu_data/.
        self._render = render
        # A reply sent on a later try (after a platform failure) is reported when it goes.
        service.on_staff_reply = self._report

    async def run_once(self, limit: int = 20) -> int:
        """Queues and sends what is waiting; returns how many replies reached their reporter."""
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
        known = await run_db(self._service.outgoing_state, reply_id)
        if known is None:
            target = await run_db(
                self._service.store.reply_target,
                reply.get("conversation_id"),
                reply["channel"],
                reply.get("channel_user_id"),
            )
            if reply["channel"] not in self._channels or target is None:
                await self._report(reply_id, False, "channel not connected")
                return False
            conversation_id, address = target
            text = self._render(reply["reference_code"], reply["text"])
            message = OutboundText(reply["channel"], address, text)
            await run_db(self._service.queue, message, conversation_id, reply_id)
            # Sending reports the outcome (on_staff_reply) once the message is settled.
            await self._service.send_pending(conversation_id)
            sent = await run_db(self._service.outgoing_state, reply_id)
            return sent is not None and sent[0] == "sent"
        state, error = known
        if state == "sent":
            await self._report(reply_id, True, None)
            return True
        if state == "failed":
            await self._report(reply_id, False, error or "delivery failed")
        else:
            # Waiting for its next try: the API offers it again after the lease, and we report.
            log.warning("staff_reply_not_sent_yet", reply_id=reply_id)
        return False

    async def _report(self, reply_id: int, delivered: bool, error: str | None) -> None:
        try:
            await run_in_threadpool(self._transport.report_delivery, reply_id, delivered, error)
        except (Unavailable, Rejected):
            # Sent but not yet reported: the next claim re-offers it, we find it and report.
            log.warning("delivery_report_failed", reply_id=reply_id)

"""The flow of one message on the bot's side (docs/architecture.md, steps 2–6):

channel adapter → `accept` (rate limit, store before acknowledging) → `process` (one
conversation at a time: NLU, dialogue, intake via the outbox) → replies out through the same
channel adapter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool

from bot.contract import Channel, DeliveryError, InboundMessage, OutboundText, Throttled
from bot.dialogue.engine import Dialogue
from bot.messaging.conversations import ConversationStore
from bot.messaging.ratelimit import RateLimiter
from bot.models import InboundRecord

log = structlog.get_logger("bot.messaging.service")

SEND_ATTEMPTS = 3
# A longer wait is left to the next round (the outbox, the staff-reply lease) than held here.
MAX_SEND_WAIT_SECONDS = 5.0


class BotService:
    def __init__(
        self,
        store: ConversationStore,
        dialogue: Dialogue,
        senders: Mapping[str, Channel],
        rate_limiter: RateLimiter,
    ) -> None:
        self.store = store
        self.dialogue = dialogue
        self.senders = dict(senders)
        self.rate_limiter = rate_limiter
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- step 2: store before acknowledging -------------------------------------------------

    def _store(self, message: InboundMessage) -> str | None:
        """Stores the message, then refuses to work on it if the sender floods (the adapter
        answers 429; the message itself stays stored)."""
        retry_after = self.rate_limiter.hit(
            self.store.sender_hash(message.channel, message.sender_id)
        )
        conversation_id = self.store.store_inbound(message, throttled=retry_after is not None)
        if retry_after is not None and conversation_id is not None:
            log.warning("sender_rate_limited", channel=message.channel)
            raise Throttled(retry_after)
        return conversation_id

    async def accept(self, message: InboundMessage) -> bool:
        """The one inbound handler every channel is given: returns once the message is stored
        (True) or known (False). The answer is worked out and sent in the background, or before
        returning for a channel whose person waits for it in the same request."""
        channel = self.senders.get(message.channel)
        if channel is not None and channel.waits_for_replies:
            return await self.converse(message)
        conversation_id = await run_in_threadpool(self._store, message)
        if conversation_id is None:
            log.info("duplicate_inbound", channel=message.channel)
            return False
        task = asyncio.create_task(self._process_and_send(conversation_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def converse(self, message: InboundMessage) -> bool:
        """For channels that wait for the answer (web chat, terminal): stores, processes and
        sends before returning. False for a duplicate."""
        conversation_id = await run_in_threadpool(self._store, message)
        if conversation_id is None:
            return False
        await self._process_and_send(conversation_id)
        return True

    async def drain(self) -> None:
        """Waits for background processing (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- steps 3–5: one conversation at a time ---------------------------------------------

    def process(self, conversation_id: str) -> tuple[list[OutboundText], list[str]]:
        """Answers every stored, unanswered message of the conversation in order.
        Returns the replies and, after `/xoa`, the platform ids of messages to delete."""
        self.store.lease(conversation_id)
        replies: list[OutboundText] = []
        to_delete: list[str] = []
        try:
            for record in self.store.pending_messages(conversation_id):
                conversation = self.store.load(conversation_id)
                message = _message_from(record, conversation.sender_id)
                turn = self.dialogue.respond(conversation.state or {}, message, conversation_id)
                if turn.erase:
                    to_delete.extend(self.store.erase(conversation_id))
                    replies.clear()
                self.store.save_turn(conversation_id, record.id, turn.state)  # type: ignore[arg-type]
                replies.extend(
                    OutboundText(
                        channel=conversation.channel,
                        recipient_id=conversation.sender_id,
                        text=reply.text,
                        quick_replies=tuple(reply.quick_replies),
                    )
                    for reply in turn.replies
                )
        finally:
            self.store.release(conversation_id)
        return replies, to_delete

    async def _process_and_send(self, conversation_id: str) -> None:
        try:
            replies, to_delete = await run_in_threadpool(self.process, conversation_id)
        except Exception:
            # Stays stored as unprocessed; the recovery loop tries again.
            log.exception("processing_failed", conversation_id=conversation_id)
            return
        if to_delete and replies:
            await self._delete(replies[0], to_delete)
        for reply in replies:
            try:
                await self.send(reply, conversation_id)
            except DeliveryError:
                continue  # logged in send(); the conversation state is already saved

    async def _delete(self, sample: OutboundText, ids: list[str]) -> None:
        sender = self.senders.get(sample.channel)
        if sender is None:
            return
        try:
            await sender.delete(sample.recipient_id, ids)
        except Exception:
            log.warning("delete_failed", channel=sample.channel, count=len(ids))

    # -- step 6: out through the same channel -----------------------------------------------

    async def send(self, reply: OutboundText, conversation_id: str | None = None) -> str | None:
        sender = self.senders.get(reply.channel)
        if sender is None:
            log.error("no_sender_for_channel", channel=reply.channel)
            raise DeliveryError(f"channel {reply.channel} is not connected", permanent=True)
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                platform_id = await sender.send(reply)
            except DeliveryError as exc:
                if exc.permanent or attempt == SEND_ATTEMPTS:
                    log.warning("send_failed", channel=reply.channel, permanent=exc.permanent)
                    raise
                # The platform's own wait when it names one (Telegram's flood control).
                wait = exc.retry_after if exc.retry_after is not None else 0.2 * 2**attempt
                await asyncio.sleep(min(wait, MAX_SEND_WAIT_SECONDS))
                continue
            if platform_id and conversation_id:
                await run_in_threadpool(self.store.record_sent, conversation_id, platform_id)
            return platform_id
        return None

    async def recover(self, older_than: timedelta = timedelta(seconds=30)) -> int:
        """Processes messages a crashed process stored but never answered."""
        stale = await run_in_threadpool(self.store.stale_conversations, older_than)
        for conversation_id in stale:
            await self._process_and_send(conversation_id)
        return len(stale)


def _message_from(record: InboundRecord, sender_id: str) -> InboundMessage:
    extra = record.extra or {}
    location = extra.get("location")
    received = record.received_at or datetime.now(UTC)
    return InboundMessage(
        channel=record.channel,
        sender_id=sender_id,
        message_id=record.message_key.split(":", 1)[-1],
        text=record.text,
        location=(float(location[0]), float(location[1])) if location else None,
        phone=extra.get("phone"),
        attachment=extra.get("attachment"),
        received_at=received,
    )

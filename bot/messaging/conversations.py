"""Where conversations and inbound messages are kept, and the lease that serialises one
conversation across processes."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from bot.contract import InboundMessage
from bot.models import Conversation, InboundRecord, SentMessage, WebchatMessage
from intake_api.crypto import PersonalDataCipher
from intake_api.db import utcnow
from intake_api.leases import take_lease

LEASE = timedelta(seconds=60)


class ConversationBusy(Exception):
    pass


class ConversationStore:
    def __init__(self, engine: Engine, cipher: PersonalDataCipher) -> None:
        self._engine = engine
        self._cipher = cipher

    def sender_hash(self, channel: str, sender_id: str) -> str:
        return self._cipher.blind_index("conversation", channel, sender_id)

    def conversation_for(self, session: Session, channel: str, sender_id: str) -> Conversation:
        digest = self.sender_hash(channel, sender_id)
        found = session.exec(select(Conversation).where(Conversation.sender_hash == digest)).first()
        if found is not None:
            return found
        conversation = Conversation(
            id=uuid.uuid4().hex, sender_hash=digest, channel=channel, sender_id=sender_id, state={}
        )
        session.add(conversation)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # created by a concurrent message of the same sender
            return session.exec(
                select(Conversation).where(Conversation.sender_hash == digest)
            ).one()
        return conversation

    def store_inbound(self, message: InboundMessage, throttled: bool = False) -> str | None:
        """Stores the message; returns its conversation id, or None for a platform retry.
        A throttled message is kept (nothing acknowledged is lost) but not answered."""
        with Session(self._engine, expire_on_commit=False) as session:
            conversation = self.conversation_for(session, message.channel, message.sender_id)
            extra: dict[str, Any] = {}
            if message.location is not None:
                extra["location"] = list(message.location)
            if message.phone is not None:
                extra["phone"] = message.phone
            if message.attachment is not None:
                extra["attachment"] = message.attachment
            session.add(
                InboundRecord(
                    message_key=f"{message.channel}:{message.message_id}"[:200],
                    channel=message.channel,
                    conversation_id=conversation.id,
                    text=message.text,
                    extra=extra or None,
                    received_at=message.received_at,
                    state="throttled" if throttled else "received",
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return None
            return conversation.id

    def lease(self, conversation_id: str, wait_seconds: float = 20.0) -> None:
        deadline = time.monotonic() + wait_seconds
        while True:
            now = utcnow()
            with Session(self._engine) as session:
                taken = take_lease(
                    session,
                    Conversation,
                    col(Conversation.locked_until),
                    now + LEASE,
                    col(Conversation.id) == conversation_id,
                    now=now,
                )
                session.commit()
            if taken:
                return
            if time.monotonic() > deadline:
                raise ConversationBusy(conversation_id)
            time.sleep(0.02)

    def release(self, conversation_id: str) -> None:
        with Session(self._engine) as session:
            session.execute(
                update(Conversation)
                .where(col(Conversation.id) == conversation_id)
                .values(locked_until=None)
            )
            session.commit()

    def pending_messages(self, conversation_id: str) -> list[InboundRecord]:
        with Session(self._engine, expire_on_commit=False) as session:
            return list(
                session.exec(
                    select(InboundRecord)
                    .where(
                        InboundRecord.conversation_id == conversation_id,
                        InboundRecord.state == "received",
                    )
                    .order_by(col(InboundRecord.id))
                ).all()
            )

    def load(self, conversation_id: str) -> Conversation:
        with Session(self._engine, expire_on_commit=False) as session:
            conversation = session.get(Conversation, conversation_id)
            assert conversation is not None
            return conversation

    def reply_target(
        self, conversation_id: str | None, channel: str, address: str | None
    ) -> tuple[str | None, str] | None:
        """The conversation a staff reply belongs to and the address to send it to: by the
        ticket's conversation id (anonymous reporters' addresses never reached the API), else by
        the reporter's channel address. None when there is nowhere to send it."""
        with Session(self._engine) as session:
            if conversation_id:
                conversation = session.get(Conversation, conversation_id[:32])
                if conversation is not None:
                    return conversation.id, conversation.sender_id
            if not address:
                return None
            digest = self.sender_hash(channel, address)
            found = session.exec(
                select(Conversation.id).where(Conversation.sender_hash == digest)
            ).first()
            return found, address

    def save_turn(self, conversation_id: str, inbound_id: int, state: dict[str, Any]) -> None:
        """The new state and the message's processed mark, in one transaction."""
        with Session(self._engine) as session:
            conversation = session.get(Conversation, conversation_id)
            record = session.get(InboundRecord, inbound_id)
            assert conversation is not None and record is not None
            conversation.state = state
            conversation.updated_at = utcnow()
            record.state = "processed"
            record.processed_at = utcnow()
            session.add(conversation)
            session.add(record)
            session.commit()

    def stale_conversations(self, older_than: timedelta) -> list[str]:
        """Conversations with messages stored but not processed (a process died mid-way)."""
        cutoff = utcnow() - older_than
        with Session(self._engine) as session:
            rows = session.exec(
                select(InboundRecord.conversation_id)
                .where(InboundRecord.state == "received", InboundRecord.received_at < cutoff)
                .distinct()
            ).all()
            return list(rows)

    def record_sent(self, conversation_id: str, platform_message_id: str) -> None:
        with Session(self._engine) as session:
            session.add(
                SentMessage(
                    conversation_id=conversation_id, platform_message_id=platform_message_id
                )
            )
            session.commit()

    def erase(self, conversation_id: str) -> list[str]:
        """Forgets what the conversation said (for people whose phone may be checked);
        returns the ids of the bot's messages to delete on the platform."""
        with Session(self._engine) as session:
            conversation = session.get(Conversation, conversation_id)
            assert conversation is not None
            sent = session.exec(
                select(SentMessage.platform_message_id).where(
                    SentMessage.conversation_id == conversation_id
                )
            ).all()
            session.execute(
                update(InboundRecord)
                .where(col(InboundRecord.conversation_id) == conversation_id)
                .values(text=None, extra=None)
            )
            session.exec(
                delete(SentMessage).where(col(SentMessage.conversation_id) == conversation_id)
            )  # type: ignore[call-overload]
            if conversation.channel == "webchat":
                session.exec(
                    delete(WebchatMessage).where(
                        col(WebchatMessage.session_id) == conversation.sender_id
                    )
                )  # type: ignore[call-overload]
            conversation.state = {}
            session.add(conversation)
            session.commit()
            return list(sent)

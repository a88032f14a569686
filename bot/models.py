"""The bot's tables: inbound messages, conversations, the intake outbox and delivery records.

They live in the same database as the API's (with their own Alembic history in
bot/migrations/), so any bot process can continue any conversation. Personal data is encrypted
like the API's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from intake_api.db import EncryptedJSON, EncryptedText
from intake_api.models import BIG_ID, optional_time_field, time_field


class InboundRecord(SQLModel, table=True):
    """Every authentic inbound message, stored before the platform is acknowledged."""

    __tablename__ = "bot_inbound"
    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    # channel + platform message id: a platform's retry of one message hits this constraint.
    message_key: str = Field(max_length=200, unique=True)
    channel: str = Field(max_length=16)
    conversation_id: str = Field(max_length=32, index=True)
    text: str | None = Field(default=None, sa_type=EncryptedText)
    extra: Any = Field(default=None, sa_column=Column(EncryptedJSON))  # location, phone
    received_at: datetime = time_field()
    state: str = Field(default="received", max_length=16, index=True)  # received|processed
    # A flooding sender's message is kept and worked, but not before this time (None: at once).
    not_before: datetime | None = optional_time_field()
    processed_at: datetime | None = optional_time_field()


class Conversation(SQLModel, table=True):
    __tablename__ = "bot_conversations"
    id: str = Field(primary_key=True, max_length=32)
    # Blind index of channel + sender id: finds the conversation without storing the id in clear.
    sender_hash: str = Field(max_length=64, unique=True)
    channel: str = Field(max_length=16)
    sender_id: str = Field(sa_type=EncryptedText)
    state: Any = Field(default=None, sa_column=Column(EncryptedJSON))
    # A short lease so two processes never run the same conversation at once.
    locked_until: datetime | None = optional_time_field()
    # An unfinished report is filed with what was said once the person has been silent until
    # then (None: nothing waits to be filed).
    file_after: datetime | None = optional_time_field(index=True)
    created_at: datetime = time_field()
    updated_at: datetime = time_field()


class OutboxItem(SQLModel, table=True):
    """A ticket or a further message waiting to reach the intake API."""

    __tablename__ = "bot_outbox"
    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    kind: str = Field(max_length=16)  # "create" | "append" | "call"
    reference_code: str = Field(max_length=16, index=True)
    idempotency_key: str = Field(max_length=100, unique=True)
    payload: Any = Field(sa_column=Column(EncryptedJSON, nullable=False))
    state: str = Field(default="pending", max_length=16, index=True)  # pending|delivered|failed
    attempts: int = 0
    next_attempt_at: datetime = time_field()
    leased_until: datetime | None = optional_time_field()
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = time_field()
    delivered_at: datetime | None = optional_time_field()


class OutgoingMessage(SQLModel, table=True):
    """A message to a person: a turn's replies (written with the conversation's new state) and
    staff replies, sent at least once in order, retried with back-off, and kept with the
    platform's id once sent (so a retry never resends it, and `/xoa` can delete it)."""

    __tablename__ = "bot_outgoing"
    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    conversation_id: str | None = Field(default=None, max_length=32, index=True)
    channel: str = Field(max_length=16)
    # None only on rows migrated from the old record of staff replies sent.
    recipient: str | None = Field(default=None, sa_type=EncryptedText)
    # None once erased by `/xoa` (or for rows migrated from before the texts were kept).
    text: str | None = Field(default=None, sa_type=EncryptedText)
    quick_replies: Any = Field(default=None, sa_column=Column(EncryptedJSON))
    # The staff reply (API reply id) this message carries, for the report back to the ticket.
    staff_reply_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, unique=True, nullable=True)
    )
    state: str = Field(default="pending", max_length=16, index=True)  # pending|sent|failed
    attempts: int = 0
    next_attempt_at: datetime = time_field()
    leased_until: datetime | None = optional_time_field()
    platform_message_id: str | None = Field(default=None, max_length=128)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = time_field()
    sent_at: datetime | None = optional_time_field()


class WebchatMessage(SQLModel, table=True):
    """Messages waiting for a web-chat page to fetch them (it has no push channel)."""

    __tablename__ = "bot_webchat_messages"
    # Ids never come back after an erase: the page shows only ids above the last it saw.
    __table_args__ = {"sqlite_autoincrement": True}
    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    session_id: str = Field(max_length=64, index=True)
    text: str = Field(sa_type=EncryptedText)
    quick_replies: Any = Field(default=None, sa_column=Column(EncryptedJSON))
    # A marker left by `/xoa`: the page clears what it shows of the erased conversation.
    clear: bool = False
    created_at: datetime = time_field()


class RateCounter(SQLModel, table=True):
    __tablename__ = "bot_rate_counters"
    __table_args__ = (UniqueConstraint("sender_hash", "window_start"),)
    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    sender_hash: str = Field(max_length=64)
    window_start: int  # epoch seconds of the window
    count: int = 0


class SecretValue(SQLModel, table=True):
    """Small secrets the bot must keep across restarts (Zalo's single-use refresh token)."""

    __tablename__ = "bot_secrets"
    name: str = Field(primary_key=True, max_length=64)
    value: Any = Field(sa_column=Column(EncryptedJSON, nullable=False))
    updated_at: datetime = time_field()


class VoiceCall(SQLModel, table=True):
    """One phone call to the hotline, kept between Twilio's callbacks (docs/architecture.md,
    The voice hotline): any bot process can answer the next callback of any call, and a
    restart between two of them loses nothing."""

    __tablename__ = "bot_voice_calls"
    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    # Twilio's id of the call (`CA` + 32 hex): names no one.
    call_sid: str = Field(max_length=64, unique=True)
    # The caller's number and the number called: personal data.
    caller: str | None = Field(default=None, sa_type=EncryptedText)
    called: str | None = Field(default=None, sa_type=EncryptedText)
    # The operators' hours were over when the call came in (settings `voice_hours`).
    after_hours: bool = False
    # Menu choices in the order made ("1", "2", "3", "0"), and silences/wrong keys so far.
    choices: str = Field(default="", max_length=64)
    misses: int = 0
    # What the call is forwarded for ("danger" | "operator"), and the leg being dialled.
    purpose: str | None = Field(default=None, max_length=16)
    leg: str | None = Field(default=None, max_length=16)
    reference_code: str | None = Field(default=None, max_length=16)
    priority: str | None = Field(default=None, max_length=2)
    reached_person: bool = False
    recorded: bool = False
    callback_reason: str | None = Field(default=None, max_length=16)
    ended: bool = False
    created_at: datetime = time_field()
    updated_at: datetime = time_field()


class VoiceCallback(SQLModel, table=True):
    """Each Twilio callback acted on, by a key built from what it reports (a Dial leg's end, a
    recording, the call's end): a replay finds its key and changes nothing."""

    __tablename__ = "bot_voice_callbacks"
    key: str = Field(primary_key=True, max_length=160)
    call_sid: str = Field(max_length=64, index=True)
    created_at: datetime = time_field()


# The tables as Core objects, for the statements the per-message path writes without the ORM's
# unit of work (bot.messaging).
conversations_table = Conversation.__table__  # type: ignore[attr-defined]
inbound_table = InboundRecord.__table__  # type: ignore[attr-defined]
outgoing_table = OutgoingMessage.__table__  # type: ignore[attr-defined]
webchat_table = WebchatMessage.__table__  # type: ignore[attr-defined]

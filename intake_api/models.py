"""Tables. Personal data columns use EncryptedText/EncryptedJSON; their `*_hash` twins are
blind indexes for look-ups without decryption."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from intake_api.db import EncryptedJSON, EncryptedText, UTCDateTime, utcnow

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets BIGINT for the busy tables.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


def time_field(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


def optional_time_field(**kw: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime, **kw)


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    full_name: str | None = Field(default=None, max_length=200)
    password_hash: str
    # Comma-separated roles: an admin may also hold a working role (docs/api.md).
    roles: str = Field(max_length=200)
    # The agency whose tickets a police/dolisa user works (defaults to the role's own code).
    agency: str | None = Field(default=None, max_length=64)
    active: bool = True
    created_at: datetime = time_field()

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    # Only the SHA-256 of the token is kept: a database leak gives no usable tokens.
    token_hash: str = Field(max_length=64, unique=True)
    label: str | None = Field(default=None, max_length=100)
    created_at: datetime = time_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked: bool = False


class LoginThrottle(SQLModel, table=True):
    """Sign-in attempts of one account or one client address (docs/api.md, Health and auth).

    The key is a keyed hash of the name or address, so the table names nobody. An attempt is
    counted before its password is checked, in one UPDATE, so concurrent guesses cannot all
    slip past the limit."""

    __tablename__ = "login_throttle"
    key: str = Field(primary_key=True, max_length=80)
    attempts: int = 0
    window_start: datetime = time_field()
    blocked_until: datetime | None = optional_time_field()


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_queue", "priority", "due_at"),)
    id: str = Field(primary_key=True, max_length=32)
    reference_code: str = Field(max_length=16, unique=True)
    status: str = Field(max_length=16, index=True)
    # The status to return to when a pending referral is decided.
    status_before_referral: str | None = Field(default=None, max_length=16)
    priority: str = Field(max_length=2)
    category: str = Field(max_length=32, index=True)
    intent: str | None = Field(default=None, max_length=32)
    intent_confidence: float | None = None
    channel: str = Field(max_length=16, index=True)
    province: str | None = Field(default=None, max_length=64, index=True)
    country: str | None = Field(default=None, max_length=64)
    assignee_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    # The service account that filed it: only that account follows up on it (docs/api.md).
    filed_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    conversation_id: str | None = Field(default=None, max_length=64, index=True)
    reporter_channel_user_id: str | None = Field(default=None, sa_type=EncryptedText)
    reporter_phone: str | None = Field(default=None, sa_type=EncryptedText)
    reporter_name: str | None = Field(default=None, sa_type=EncryptedText)
    reporter_hash: str | None = Field(default=None, max_length=64, index=True)
    phone_hash: str | None = Field(default=None, max_length=64, index=True)
    # An opaque identifier of who filed it (a keyed hash the filer computes, never a clear id);
    # later messages carrying another one are from another sender.
    sender_ref: str | None = Field(default=None, max_length=128)
    # A message by reference code came from someone other than the reporter (shown to staff).
    other_sender: bool = False
    anonymous: bool = False
    consent_to_contact: bool = False
    nlu: Any = Field(default=None, sa_column=Column(EncryptedJSON))
    # The latest place the reporter shared, {"lat", "lon"}: personal data, encrypted.
    location: Any = Field(default=None, sa_column=Column(EncryptedJSON))
    triage_reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    idempotency_key: str = Field(max_length=64, unique=True)
    request_fingerprint: str = Field(max_length=64)
    due_at: datetime = Field(sa_type=UTCDateTime)
    first_response_at: datetime | None = optional_time_field()
    closed_at: datetime | None = optional_time_field()
    created_at: datetime = time_field(index=True)
    updated_at: datetime = time_field()
    version: int = 1


class TicketAgency(SQLModel, table=True):
    __tablename__ = "ticket_agencies"
    ticket_id: str = Field(foreign_key="tickets.id", primary_key=True, max_length=32)
    agency: str = Field(primary_key=True, max_length=64, index=True)


class TicketMessage(SQLModel, table=True):
    """The transcript: what the reporter wrote and what the bot answered."""

    __tablename__ = "ticket_messages"
    __table_args__ = (UniqueConstraint("ticket_id", "dedupe_key"),)
    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    ticket_id: str = Field(foreign_key="tickets.id", index=True, max_length=32)
    direction: str = Field(max_length=8)  # "in" from the reporter, "out" from the bot
    text: str = Field(sa_type=EncryptedText)
    at: datetime = time_field()
    dedupe_key: str | None = Field(default=None, max_length=128)
    # "reporter", "another_sender" or None when there was nothing to compare (rules/senders.py).
    sender: str | None = Field(default=None, max_length=16)
    # A number given with the message that did not replace the reporter's (never overwritten).
    phone: str | None = Field(default=None, sa_type=EncryptedText)


class TicketEvent(SQLModel, table=True):
    __tablename__ = "ticket_events"
    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    ticket_id: str = Field(foreign_key="tickets.id", index=True, max_length=32)
    at: datetime = time_field()
    actor: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    from_value: str | None = Field(default=None, max_length=200)
    to_value: str | None = Field(default=None, max_length=200)


class Note(SQLModel, table=True):
    __tablename__ = "notes"
    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    ticket_id: str = Field(foreign_key="tickets.id", index=True, max_length=32)
    author: str = Field(max_length=64)
    text: str = Field(sa_type=EncryptedText)
    created_at: datetime = time_field()


class Referral(SQLModel, table=True):
    __tablename__ = "referrals"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(foreign_key="tickets.id", index=True, max_length=32)
    from_agency: str | None = Field(default=None, max_length=64)
    to_agency: str = Field(max_length=64, index=True)
    reason: str = Field(sa_type=EncryptedText)
    state: str = Field(max_length=16, index=True)
    created_by: str = Field(max_length=64)
    created_at: datetime = time_field()
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = optional_time_field()
    decision_note: str | None = Field(default=None, sa_type=EncryptedText)


class Reply(SQLModel, table=True):
    """A staff message to the reporter, delivered by the bot through the original channel."""

    __tablename__ = "replies"
    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    ticket_id: str = Field(foreign_key="tickets.id", index=True, max_length=32)
    author: str = Field(max_length=64)
    text: str = Field(sa_type=EncryptedText)
    channel: str = Field(max_length=16)
    state: str = Field(max_length=16, index=True)
    attempts: int = 0
    lease_until: datetime | None = optional_time_field()
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = time_field()
    delivered_at: datetime | None = optional_time_field()


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_records"
    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    at: datetime = time_field(index=True)
    actor: str = Field(max_length=64, index=True)
    action: str = Field(max_length=32)
    ticket_id: str | None = Field(default=None, max_length=32, index=True)
    detail: str | None = Field(default=None, max_length=500)


class CallRecord(SQLModel, table=True):
    """What a phone call left on its ticket (docs/api.md, Calls): the outcome of each forwarding
    leg, a recording (the caller's report or a voicemail), a call-back task staff owe the
    caller. Unique per ticket on the filer's key, so a platform's replayed callback (or the
    bot's retried delivery) is recorded once."""

    __tablename__ = "call_records"
    __table_args__ = (UniqueConstraint("ticket_id", "dedupe_key"),)
    id: int | None = Field(default=None, sa_type=BIG_ID, primary_key=True)
    ticket_id: str = Field(foreign_key="tickets.id", index=True, max_length=32)
    dedupe_key: str = Field(max_length=128)
    kind: str = Field(max_length=16)  # "leg" | "recording" | "callback"
    call_sid: str | None = Field(default=None, max_length=64)
    # leg: who was dialled and how it ended; callback: why the caller is owed a call.
    target: str | None = Field(default=None, max_length=16)
    outcome: str | None = Field(default=None, max_length=16)
    duration_seconds: int | None = None
    recording_sid: str | None = Field(default=None, max_length=64)
    # The platform's address of the audio: whoever holds it (with the account's credentials)
    # hears the caller's voice, so it is kept like the rest of the personal data.
    recording_url: str | None = Field(default=None, sa_type=EncryptedText)
    # callback: "open" until a call-back reaches the caller, then "done".
    state: str | None = Field(default=None, max_length=16, index=True)
    attempts: int = 0
    done_by: str | None = Field(default=None, max_length=64)
    done_at: datetime | None = optional_time_field()
    created_at: datetime = time_field()

"""Request and response bodies. Every string field is length-bounded and refuses text that
cannot be stored (NUL, lone UTF-16 surrogates), so bad input is a 422, never a 500."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)

from intake_api.enums import Channel, Intent, Priority, ReferralState, ReplyState, Role, Status
from intake_api.phones import to_e164

_BAD_CHARS = re.compile(r"[\x00\ud800-\udfff]")
DISPLAY_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def assume_vietnam_time(value: datetime | None) -> datetime | None:
    """A time given without a zone (a filter typed by staff) means Vietnam's local time."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=DISPLAY_ZONE)
    return value


def _storable(value: str) -> str:
    if _BAD_CHARS.search(value):
        raise ValueError("text contains a NUL character or invalid Unicode (a lone surrogate)")
    return value


def _text(max_length: int, min_length: int = 0) -> Any:
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_storable),
    ]


ShortText = _text(200)
Name = _text(200, 1)
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
MessageText = _text(4000, 1)


def _e164(value: str) -> str:
    e164 = to_e164(value)
    if e164 is None:
        raise ValueError("not a phone number: give it in E.164 (+84912345678) or as dialled")
    return e164


# Stored and compared in E.164 form (a national number gets Viet Nam's +84).
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{6,15}$"), AfterValidator(_e164)]
RefCode = Annotated[str, StringConstraints(pattern=r"^TIP-[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{5}$")]
NoteText = _text(8000, 1)

# Times go out in Vietnam's zone (docs/api.md: stored in UTC, shown in Asia/Ho_Chi_Minh).
LocalTime = Annotated[
    datetime, PlainSerializer(lambda v: v.astimezone(DISPLAY_ZONE).isoformat(), return_type=str)
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GeoPoint(Strict):
    """A place the reporter shared (Telegram/Zalo location)."""

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)


class ReporterIn(Strict):
    channel_user_id: ShortText | None = None
    phone: Phone | None = None
    name: ShortText | None = None
    anonymous: bool = False
    consent_to_contact: bool = False


class TranscriptLine(Strict):
    direction: Literal["in", "out"] = "in"
    text: MessageText
    at: AwareDatetime | None = None


class TriageIn(Strict):
    priority: Priority
    category: Intent
    agencies: list[Code] = Field(min_length=1, max_length=10)
    reasons: list[ShortText] = Field(default_factory=list, max_length=20)


class IntakeIn(Strict):
    channel: Channel
    reporter: ReporterIn = Field(default_factory=ReporterIn)
    transcript: list[TranscriptLine] = Field(min_length=1, max_length=200)
    nlu: dict[str, Any] | None = None
    triage: TriageIn
    province: ShortText | None = None
    country: ShortText | None = None
    conversation_id: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-:.]{1,64}$")] | None
    ) = None
    # The bot may draw the code itself so the reporter gets it at once even while the API is
    # down; the API keeps it if no other ticket has it.
    reference_code: RefCode | None = None
    location: GeoPoint | None = None


class IntakeOut(BaseModel):
    id: str
    reference_code: str
    status: Status
    priority: Priority
    due_at: LocalTime


class TicketSummary(BaseModel):
    id: str
    reference_code: str
    status: Status
    priority: Priority
    category: str
    channel: str
    province: str | None
    country: str | None
    agencies: list[str]
    assignee: str | None
    created_at: LocalTime
    updated_at: LocalTime
    due_at: LocalTime
    overdue: bool


class TicketPage(BaseModel):
    items: list[TicketSummary]
    total: int
    page: int
    page_size: int


class ReporterOut(BaseModel):
    channel_user_id: str | None
    phone: str | None
    name: str | None
    anonymous: bool
    consent_to_contact: bool


class MessageOut(BaseModel):
    direction: str
    text: str
    at: LocalTime


class EventOut(BaseModel):
    at: LocalTime
    actor: str
    kind: str
    from_value: str | None
    to_value: str | None


class NoteOut(BaseModel):
    id: int
    author: str
    text: str
    created_at: LocalTime


class ReferralOut(BaseModel):
    id: int
    from_agency: str | None
    to_agency: str
    reason: str
    state: ReferralState
    created_by: str
    created_at: LocalTime
    decided_by: str | None
    decided_at: LocalTime | None
    decision_note: str | None


class ReplyOut(BaseModel):
    id: int
    author: str
    text: str
    channel: str
    state: ReplyState
    attempts: int
    last_error: str | None
    created_at: LocalTime
    delivered_at: LocalTime | None


class TicketDetail(TicketSummary):
    location: GeoPoint | None
    intent: str | None
    intent_confidence: float | None
    triage_reasons: list[str]
    version: int
    first_response_at: LocalTime | None
    closed_at: LocalTime | None
    reporter: ReporterOut | None
    transcript: list[MessageOut]
    nlu: dict[str, Any] | None
    notes: list[NoteOut]
    referrals: list[ReferralOut]
    replies: list[ReplyOut]
    events: list[EventOut]


class TicketPatch(Strict):
    status: Status | None = None
    priority: Priority | None = None
    agencies: list[Code] | None = Field(default=None, min_length=1, max_length=10)
    # Username of the new assignee; null unassigns.
    assignee: ShortText | None = None
    # Optimistic locking: when given, the edit is refused (409) if someone changed it since.
    version: int | None = Field(default=None, ge=1)


class NoteIn(Strict):
    text: NoteText


class ReferralIn(Strict):
    to_agency: Code
    reason: NoteText


class ReferralDecision(Strict):
    note: _text(2000) | None = None  # type: ignore[valid-type]


class ReplyIn(Strict):
    text: MessageText


class ReporterMessageIn(Strict):
    text: MessageText
    at: AwareDatetime | None = None
    # The platform's message id, so a retried delivery is appended once.
    message_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    # Details the conversation learnt since the ticket was filed (the bot's rescue questions).
    province: ShortText | None = None
    country: ShortText | None = None
    phone: Phone | None = None
    # The bot may raise a ticket's priority (danger discovered later), never lower it.
    priority: Priority | None = None
    location: GeoPoint | None = None


class StatusLookupOut(BaseModel):
    reference_code: str
    status: Status
    updated_at: LocalTime


class ReporterLookupIn(Strict):
    channel: Channel | None = None
    channel_user_id: ShortText | None = None
    phone: Phone | None = None


class OutboundReply(BaseModel):
    id: int
    ticket_id: str
    reference_code: str
    channel: str
    channel_user_id: str | None
    conversation_id: str | None
    text: str
    attempts: int


class DeliveryResult(Strict):
    state: Literal["delivered", "failed"]
    error: _text(500) | None = None  # type: ignore[valid-type]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class UserIn(Strict):
    username: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.\-]{3,64}$")]
    password: Annotated[str, StringConstraints(min_length=12, max_length=256)]
    roles: list[Role] = Field(min_length=1)
    agency: Code | None = None
    full_name: ShortText | None = None


class UserOut(BaseModel):
    id: int
    username: str
    roles: list[str]
    agency: str | None
    active: bool
    full_name: str | None


class AuditOut(BaseModel):
    at: LocalTime
    actor: str
    action: str
    ticket_id: str | None
    detail: str | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    total: int
    page: int
    page_size: int

"""Request and response bodies. Every string field is length-bounded and refuses text that
cannot be stored (NUL, lone UTF-16 surrogates), and every number and JSON structure is
bounded, so bad input is a 422, never a 500. The constraints are written so the published
schema says exactly what is accepted (docs/api.md, Errors)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypeAliasType

from intake_api.enums import Channel, Intent, Priority, ReferralState, ReplyState, Role, Status
from intake_api.phones import to_e164

_BAD_CHARS = re.compile(r"[\x00\ud800-\udfff]")
DISPLAY_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

# Whitespace as any of the readers of the schema see it (ECMA-262's \s, Unicode White_Space,
# Python's str.isspace), spelled out so the server, the schema and a client agree on what a
# blank text is.
_BLANKS = (
    "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f"
    "\\u3000\\ufeff"
)
_BLANK_CHARS = "".join(
    chr(c)
    for c in (
        *range(0x09, 0x0E), *range(0x1C, 0x20), 0x20, 0x85, 0xA0, 0x1680,
        *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF,
    )
)  # fmt: skip
# Some character that is not blank, and no NUL anywhere (PostgreSQL text cannot hold NUL).
TEXT_PATTERN = rf"^[^\x00]*[^\x00{_BLANKS}][^\x00]*$"
NO_NUL_PATTERN = r"^[^\x00]*$"
# Numbers inside free-form JSON: within what a double holds exactly, so nothing overflows.
JSON_INT_LIMIT = 2**53
JSON_FLOAT_LIMIT = 1e15
# Generous: the bot's parse of a long message carries the whole text and many entities, and a
# ticket refused for its NLU result would be a lost report; the body size limit bounds it too.
JSON_MAX_DEPTH = 32
# Row ids as their columns hold them (referrals: 32-bit; the busy tables: 64-bit).
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def assume_vietnam_time(value: datetime | None) -> datetime | None:
    """A time given without a zone (a filter typed by staff) means Vietnam's local time."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=DISPLAY_ZONE)
    return value


def _storable(value: str) -> str:
    if _BAD_CHARS.search(value):
        raise PydanticCustomError(
            "unstorable_text",
            "text contains a NUL character or invalid Unicode (a lone surrogate)",
        )
    return value


def _trimmed(value: str) -> str:
    return _storable(value).strip(_BLANK_CHARS)


def _text(max_length: int, min_length: int = 0) -> Any:
    """Free text: kept without its surrounding blanks; with min_length, never blank."""
    return Annotated[
        str,
        Field(
            min_length=min_length,
            max_length=max_length,
            pattern=TEXT_PATTERN if min_length else NO_NUL_PATTERN,
        ),
        AfterValidator(_trimmed),
    ]


ShortText = _text(200)
Name = _text(200, 1)
# A country as said (kept in clear for statistics, in a 64-character column).
Country = _text(64)
# Agency codes; the published schema lists the configured ones (intake_api.openapi).
Code = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$"),
    Field(json_schema_extra={"x-hotline-values": "agencies"}),
]
MessageText = _text(4000, 1)
# A province as given; the published schema lists the configured names and their other
# spellings (pre-2025 units, unaccented forms), which the API maps (intake_api.provinces).
Province = Annotated[
    str,
    Field(min_length=1, max_length=200, json_schema_extra={"x-hotline-values": "provinces"}),
    AfterValidator(_trimmed),
]


def _e164(value: str) -> str:
    e164 = to_e164(value)
    if e164 is None:
        raise PydanticCustomError(
            "phone", "not a phone number: give it in E.164 (+84912345678) or as dialled"
        )
    return e164


# Stored and compared in E.164 form (a national number gets Viet Nam's +84).
# The pattern is exactly what to_e164 accepts: international with or without "+" or "00", or
# national (a leading 0).
Phone = Annotated[
    str,
    StringConstraints(pattern=r"^(\+?[1-9][0-9]{7,14}|00[1-9][0-9]{7,14}|0[1-9][0-9]{5,12})$"),
    AfterValidator(_e164),
]
RefCode = Annotated[str, StringConstraints(pattern=r"^TIP-[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{5}$")]
NoteText = _text(8000, 1)
# An opaque identifier of a person, computed by the filer (a keyed hash): never a clear id.
SenderRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{16,128}$")]
Opaque = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]

# Times go out in Vietnam's zone (docs/api.md: stored in UTC, shown in Asia/Ho_Chi_Minh).
LocalTime = Annotated[
    datetime, PlainSerializer(lambda v: v.astimezone(DISPLAY_ZONE).isoformat(), return_type=str)
]


JSON_MAX_ITEMS = 1000
JSON_MAX_TEXT = 65536

JsonText = Annotated[str, Field(max_length=JSON_MAX_TEXT, pattern=NO_NUL_PATTERN)]
_KEYS = {"propertyNames": {"maxLength": 200, "pattern": NO_NUL_PATTERN}}
JsonInt = Annotated[int, Field(ge=-JSON_INT_LIMIT, le=JSON_INT_LIMIT)]
JsonFloat = Annotated[float, Field(ge=-JSON_FLOAT_LIMIT, le=JSON_FLOAT_LIMIT)]
# What the schema says a free-form JSON value is; `_bounded_json` checks it in one pass with
# one clear sentence (a union validator would answer a deep value with thousands of errors).
JsonValue = TypeAliasType(
    "JsonValue",
    "JsonText | bool | JsonInt | JsonFloat | None "
    f"| Annotated[list[JsonValue], Field(max_length={JSON_MAX_ITEMS})] "
    f"| Annotated[dict[str, JsonValue], Field(max_length={JSON_MAX_ITEMS}, "
    "json_schema_extra=_KEYS)]",
)


def _json_problem(value: Any) -> str | None:
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, where = stack.pop()
        at = f"{where}: " if where else ""
        if depth > JSON_MAX_DEPTH:
            return f"{at}nested deeper than {JSON_MAX_DEPTH} levels; send a flatter structure"
        if isinstance(item, dict):
            if len(item) > JSON_MAX_ITEMS:
                return f"{at}more than {JSON_MAX_ITEMS} entries"
            for key, child in item.items():
                if not isinstance(key, str) or len(key) > 200 or _BAD_CHARS.search(key):
                    return f"{at}a key is not text of at most 200 storable characters"
                stack.append((child, depth + 1, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            if len(item) > JSON_MAX_ITEMS:
                return f"{at}more than {JSON_MAX_ITEMS} items"
            stack.extend((child, depth + 1, f"{where}.{i}") for i, child in enumerate(item))
        elif isinstance(item, str):
            if len(item) > JSON_MAX_TEXT:
                return f"{at}text longer than {JSON_MAX_TEXT} characters"
            if _BAD_CHARS.search(item):
                return f"{at}text contains a NUL character or invalid Unicode (a lone surrogate)"
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > JSON_INT_LIMIT:
                return f"{at}a number outside ±{JSON_INT_LIMIT}"
        elif isinstance(item, float):
            if not math.isfinite(item) or abs(item) > JSON_FLOAT_LIMIT:
                return f"{at}a number outside ±{JSON_FLOAT_LIMIT:.0e}"
        else:
            return f"{at}not a JSON value"
    return None


def _bounded_json(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PydanticCustomError("dict_type", "give a JSON object")
    problem = _json_problem(value)
    if problem:
        raise PydanticCustomError("json_bounds", problem)
    return value


# An NLU result (a Rasa parse) kept with the ticket: any JSON object, bounded in depth, size
# and numbers so that storing and reading it can never fail.
NluResult = Annotated[
    dict[str, Any],
    PlainValidator(_bounded_json, json_schema_input_type=dict[str, JsonValue]),
    Field(
        json_schema_extra={**_KEYS, "maxProperties": JSON_MAX_ITEMS},
        description=(
            f"A JSON object (the NLU parse): at most {JSON_MAX_DEPTH} levels deep, "
            f"{JSON_MAX_ITEMS} entries per object or array, numbers within ±{JSON_INT_LIMIT}."
        ),
    ),
]


def _utc(value: datetime) -> datetime:
    """An aware time as UTC; one at the very edge of the calendar (year 1 with a positive
    offset, year 9999 with a negative one) is the nearest instant UTC can hold."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return (
            datetime.min.replace(tzinfo=UTC)
            if value.year == 1
            else datetime.max.replace(tzinfo=UTC)
        )


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _not_a_timestamp(value: Any) -> Any:
    """Times are ISO 8601 text (docs/api.md); a bare number, which pydantic would read as
    seconds since 1970, is refused rather than guessed at."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise PydanticCustomError(
            "datetime_format", "give a date and time in ISO 8601, e.g. 2026-03-01T08:00:00+07:00"
        )
    return value


# A time in a body: ISO 8601 with its zone.
Instant = Annotated[AwareDatetime, BeforeValidator(_not_a_timestamp), AfterValidator(_utc)]
# A time in a filter, as staff type it: with a zone, or without one (Vietnam's time), or a
# date alone (its midnight in Vietnam).
FilterTime = Annotated[
    datetime,
    BeforeValidator(_not_a_timestamp),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "format": "date"},
            ],
            "description": "ISO 8601; without a zone it is Vietnam's time.",
        }
    ),
]


def _json_integer(value: Any) -> Any:
    """An integer as JSON Schema means it (`3` or `3.0`), never text or a boolean."""
    if isinstance(value, bool | str):
        raise PydanticCustomError("int_type", "give a whole number")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class Strict(BaseModel):
    """A request body: unknown fields are refused, and so are values of another JSON type
    (booleans and numbers are strict where it matters, so `"1"` is no number and `0` no false)."""

    model_config = ConfigDict(extra="forbid")


class GeoPoint(Strict):
    """A place the reporter shared (Telegram/Zalo location)."""

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, strict=True)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, strict=True)


class ReporterIn(Strict):
    channel_user_id: ShortText | None = None
    phone: Phone | None = None
    name: ShortText | None = None
    anonymous: StrictBool = False
    consent_to_contact: StrictBool = False
    # Who is filing, as an opaque identifier the filer computes (the bot: a keyed hash bound to
    # the ticket, never the clear channel id). Later messages carrying another identifier are
    # attributed to another sender and change nothing on the ticket.
    sender_ref: SenderRef | None = None


class TranscriptLine(Strict):
    direction: Literal["in", "out"] = "in"
    text: MessageText
    at: Instant | None = None


class TriageIn(Strict):
    priority: Priority
    category: Intent
    agencies: list[Code] = Field(min_length=1, max_length=10)
    reasons: list[ShortText] = Field(default_factory=list, max_length=20)


class IntakeIn(Strict):
    channel: Channel
    reporter: ReporterIn = Field(default_factory=ReporterIn)
    transcript: list[TranscriptLine] = Field(min_length=1, max_length=200)
    nlu: NluResult | None = None
    triage: TriageIn
    province: Province | None = None
    country: Country | None = None
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
    # Someone other than the reporter wrote to the ticket by its reference code (docs/api.md).
    other_sender: bool
    # A phone caller is owed a call-back (a missed, abandoned or after-hours call).
    callback_due: bool = False


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
    # Who wrote it: the reporter, another sender (someone else who knows the reference code),
    # the bot (direction "out"), or unknown when the filer gave nothing to compare.
    sender: Literal["reporter", "another_sender", "bot", "unknown"]
    # A phone number given with a later message; the reporter's own is never replaced.
    phone: str | None = None


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


# --- phone calls (docs/api.md, Calls) ---------------------------------------------------------

CallKey = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,128}$")]
# Twilio's ids: two letters and 32 hex digits (`CA…` a call, `RE…` a recording).
CallSid = Annotated[str, StringConstraints(pattern=r"^CA[0-9a-fA-F]{32}$")]
RecordingSid = Annotated[str, StringConstraints(pattern=r"^RE[0-9a-fA-F]{32}$")]
CallSeconds = Annotated[int, Field(ge=0, le=86_400), BeforeValidator(_json_integer)]
LegTarget = Literal["on_call", "fallback"]
LegOutcome = Literal["answered", "busy", "no-answer", "failed", "canceled"]
RecordingPurpose = Literal["report", "voicemail"]
CallbackReason = Literal["missed", "abandoned", "after_hours"]


RecordingUrl = Annotated[str, StringConstraints(max_length=500, pattern=r"^https?://[\x21-\x7e]+$")]


class _CallRecord(Strict):
    # Unique per ticket: the same key again records nothing (a replayed platform callback).
    key: CallKey
    call_sid: CallSid


class LegRecordIn(_CallRecord):
    """A forwarding leg ended: who was dialled and how it ended."""

    kind: Literal["leg"]
    target: LegTarget
    outcome: LegOutcome
    duration_seconds: CallSeconds | None = None


class RecordingRecordIn(_CallRecord):
    """The caller's recorded report or voicemail."""

    kind: Literal["recording"]
    recording_sid: RecordingSid
    recording_url: RecordingUrl
    duration_seconds: CallSeconds | None = None
    purpose: RecordingPurpose


class CallbackRecordIn(_CallRecord):
    """The caller is owed a call-back (nobody answered, they hung up first, after hours)."""

    kind: Literal["callback"]
    reason: CallbackReason


# What a call left on a ticket, sent by the bot that filed it; the kind says which fields.
CallRecordIn = Annotated[
    LegRecordIn | RecordingRecordIn | CallbackRecordIn, Field(discriminator="kind")
]


class CallRecordAck(BaseModel):
    ticket_id: str
    recorded: bool = Field(description="False when this key was already recorded (a replay).")


class CallOut(BaseModel):
    """One record of a call on the ticket. A recording is played through
    `GET /api/v1/tickets/{id}/recordings/{call_id}`; its platform address is never shown."""

    id: int
    kind: str
    target: str | None = Field(
        description="leg: on_call or fallback; recording: its purpose; "
        "callback: why the caller is owed a call"
    )
    outcome: str | None
    duration_seconds: int | None
    has_recording: bool
    state: str | None = Field(description="callback: open until the caller is reached")
    attempts: int
    done_by: str | None
    done_at: LocalTime | None
    created_at: LocalTime


class CallbackIn(Strict):
    """A call-back a staff member made: `reached` or `wrong_number` closes the task,
    `no_answer` keeps it open and counts the attempt."""

    outcome: Literal["reached", "no_answer", "wrong_number"]


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
    calls: list[CallOut] = Field(default_factory=list)


Username = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.\-]{3,64}$")]


class TicketPatch(Strict):
    """Only the fields given change; an empty patch changes nothing."""

    status: Status | None = None
    priority: Priority | None = None
    agencies: list[Code] | None = Field(default=None, min_length=1, max_length=10)
    # Username of the new assignee; null unassigns. Without `version`, this claims the ticket:
    # refused (409) while someone else holds it.
    assignee: Username | None = None
    # Optimistic locking: when given, the edit is refused (409) if someone changed it since.
    version: Annotated[int, Field(ge=1, le=INT32_MAX), BeforeValidator(_json_integer)] | None = None


class NoteIn(Strict):
    text: NoteText


class ReferralIn(Strict):
    to_agency: Code
    reason: NoteText


class ReferralDecision(Strict):
    note: _text(2000) | None = None  # type: ignore[valid-type]


class ReplyIn(Strict):
    text: MessageText


MessageId = Annotated[
    str, Field(min_length=1, max_length=128, pattern=NO_NUL_PATTERN), AfterValidator(_storable)
]


class ReporterMessageIn(Strict):
    text: MessageText
    at: Instant | None = None
    # The platform's message id, so a retried delivery is appended once.
    message_id: MessageId | None = None
    # Who wrote it (see ReporterIn.sender_ref): from another sender, the message is kept and
    # flagged, and none of the details below are applied.
    sender_ref: SenderRef | None = None
    # Details the conversation learnt since the ticket was filed (the bot's rescue questions).
    province: Province | None = None
    country: Country | None = None
    # Added when the ticket has no phone number; never replaces the reporter's.
    phone: Phone | None = None
    # May raise a ticket's priority (danger discovered later), never lower it.
    priority: Priority | None = None
    location: GeoPoint | None = None


class AppendOut(BaseModel):
    ticket_id: str
    # False for a repeated delivery of a message already appended (same message_id).
    appended: bool


class StatusLookupOut(BaseModel):
    reference_code: str
    status: Status
    updated_at: LocalTime


class ReporterByChannel(Strict):
    channel: Channel
    channel_user_id: Name


class ReporterByPhone(Strict):
    phone: Phone


# A reporter is looked up by the channel address or by phone number, one of the two.
ReporterLookupIn = ReporterByChannel | ReporterByPhone


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


Password = Annotated[
    str,
    Field(min_length=12, max_length=256, pattern=NO_NUL_PATTERN),
    AfterValidator(_storable),
]


class UserIn(Strict):
    username: Username
    password: Password
    roles: list[Role] = Field(min_length=1, max_length=len(Role))
    agency: Code | None = None
    full_name: ShortText | None = None


class UserPatch(Strict):
    # False disables the account: its tokens stop working and it cannot sign in.
    active: StrictBool


class UserOut(BaseModel):
    id: int
    username: str
    roles: list[str]
    agency: str | None
    active: bool
    full_name: str | None


class TokensRevoked(BaseModel):
    username: str
    revoked: int


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


class ErrorOut(BaseModel):
    """Every error (docs/api.md, Errors): a sentence a person can act on."""

    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    type: str
    msg: str


class ValidationErrorOut(ErrorOut):
    """A 422: the sentence, and for malformed input the fields at fault."""

    errors: list[ValidationIssue] | None = None

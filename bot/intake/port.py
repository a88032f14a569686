"""What the conversation engine needs from the rest of the bot, as small interfaces.

The engine decides; these do the I/O. Keeping them abstract lets the same flows run over the
in-process transport, HTTP, or the fakes in tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class TranscriptLine:
    direction: str  # "in" from the reporter, "out" from the bot
    text: str
    at: str  # ISO 8601 with zone


@dataclass
class TicketDraft:
    """Everything the conversation knows when it files a ticket (docs/api.md intake body)."""

    channel: str
    sender_id: str
    conversation_id: str
    transcript: list[TranscriptLine]
    nlu: dict[str, Any] | None
    triage: dict[str, Any]  # {"priority", "category", "agencies", "reasons"}
    province: str | None = None
    country: str | None = None
    phone: str | None = None
    name: str | None = None
    anonymous: bool = False
    consent_to_contact: bool = False
    # The inbound message that completed the report: processing it again (after a crash) must
    # find the same ticket, not file a second one.
    source_message_id: str | None = None
    # The latest place the reporter shared, (latitude, longitude).
    location: tuple[float, float] | None = None


@dataclass
class TicketUpdate:
    """A further message for a filed ticket, with any detail it adds."""

    text: str
    message_id: str
    province: str | None = None
    country: str | None = None
    phone: str | None = None
    priority: str | None = None  # only ever raised, never lowered, by the bot
    extra: dict[str, Any] = field(default_factory=dict)
    # The conversation the message came from. The intake client sends the API only a keyed
    # hash of it, bound to the ticket, so a message from anyone but the reporter (someone else
    # who knows the code) is kept as from "another sender" and changes nothing on the ticket.
    conversation_id: str | None = None


@dataclass(frozen=True)
class TicketStatus:
    reference_code: str
    status: str  # docs/api.md statuses: new, acknowledged, in_progress, referred, resolved, ...
    updated_at: str


class IntakeUnavailable(Exception):
    """The intake API cannot answer now (down, timing out)."""


class IntakePort(Protocol):
    def submit_ticket(self, draft: TicketDraft) -> str:
        """Files a ticket durably and returns its reference code at once, even while the API is
        down (the delivery then waits in the outbox)."""
        ...

    def update_ticket(self, reference_code: str, update: TicketUpdate) -> None:
        """Durably appends to a filed ticket; delivered after the ticket itself."""
        ...

    def lookup_status(self, reference_code: str) -> TicketStatus | None:
        """The status of a report, None when no report has this code.
        Raises IntakeUnavailable when the API cannot answer now."""
        ...

"""The one contract every channel adapter speaks.

An adapter (1) checks a platform request is authentic, (2) turns it into an `InboundMessage`
carrying the platform's own message id for de-duplication, and (3) sends `OutboundText` back
out. Everything after step 2 knows nothing of the platform.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol


@dataclass(frozen=True)
class InboundMessage:
    channel: str  # "telegram" | "zalo" | "sms" | "webchat" | "terminal"
    sender_id: str  # where replies go: Telegram chat id, Zalo user id, phone number, session id
    message_id: str  # the platform's own id: retries of one message carry the same id
    text: str | None = None
    # A shared location (Telegram/Zalo), as (latitude, longitude).
    location: tuple[float, float] | None = None
    # A phone number the platform vouches for (SMS sender, Telegram contact share), E.164.
    phone: str | None = None
    # Media the bot cannot read (a photo without caption, a voice note, a sticker, a file): its
    # kind, so the person is still answered and staff learn something was sent.
    attachment: str | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class OutboundText:
    channel: str
    recipient_id: str
    text: str
    # Quick-reply buttons where the platform has them (Telegram keyboard, web chat).
    quick_replies: tuple[str, ...] = ()
    # The inbound platform message this answers, for platforms that price or thread by it (Zalo).
    reply_to: str | None = None


class DeliveryError(Exception):
    """Sending failed; `permanent` when retrying cannot help (user blocked the bot, bad id)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class ChannelSender(Protocol):
    channel: str

    async def send(self, message: OutboundText) -> str | None:
        """Delivers one message; returns the platform's id for it. Raises DeliveryError."""
        ...

    async def delete(self, recipient_id: str, message_ids: list[str]) -> int:
        """Deletes the bot's own earlier messages where the platform allows; returns how many."""
        ...


# What an adapter calls with each authentic inbound message. It returns once the message is
# stored (so the adapter may acknowledge the platform); `None` means a duplicate.
InboundHandler = Callable[[InboundMessage], Awaitable[bool]]

"""The contract between the channels, the message service and the dialogue (docs/architecture.md).

A channel (one folder under `bot/channels/`) (1) checks a platform request is authentic,
(2) turns it into an `InboundMessage` carrying the platform's own message id for
de-duplication and hands it to the one `InboundHandler` it was given, and (3) sends
`OutboundText` back out. Everything after step 2 knows nothing of the platform.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fastapi import APIRouter
    from sqlalchemy.engine import Engine

    from bot.config import BotSettings
    from bot.intake.client import IntakeClient


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


# What the message service accepts from any platform; anything else is refused at the door,
# before it is acknowledged, so nothing acknowledged can be refused later.
MAX_ID_CHARS = 256
MAX_TEXT_CHARS = 20_000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def problem_with(message: InboundMessage) -> str | None:
    """Why the message cannot be taken (a sentence naming the field), or None."""
    for name in ("sender_id", "message_id"):
        value = getattr(message, name)
        if not isinstance(value, str) or not value:
            return f"{name} is missing or not text"
        if len(value) > MAX_ID_CHARS:
            return f"{name}: at most {MAX_ID_CHARS} characters"
        if _UNSTORABLE.search(value):
            return f"{name} contains a NUL character or invalid Unicode"
    if message.text is not None:
        if not isinstance(message.text, str):
            return "text must be a string"
        if len(message.text) > MAX_TEXT_CHARS:
            return f"text: at most {MAX_TEXT_CHARS} characters"
        if _UNSTORABLE.search(message.text):
            return "text contains a NUL character or invalid Unicode (a lone surrogate)"
    return None


class DeliveryError(Exception):
    """Sending failed; `permanent` when retrying cannot help (user blocked the bot, bad id).
    `retry_after` is the wait in seconds the platform asked for, when it said one."""

    def __init__(
        self, message: str, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


# What a channel calls with each authentic inbound message. It returns once the message is
# stored (so the channel may acknowledge the platform): True for a new message, False for a
# platform's retry of one already stored. A flooding sender's message is stored and acknowledged
# too (answered after its window); anything raised means it was not stored.
InboundHandler = Callable[[InboundMessage], Awaitable[bool]]


@dataclass(frozen=True)
class TextLimit:
    """The longest text one platform message may carry, and the unit the platform counts in."""

    max_units: int
    unit: str  # "utf16" (Telegram, Zalo: JavaScript string length), "chars", "sms_segments"


@dataclass(frozen=True)
class ChannelContext:
    """What any channel may be built from, besides the settings."""

    engine: Engine
    hotlines: Mapping[str, str]
    # A keyed hash of an address (a web-chat session id): stored where the address would
    # serve as a key, since whoever holds the address reads the conversation's replies.
    address_key: Callable[[str], str]
    # The intake client, for a channel that files tickets itself instead of through the
    # conversation (the voice hotline: a call's menu choices are its report).
    intake: IntakeClient | None = None


class Channel(Protocol):
    """One platform. Built by `bot.channels.registry` from settings; the message service only
    ever sees this interface."""

    name: str
    limit: TextLimit
    # The person's client waits for the answer in the same request (web chat, terminal): the
    # message service works the message before the handler returns.
    waits_for_replies: bool

    def router(self, handler: InboundHandler) -> APIRouter | None:
        """The platform's webhook routes, calling `handler` with each authentic message."""
        ...

    async def start(self) -> None:
        """Connects to the platform (registers a webhook, checks a token)."""
        ...

    async def stop(self) -> None: ...

    async def receive(self, handler: InboundHandler, stop: asyncio.Event) -> None:
        """Receives by polling, for platforms and set-ups without webhooks; returns at once
        for the others."""
        ...

    async def send(self, message: OutboundText) -> str | None:
        """Delivers one message; returns the platform's id for it. Raises DeliveryError."""
        ...

    async def send_all(self, messages: Sequence[OutboundText]) -> list[str | None] | None:
        """Delivers several messages to one person in one call, all or none, returning their
        ids; None when the platform has no such call (they are then sent one by one)."""
        ...

    async def delete(self, recipient_id: str, message_ids: list[str]) -> int:
        """Deletes the bot's own earlier messages where the platform allows; returns how many."""
        ...


class ChannelBase:
    """Defaults for the parts of `Channel` a platform may not need."""

    name: str
    limit: TextLimit
    waits_for_replies = False

    @classmethod
    def from_settings(cls, settings: BotSettings, context: ChannelContext) -> Channel | None:
        """The channel, or None when its settings do not switch it on."""
        raise NotImplementedError

    def router(self, handler: InboundHandler) -> APIRouter | None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def receive(self, handler: InboundHandler, stop: asyncio.Event) -> None:
        return None

    async def send_all(self, messages: Sequence[OutboundText]) -> list[str | None] | None:
        return None

    async def delete(self, recipient_id: str, message_ids: list[str]) -> int:
        return 0

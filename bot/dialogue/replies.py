"""What one call of the engine returns: the replies to send and the state to store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BotReply:
    text: str
    # Buttons where the platform has them; their labels are replies a person could type.
    quick_replies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Turn:
    replies: list[BotReply]
    # The new conversation state, JSON-serialisable; {} is a fresh conversation.
    state: dict[str, Any] = field(default_factory=dict)
    # True after /xoa: the caller wipes the conversation and deletes the bot's messages.
    erase: bool = False

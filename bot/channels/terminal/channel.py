"""The terminal channel: `hotline chat` talks to the bot locally, for demos and staff training.
One line typed is one message; the bot's replies are printed as they are sent."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.config import BotSettings
from bot.contract import (
    ChannelBase,
    ChannelContext,
    DeliveryError,
    InboundHandler,
    InboundMessage,
    OutboundText,
    TextLimit,
)

NAME = "terminal"


class TerminalChannel(ChannelBase):
    name = NAME
    limit = TextLimit(100_000, "chars")
    # The person waits at the prompt: the answer is printed before the next prompt.
    waits_for_replies = True

    @classmethod
    def from_settings(cls, settings: BotSettings, context: ChannelContext) -> None:
        return None  # only `hotline chat` adds it, for its own terminal

    def __init__(self, out: TextIO | None = None, who: str = "demo") -> None:
        self._out = out or sys.stdout
        self._count = 0
        # Whose terminal this is: another name's replies (a staff reply to B's ticket while A
        # chats) wait for that person's own session instead of showing here.
        self.sender_id = f"terminal-{who}"

    async def send(self, message: OutboundText) -> str | None:
        if message.recipient_id != self.sender_id:
            raise DeliveryError("that person's terminal is not open", permanent=False)
        self._count += 1
        self._out.write(f"\nbot> {message.text}\n")
        if message.quick_replies:
            self._out.write("     [" + " | ".join(message.quick_replies) + "]\n")
        self._out.flush()
        return str(self._count)

    async def delete(self, recipient_id: str, message_ids: list[str]) -> int:
        # A terminal cannot take back what it printed; clearing the screen is the closest.
        self._out.write("\033[2J\033[H")
        self._out.flush()
        return 0

    async def chat(
        self, handler: InboundHandler, between_turns: Callable[[], Awaitable[None]]
    ) -> None:
        """Reads lines until end of input, handing each to the bot as this terminal's person;
        `between_turns` runs the background work (staff replies) while the person reads."""
        sender_id = self.sender_id
        self._out.write("Type a message (Vietnamese, with or without accents). Ctrl-D to leave.\n")
        self._out.write("you> ")
        self._out.flush()
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            text = line.strip()
            if text:
                await handler(InboundMessage(NAME, sender_id, uuid.uuid4().hex, text=text))
            await between_turns()
            self._out.write("\nyou> ")
            self._out.flush()

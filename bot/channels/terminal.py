"""The terminal channel: `hotline chat` talks to the bot locally, for demos and staff training."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.channels.base import OutboundText


class TerminalChannel:
    channel = "terminal"

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out or sys.stdout
        self._count = 0

    async def send(self, message: OutboundText) -> str | None:
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

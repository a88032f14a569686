"""`hotline chat --name B` shows B's conversation only."""

from __future__ import annotations

import io

import pytest

from bot.channels.terminal.channel import TerminalChannel
from bot.contract import DeliveryError, OutboundText


async def test_a_reply_for_another_names_conversation_is_not_shown_and_waits() -> None:
    screen = io.StringIO()
    terminal = TerminalChannel(out=screen, who="B")

    with pytest.raises(DeliveryError) as caught:
        await terminal.send(OutboundText("terminal", "terminal-A", "Cán bộ nhắn: về A"))
    assert caught.value.permanent is False  # kept for A's own session
    assert "về A" not in screen.getvalue()

    await terminal.send(OutboundText("terminal", "terminal-B", "Cán bộ nhắn: về B"))
    assert "về B" in screen.getvalue()

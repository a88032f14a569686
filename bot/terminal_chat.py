"""`hotline chat`: the whole bot, in-process, in a terminal."""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid

from sqlalchemy.engine import Engine

from bot.channels.base import InboundMessage
from bot.channels.terminal import TerminalChannel
from bot.config import get_bot_settings
from bot.runtime import build_runtime
from bot.server import ensure_service_account
from intake_api.config import Settings
from intake_api.crypto import configure_cipher
from intake_api.keyfile import cipher_from_settings
from intake_api.state import AppState


def run_chat(settings: Settings, engine: Engine, name: str) -> None:
    # The conversation is the screen here; log lines would interleave with it.
    logging.getLogger().setLevel(logging.WARNING)
    cipher = cipher_from_settings(settings)
    configure_cipher(cipher)
    ensure_service_account(engine)
    terminal = TerminalChannel()
    runtime = build_runtime(
        get_bot_settings().model_copy(update={"intake_transport": "inprocess"}),
        engine,
        cipher,
        settings.hotlines,
        api_state=AppState(settings=settings, engine=engine, cipher=cipher),
        extra_channels={"terminal": terminal},
    )
    sender_id = f"terminal-{name}"
    print("Type a message (Vietnamese, with or without accents). Ctrl-D to leave.", flush=True)

    async def loop() -> None:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            text = line.strip()
            if text:
                await runtime.service.converse(
                    InboundMessage(
                        channel="terminal",
                        sender_id=sender_id,
                        message_id=uuid.uuid4().hex,
                        text=text,
                    )
                )
            await runtime.tick()  # staff replies for this terminal, and the outbox
            print("\nyou> ", end="", flush=True)

    print("you> ", end="", flush=True)
    asyncio.run(loop())

"""Bot fixtures: the API's own app state and a switchable transport to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.config import BotSettings
from bot.contract import Channel
from bot.intake.inprocess import InProcessTransport
from bot.intake.transport import Unavailable
from bot.runtime import BotRuntime, build_runtime
from intake_api.crypto import PersonalDataCipher, configure_cipher
from intake_api.models import User
from intake_api.state import AppState
from tests.conftest import TEST_BLIND_KEY, TEST_KEYS
from tests.intake_api.conftest import make_settings


class SwitchableTransport:
    """The in-process transport with an off switch: `down = True` is the API being stopped."""

    def __init__(self, inner: InProcessTransport) -> None:
        self.inner = inner
        self.down = False
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.down:
                raise Unavailable("connection refused")
            return method(*args, **kwargs)

        return call


@pytest.fixture
def api_state(engine: Engine, tmp_path: Path) -> Iterator[AppState]:
    cipher = PersonalDataCipher(TEST_KEYS, TEST_BLIND_KEY)
    configure_cipher(cipher)
    with Session(engine) as session:
        session.add(User(username="bot", password_hash="x", roles="service"))
        session.commit()
    yield AppState(settings=make_settings(tmp_path), engine=engine, cipher=cipher)


def bot_for(
    api_state: AppState,
    transport: SwitchableTransport,
    settings: BotSettings | None = None,
    **channels: Channel,
) -> BotRuntime:
    """The bot wired to the test's API state and transport, with `channels` besides the
    configured ones (a recording channel, a channel on a platform fake)."""
    return build_runtime(
        settings or BotSettings(),
        api_state.engine,
        api_state.cipher,
        api_state.settings.hotlines,
        transport=transport,
        extra_channels=channels or None,
    )


@pytest.fixture
def transport(api_state: AppState) -> SwitchableTransport:
    return SwitchableTransport(InProcessTransport(api_state, "bot"))

from __future__ import annotations

import pytest

from tests.bot.dialogue.fakes import Harness


@pytest.fixture
def bot() -> Harness:
    return Harness()

from __future__ import annotations

import pytest

from bot.dialogue.companies import CompanyRegistry
from bot.dialogue.engine import Dialogue
from bot.dialogue.wording import Wording
from tests.bot.dialogue.fakes import HOTLINES, NLU_DATA, Harness


@pytest.fixture
def bot() -> Harness:
    return Harness()


@pytest.fixture(scope="session")
def real_nlu():
    try:
        from bot.nlu import load_nlu

        return load_nlu()
    except (ImportError, NotImplementedError) as exc:
        pytest.skip(f"the real NLU is not available yet: {type(exc).__name__}: {exc}")


@pytest.fixture(scope="session")
def real_triage():
    try:
        from bot.triage import triage
    except (ImportError, NotImplementedError) as exc:
        pytest.skip(f"the real triage is not available yet: {type(exc).__name__}: {exc}")
    return triage


@pytest.fixture
def real_bot(real_nlu, real_triage) -> Harness:
    bot = Harness()
    bot.dialogue = Dialogue(
        nlu=real_nlu,
        intake=bot.intake,
        wording=Wording.load(NLU_DATA),
        companies=CompanyRegistry.load(NLU_DATA / "licensed_companies.csv"),
        hotlines=HOTLINES,
        low_confidence_threshold=0.45,
        triage=real_triage,
        clock=lambda: bot.now,
    )
    return bot

"""A few conversations through the REAL NLU and triage (skipped when they are not ready)."""

from __future__ import annotations

import pytest

from bot.dialogue.companies import CompanyRegistry
from bot.dialogue.engine import Dialogue
from bot.dialogue.wording import Wording
from tests.bot.dialogue.fakes import HOTLINES, NLU_DATA, Harness


@pytest.fixture(scope="module")
def real_nlu():
    try:
        from bot.nlu import load_nlu

        return load_nlu()
    except (ImportError, NotImplementedError) as exc:
        pytest.skip(f"the real NLU is not available yet: {type(exc).__name__}: {exc}")


@pytest.fixture(scope="module")
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


def test_a_rescue_message_without_diacritics_starts_the_rescue_flow(real_bot):
    turn = real_bot.send("cuu em voi, em bi nhot o cam")
    code, draft = real_bot.intake.submitted[0]
    assert draft.triage["priority"] == "P1"
    assert draft.country == "Campuchia"
    assert "113" in turn.replies[0].text and "111" in turn.replies[0].text
    assert code in turn.replies[0].text
    assert real_bot.state["flow"] == "rescue"


def test_an_unsure_answer_to_where_is_still_the_answer(real_bot):
    real_bot.send("cứu em với, em bị nhốt ở Campuchia, họ thu hộ chiếu")
    code = real_bot.intake.submitted[0][0]
    turn = real_bot.send("o gan cho")
    assert real_bot.intake.updates_for(code)[0].text == "o gan cho"
    assert real_bot.texts(turn) == [real_bot.says("rescue.ask_companions")]


def test_check_offer_for_hoang_long(real_bot):
    turn = real_bot.send("cty xkld hoang long co uy tin ko")
    assert "Hoàng Long" in real_bot.joined(turn)
    assert turn.replies[-1].text == real_bot.says("offer.ask_tip")


def test_hotline_question(real_bot):
    turn = real_bot.send("số đường dây nóng là gì")
    assert "111" in real_bot.joined(turn) and "113" in real_bot.joined(turn)

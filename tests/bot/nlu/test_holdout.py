"""The real model on the held-out examples (never trained on). Thresholds here are regression
guards a little under the figures measured when this was written; bench/nlu_bench.py reports the
targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.assessment import evaluate
from bot.nlu.engine import EmbeddedNLU
from bot.nlu.training_data import load_yaml_file
from bot.triage import TriageRules

REPO = Path(__file__).resolve().parents[3]
HOLDOUT = REPO / "tests" / "data" / "nlu_holdout.yml"


@pytest.fixture(scope="module")
def report(real_engine: EmbeddedNLU) -> dict:
    if not HOLDOUT.is_file():
        pytest.skip(f"{HOLDOUT} does not exist yet")
    examples = load_yaml_file(HOLDOUT).examples
    return evaluate(real_engine, examples, TriageRules.from_dir(REPO / "nlu_data").is_p1)


def test_holdout_intent_macro_f1(report: dict) -> None:
    assert report["intents"]["macro_f1"] >= 0.945
    assert report["diacritic_free"]["intents"]["macro_f1"] >= 0.94


def test_holdout_entity_f1(report: dict) -> None:
    assert report["entities"]["f1"] >= 0.93


def test_every_held_out_rescue_request_is_p1(report: dict) -> None:
    assert report["p1"]["recall"] == 1.0, report["p1"]["missed"]

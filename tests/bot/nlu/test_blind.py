"""The real model on the frozen blind sets (tests/data/nlu_blind.yml, tests/data/triage_blind.yml).

The blind sets were written from docs/nlu.md alone, without sight of the training data, and are
never trained on or read sentence by sentence: these tests compute aggregate figures only, and
every assertion message carries figures, never a text. The floors are the targets of issue 10.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rapidfuzz import fuzz, process

from bot.nlu.assessment import evaluate, evaluate_triage, load_triage_cases
from bot.nlu.engine import EmbeddedNLU
from bot.nlu.normalize import strip_diacritics
from bot.nlu.training_data import load_training_data, load_yaml_file
from bot.triage import TriageRules, triage

REPO = Path(__file__).resolve().parents[3]
NLU_BLIND = REPO / "tests" / "data" / "nlu_blind.yml"
TRIAGE_BLIND = REPO / "tests" / "data" / "triage_blind.yml"
# Similarity (rapidfuzz ratio, 0-100) from which two folded texts count as near-duplicates.
NEAR_DUPLICATE = 90.0
# Shorter messages ("xin chào", "ok ạ", "cảm ơn nhiều") are formulas that any two writers share;
# a sentence of at least this many words that matches one in the blind set was written close to it.
MIN_WORDS = 4

pytestmark = pytest.mark.skipif(
    not (NLU_BLIND.is_file() and TRIAGE_BLIND.is_file()), reason="the blind sets are missing"
)


@pytest.fixture(scope="module")
def rules() -> TriageRules:
    return TriageRules.from_dir(REPO / "nlu_data")


@pytest.fixture(scope="module")
def nlu_report(real_engine: EmbeddedNLU, rules: TriageRules) -> dict[str, Any]:
    examples = load_yaml_file(NLU_BLIND).examples
    return evaluate(real_engine, examples, rules.is_p1, with_examples=False)


@pytest.fixture(scope="module")
def triage_report(real_engine: EmbeddedNLU, rules: TriageRules) -> dict[str, Any]:
    return evaluate_triage(
        real_engine,
        load_triage_cases(TRIAGE_BLIND),
        lambda parse: triage(parse, [], rules=rules),
        with_examples=False,
    )


def test_blind_intent_macro_f1(nlu_report: dict[str, Any]) -> None:
    f1 = nlu_report["intents"]["macro_f1"]
    plain = nlu_report["diacritic_free"]["intents"]["macro_f1"]
    assert f1 >= 0.97, f"blind intent macro-F1 {f1:.3f} < 0.97"
    assert plain >= 0.95, f"blind diacritic-free intent macro-F1 {plain:.3f} < 0.95"


def test_blind_entity_and_relation_f1(nlu_report: dict[str, Any]) -> None:
    entities = nlu_report["entities"]
    relation = entities["per_entity"]["relation"]
    assert entities["f1"] >= 0.95, f"blind entity F1 {entities['f1']:.3f} < 0.95"
    assert relation["f1"] >= 0.90, (
        f"blind relation F1 {relation['f1']:.3f} < 0.90 "
        f"(P {relation['precision']:.3f}, R {relation['recall']:.3f})"
    )


def test_blind_provinces_found(nlu_report: dict[str, Any]) -> None:
    found = nlu_report["provinces_found"]
    assert found["rate"] >= 0.95, f"{found['found']} of {found['gold']} provinces found"


def test_blind_p1_recall_and_precision(triage_report: dict[str, Any]) -> None:
    p1 = triage_report["p1"]
    assert p1["recall"] == 1.0, (
        f"P1 recall {p1['recall']:.3f}: {p1['positives']} P1 cases, by kind "
        f"{triage_report['by_kind']}"
    )
    assert p1["precision"] >= 0.8, f"P1 precision {p1['precision']:.3f} < 0.8"


def test_blind_reports_hold_no_text(
    nlu_report: dict[str, Any], triage_report: dict[str, Any]
) -> None:
    assert "missed" not in nlu_report["p1"]
    assert "wrong_priority" not in triage_report


def _fold(text: str) -> str:
    plain = strip_diacritics(text).lower()
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", plain)).strip()


def _near_duplicates(train: list[str], blind: list[str]) -> int:
    """How many training texts are near-duplicates of some blind text (a count, nothing more)."""
    if not train or not blind:
        return 0
    scores = process.cdist(train, blind, scorer=fuzz.ratio, score_cutoff=NEAR_DUPLICATE)
    return int((scores >= NEAR_DUPLICATE).any(axis=1).sum())


def _overlap_counts() -> tuple[int, int]:
    """(long near-duplicates, short formulas in common) between training and blind texts.

    Only counts leave this function, so no failure report can show a blind text.
    """
    train = [_fold(e.text) for e in load_training_data(REPO / "nlu_data").examples]
    blind = [_fold(e.text) for e in load_yaml_file(NLU_BLIND).examples]
    blind += [_fold(c.text) for c in load_triage_cases(TRIAGE_BLIND)]

    def split(texts: list[str]) -> tuple[list[str], list[str]]:
        return (
            [t for t in texts if len(t.split()) >= MIN_WORDS],
            [t for t in texts if len(t.split()) < MIN_WORDS],
        )

    (train_long, train_short), (blind_long, blind_short) = split(train), split(blind)
    return _near_duplicates(train_long, blind_long), _near_duplicates(train_short, blind_short)


def test_no_training_sentence_is_a_near_duplicate_of_a_blind_one() -> None:
    found, formulas = _overlap_counts()
    assert found == 0, (
        f"{found} training sentences of {MIN_WORDS}+ words are near-duplicates (folded ratio >= "
        f"{NEAR_DUPLICATE:.0f}) of blind sentences; {formulas} short formulas also coincide"
    )


def test_the_near_duplicate_check_finds_folded_variants() -> None:
    blind = [_fold("Con gái tôi đi làm ở Bình Dương rồi mất liên lạc 2 tháng nay")]
    assert (
        _near_duplicates([_fold("con gai toi di lam o binh duong roi mat lien lac 2 thang")], blind)
        == 1
    )
    assert (
        _near_duplicates([_fold("chồng tôi sang Đài Loan làm việc, nay không gọi về")], blind) == 0
    )

from __future__ import annotations

import pytest

from bot.nlu.evaluation import (
    accuracy,
    binary_scores,
    confusion_pairs,
    entity_report,
    macro_f1,
    per_label_scores,
)


def test_per_label_scores_by_hand() -> None:
    gold = ["a", "a", "b", "b"]
    pred = ["a", "b", "b", "b"]
    scores = per_label_scores(gold, pred)
    # a: tp 1, predicted 1, gold 2 -> P 1, R 0.5, F1 2/3
    assert scores["a"]["precision"] == 1.0
    assert scores["a"]["recall"] == 0.5
    assert scores["a"]["f1"] == pytest.approx(2 / 3)
    # b: tp 2, predicted 3, gold 2 -> P 2/3, R 1, F1 0.8
    assert scores["b"]["precision"] == pytest.approx(2 / 3)
    assert scores["b"]["f1"] == pytest.approx(0.8)
    assert macro_f1(gold, pred) == pytest.approx((2 / 3 + 0.8) / 2)
    assert accuracy(gold, pred) == 0.75


def test_label_only_predicted_counts_in_macro_f1() -> None:
    assert macro_f1(["a"], ["b"]) == 0.0
    assert set(per_label_scores(["a"], ["b"])) == {"a", "b"}


def test_confusion_pairs_most_frequent_first() -> None:
    gold = ["a", "a", "a", "b", "c"]
    pred = ["b", "b", "a", "c", "c"]
    assert confusion_pairs(gold, pred) == [
        {"gold": "a", "predicted": "b", "count": 2},
        {"gold": "b", "predicted": "c", "count": 1},
    ]


def _e(entity: str, value: str, start: int, end: int) -> dict:
    return {"entity": entity, "value": value, "start": start, "end": end}


def test_entity_report_overlap_and_value() -> None:
    gold = [[_e("country", "Lào", 0, 3), _e("age", "15", 5, 12)]]
    pred = [
        [
            _e("country", "Lào", 1, 4),  # overlaps, same value: correct
            _e("age", "16", 5, 12),  # wrong value
            _e("phone", "+84912345678", 20, 30),  # spurious
        ]
    ]
    report = entity_report(gold, pred)
    assert report["per_entity"]["country"]["f1"] == 1.0
    assert report["per_entity"]["age"]["recall"] == 0.0
    assert report["per_entity"]["phone"]["precision"] == 0.0
    assert report["precision"] == pytest.approx(1 / 3)
    assert report["recall"] == pytest.approx(1 / 2)
    assert report["f1"] == pytest.approx(0.4)


def test_entity_gold_matched_once() -> None:
    gold = [[_e("relation", "self", 0, 2)]]
    pred = [[_e("relation", "self", 0, 2), _e("relation", "self", 1, 2)]]
    report = entity_report(gold, pred)
    assert report["precision"] == 0.5 and report["recall"] == 1.0


def test_adjacent_spans_do_not_overlap() -> None:
    report = entity_report([[_e("age", "15", 0, 3)]], [[_e("age", "15", 3, 6)]])
    assert report["f1"] == 0.0


def test_binary_scores() -> None:
    scores = binary_scores([True, True, False, False], [True, True, True, False])
    assert scores["recall"] == 1.0
    assert scores["precision"] == pytest.approx(2 / 3)


def test_provinces_found_counts_values_anywhere_in_the_parse() -> None:
    from bot.nlu.assessment import provinces_found
    from bot.nlu.training_data import EntitySpan, Example

    examples = [
        Example("o hue", "x", (EntitySpan("province", "Huế", 2, 5, "hue"),)),
        Example("o hcm", "x", (EntitySpan("province", "Thành phố Hồ Chí Minh", 2, 5, "hcm"),)),
    ]
    parses = [
        {"entities": [_e("province", "huế", 0, 1)]},  # another span, same value: found
        {"entities": [_e("province", "Hà Nội", 2, 5)]},  # wrong value: not found
    ]
    assert provinces_found(examples, parses) == {"gold": 2, "found": 1, "rate": 0.5}


def test_triage_report_by_hand() -> None:
    from bot.nlu.assessment import TriageCase, triage_report

    cases = [
        TriageCase("a", "P1", "request_rescue", ("dolisa", "police"), "confinement"),
        TriageCase("b", "P1", "report_trafficking", ("police",), "movement"),
        TriageCase("c", "P3", "ask_info", (), "question"),
    ]
    results = [
        {"priority": "P1", "category": "request_rescue", "agencies": ["police", "dolisa"]},
        {"priority": "P2", "category": "report_trafficking", "agencies": ["police"]},
        {"priority": "P1", "category": "report_trafficking", "agencies": ["police"]},
    ]
    report = triage_report(cases, results, with_examples=False)
    assert report["p1"]["recall"] == pytest.approx(0.5)
    assert report["p1"]["precision"] == pytest.approx(0.5)
    assert report["priority_accuracy"] == pytest.approx(1 / 3)
    assert report["category_accuracy"] == pytest.approx(2 / 3)
    assert report["agencies_accuracy"] == pytest.approx(2 / 3)
    assert report["by_kind"]["movement"] == {"cases": 1, "priority_correct": 0}
    assert "wrong_priority" not in report
    assert triage_report(cases, results)["wrong_priority"][0]["text"] == "b"


def test_blind_files_refuse_example_texts(tmp_path) -> None:
    from pathlib import Path

    from bot.nlu.assessment import BlindFileError, examples_allowed

    assert examples_allowed(Path("tests/data/nlu_blind.yml"), None) is False
    assert examples_allowed(Path("x/triage_blind.yml"), False) is False
    with pytest.raises(BlindFileError):
        examples_allowed(Path("tests/data/nlu_blind.yml"), True)
    assert examples_allowed(Path("tests/data/nlu_holdout.yml"), None) is True
    assert examples_allowed(Path("tests/data/nlu_holdout.yml"), False) is False

"""Running an NLU engine over labelled examples and reporting the figures of `hotline nlu eval`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from bot.nlu.backend import NLUBackend
from bot.nlu.evaluation import binary_scores, entity_report, intent_report
from bot.nlu.normalize import has_diacritics
from bot.nlu.training_data import Example, TrainingData, load_training_data

RESCUE = "request_rescue"
# Whether triage rates a first message P1: the NLU is judged by what triage makes of it, but
# triage sits above the NLU, so the caller hands it in.
P1Check = Callable[[dict[str, Any]], bool]


def _gold_entities(example: Example) -> list[dict[str, Any]]:
    return [
        {"entity": s.entity, "value": s.value, "start": s.start, "end": s.end}
        for s in example.entities
    ]


def report_on(
    examples: Sequence[Example], parses: Sequence[dict[str, Any]], is_p1: P1Check | None
) -> dict[str, Any]:
    gold = [e.intent for e in examples]
    pred = [str(p["intent"]["name"]) for p in parses]
    report: dict[str, Any] = {
        "examples": len(examples),
        "intents": intent_report(gold, pred),
        "entities": entity_report(
            [_gold_entities(e) for e in examples], [p["entities"] for p in parses]
        ),
    }
    plain = [i for i, e in enumerate(examples) if not has_diacritics(e.text)]
    report["diacritic_free"] = {
        "examples": len(plain),
        "intents": intent_report([gold[i] for i in plain], [pred[i] for i in plain]),
        "entities": entity_report(
            [_gold_entities(examples[i]) for i in plain], [parses[i]["entities"] for i in plain]
        ),
    }
    if is_p1 is not None:
        flagged = [is_p1(p) for p in parses]
        is_rescue = [g == RESCUE for g in gold]
        report["p1"] = binary_scores(is_rescue, flagged)
        report["p1"]["missed"] = [
            examples[i].text
            for i, (g, f) in enumerate(zip(is_rescue, flagged, strict=True))
            if g and not f
        ]
    return report


def evaluate(
    engine: NLUBackend, examples: Sequence[Example], is_p1: P1Check | None = None
) -> dict[str, Any]:
    return report_on(examples, [engine.parse(e.text) for e in examples], is_p1)


def cross_validate(data_dir: Path, folds: int, is_p1: P1Check | None = None) -> dict[str, Any]:
    """Stratified K-fold over the training examples, like `rasa test nlu --cross-validation`."""
    from bot.nlu.engine import build_engine, load_side_files

    data = load_training_data(data_dir)
    normalizer, entity_rules = load_side_files(data_dir)
    examples = data.examples
    y = np.array([e.intent for e in examples])
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=7)
    ordered: list[Example] = []
    parses: list[dict[str, Any]] = []
    for train_idx, test_idx in splitter.split(np.zeros(len(y)), y):
        fold_data = TrainingData(
            examples=[examples[i] for i in train_idx],
            synonyms=data.synonyms,
            regexes=data.regexes,
            lookups=data.lookups,
            ambiguous_forms=data.ambiguous_forms,
        )
        engine = build_engine(fold_data, normalizer, entity_rules)
        for i in test_idx:
            ordered.append(examples[i])
            parses.append(engine.parse(examples[i].text))
    report = report_on(ordered, parses, is_p1)
    report["folds"] = folds
    return report


def _scores_line(name: str, s: dict[str, float]) -> str:
    return (
        f"  {name:<22} P {s['precision']:.3f}  R {s['recall']:.3f}  F1 {s['f1']:.3f}"
        f"  n={int(s['support'])}"
    )


def format_report(report: dict[str, Any]) -> str:
    lines: list[str] = []
    intents = report["intents"]
    lines.append(f"examples: {report['examples']}")
    lines.append(f"intent accuracy {intents['accuracy']:.3f}  macro-F1 {intents['macro_f1']:.3f}")
    for name, s in intents["per_intent"].items():
        lines.append(_scores_line(name, s))
    if intents["confusions"]:
        lines.append("most frequent confusions (gold -> predicted):")
        for c in intents["confusions"]:
            lines.append(f"  {c['gold']} -> {c['predicted']}: {c['count']}")
    ents = report["entities"]
    lines.append(f"entities P {ents['precision']:.3f}  R {ents['recall']:.3f}  F1 {ents['f1']:.3f}")
    for name, s in ents["per_entity"].items():
        lines.append(_scores_line(name, s))
    free = report["diacritic_free"]
    lines.append(
        f"diacritic-free subset ({free['examples']} examples): intent accuracy "
        f"{free['intents']['accuracy']:.3f}  macro-F1 {free['intents']['macro_f1']:.3f}  "
        f"entity F1 {free['entities']['f1']:.3f}"
    )
    if "p1" in report:
        p1 = report["p1"]
        lines.append(
            f"P1 triage vs request_rescue: recall {p1['recall']:.3f}"
            f"  precision {p1['precision']:.3f}"
            f"  (flagged {p1['flagged']}, rescue examples {p1['positives']})"
        )
        for text in p1["missed"]:
            lines.append(f"  MISSED: {text}")
    return "\n".join(lines)

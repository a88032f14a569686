"""Running an NLU engine over labelled examples and reporting the figures of `hotline nlu eval`.

Two kinds of labelled file are read: Rasa NLU YAML (intents and entity annotations), and triage
cases (`cases:`, one first message each with the priority, category and agencies it must get).
A file whose name contains "blind" (tests/data/nlu_blind.yml, tests/data/triage_blind.yml) is
a frozen evaluation set written without sight of the training data: its reports are aggregate
only, and no function here ever puts one of its texts into a report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bot.nlu.backend import NLUBackend
from bot.nlu.evaluation import binary_scores, entity_report, intent_report
from bot.nlu.normalize import has_diacritics
from bot.nlu.training_data import Example, TrainingData, load_training_data

RESCUE = "request_rescue"
BLIND_MARK = "blind"
# Whether triage rates a first message P1: the NLU is judged by what triage makes of it, but
# triage sits above the NLU, so the caller hands it in.
P1Check = Callable[[dict[str, Any]], bool]
# Triage of a first message alone (bot.triage.triage with an empty history).
TriageFn = Callable[[dict[str, Any]], dict[str, Any]]


class BlindFileError(ValueError):
    """Example texts were asked for on a blind evaluation file."""


def is_blind(path: Path) -> bool:
    """Whether the file is a frozen blind set, whose texts are never printed."""
    return BLIND_MARK in path.name.lower()


def examples_allowed(path: Path, show_examples: bool | None) -> bool:
    """Whether a report on `path` may list example texts: never for a blind file; otherwise
    what was asked, listing them by default."""
    if is_blind(path):
        if show_examples:
            raise BlindFileError(
                f"{path.name} is a blind evaluation set: only aggregate figures are reported"
            )
        return False
    return True if show_examples is None else show_examples


@dataclass(frozen=True, slots=True)
class TriageCase:
    text: str
    priority: str
    category: str
    agencies: tuple[str, ...]
    kind: str = ""


def is_triage_file(path: Path) -> bool:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return isinstance(document, dict) and isinstance(document.get("cases"), list)


def load_triage_cases(path: Path) -> list[TriageCase]:
    """The cases of a triage file; a malformed case is an error naming its position."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("cases"), list):
        raise ValueError(f"{path}: expected a top-level `cases:` list")
    cases: list[TriageCase] = []
    for i, raw in enumerate(document["cases"], start=1):
        if not isinstance(raw, dict) or not all(
            raw.get(k) for k in ("text", "priority", "category")
        ):
            raise ValueError(f"{path}: case {i} needs text, priority and category")
        agencies = raw.get("agencies") or []
        if not isinstance(agencies, list):
            raise ValueError(f"{path}: case {i}: agencies must be a list")
        cases.append(
            TriageCase(
                text=str(raw["text"]),
                priority=str(raw["priority"]),
                category=str(raw["category"]),
                agencies=tuple(sorted(str(a) for a in agencies)),
                kind=str(raw.get("kind") or ""),
            )
        )
    return cases


def _gold_entities(example: Example) -> list[dict[str, Any]]:
    return [
        {"entity": s.entity, "value": s.value, "start": s.start, "end": s.end}
        for s in example.entities
    ]


def provinces_found(
    examples: Sequence[Example], parses: Sequence[dict[str, Any]]
) -> dict[str, float]:
    """Share of gold province entities whose value the parse of the same message found,
    wherever in the message: what the ticket's province field gets right."""
    gold = found = 0
    for example, parse in zip(examples, parses, strict=True):
        values = {
            str(e.get("value")).casefold()
            for e in parse.get("entities") or []
            if e.get("entity") == "province"
        }
        for span in example.entities:
            if span.entity == "province":
                gold += 1
                found += span.value.casefold() in values
    return {"gold": gold, "found": found, "rate": found / gold if gold else 0.0}


def report_on(
    examples: Sequence[Example],
    parses: Sequence[dict[str, Any]],
    is_p1: P1Check | None,
    *,
    with_examples: bool = True,
) -> dict[str, Any]:
    gold = [e.intent for e in examples]
    pred = [str(p["intent"]["name"]) for p in parses]
    report: dict[str, Any] = {
        "examples": len(examples),
        "intents": intent_report(gold, pred),
        "entities": entity_report(
            [_gold_entities(e) for e in examples], [p["entities"] for p in parses]
        ),
        "provinces_found": provinces_found(examples, parses),
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
        if with_examples:
            report["p1"]["missed"] = [
                examples[i].text
                for i, (g, f) in enumerate(zip(is_rescue, flagged, strict=True))
                if g and not f
            ]
    return report


def evaluate(
    engine: NLUBackend,
    examples: Sequence[Example],
    is_p1: P1Check | None = None,
    *,
    with_examples: bool = True,
) -> dict[str, Any]:
    return report_on(
        examples, [engine.parse(e.text) for e in examples], is_p1, with_examples=with_examples
    )


def evaluate_triage(
    engine: NLUBackend,
    cases: Sequence[TriageCase],
    triage_fn: TriageFn,
    *,
    with_examples: bool = True,
) -> dict[str, Any]:
    """Triage of each case's text as a first message, against the expected outcome."""
    results = [triage_fn(engine.parse(c.text)) for c in cases]
    return triage_report(cases, results, with_examples=with_examples)


def triage_report(
    cases: Sequence[TriageCase],
    results: Sequence[dict[str, Any]],
    *,
    with_examples: bool = True,
) -> dict[str, Any]:
    n = len(cases)
    priority_ok = [r.get("priority") == c.priority for c, r in zip(cases, results, strict=True)]
    category_ok = [r.get("category") == c.category for c, r in zip(cases, results, strict=True)]
    agencies_ok = [
        tuple(sorted(r.get("agencies") or [])) == c.agencies
        for c, r in zip(cases, results, strict=True)
    ]
    by_kind: dict[str, dict[str, int]] = {}
    confusion: Counter[tuple[str, str]] = Counter()
    for case, result, ok in zip(cases, results, priority_ok, strict=True):
        entry = by_kind.setdefault(case.kind or "-", {"cases": 0, "priority_correct": 0})
        entry["cases"] += 1
        entry["priority_correct"] += ok
        if not ok:
            confusion[(case.priority, str(result.get("priority")))] += 1
    report: dict[str, Any] = {
        "cases": n,
        "p1": binary_scores(
            [c.priority == "P1" for c in cases], [r.get("priority") == "P1" for r in results]
        ),
        "priority_accuracy": sum(priority_ok) / n if n else 0.0,
        "category_accuracy": sum(category_ok) / n if n else 0.0,
        "agencies_accuracy": sum(agencies_ok) / n if n else 0.0,
        "by_kind": dict(sorted(by_kind.items())),
        "priority_confusions": [
            {"gold": g, "predicted": p, "count": k} for (g, p), k in sorted(confusion.items())
        ],
    }
    if with_examples:
        report["wrong_priority"] = [
            {"text": c.text, "expected": c.priority, "got": r.get("priority"), "kind": c.kind}
            for c, r, ok in zip(cases, results, priority_ok, strict=True)
            if not ok
        ]
    return report


def cross_validate(data_dir: Path, folds: int, is_p1: P1Check | None = None) -> dict[str, Any]:
    """Stratified K-fold over the training examples, like `rasa test nlu --cross-validation`."""
    from sklearn.model_selection import StratifiedKFold

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
    relation = ents["per_entity"].get("relation")
    if relation:
        lines.append(
            f"relation F1 {relation['f1']:.3f}"
            f"  (precision {relation['precision']:.3f}, recall {relation['recall']:.3f})"
        )
    found = report.get("provinces_found")
    if found and found["gold"]:
        lines.append(
            f"province found {found['rate']:.3f}"
            f"  ({found['found']} of {found['gold']} gold provinces, value anywhere in the parse)"
        )
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
        for text in p1.get("missed", []):
            lines.append(f"  MISSED: {text}")
    return "\n".join(lines)


def format_triage_report(report: dict[str, Any]) -> str:
    p1 = report["p1"]
    lines = [
        f"triage cases: {report['cases']}",
        f"P1 recall {p1['recall']:.3f}  P1 precision {p1['precision']:.3f}"
        f"  (expected P1 {p1['positives']}, rated P1 {p1['flagged']})",
        f"priority accuracy {report['priority_accuracy']:.3f}"
        f"  category accuracy {report['category_accuracy']:.3f}"
        f"  agencies accuracy {report['agencies_accuracy']:.3f}",
        "priority right, by kind of case:",
    ]
    for kind, entry in report["by_kind"].items():
        lines.append(f"  {kind:<16} {entry['priority_correct']}/{entry['cases']}")
    if report["priority_confusions"]:
        lines.append("wrong priorities (expected -> given):")
        for c in report["priority_confusions"]:
            lines.append(f"  {c['gold']} -> {c['predicted']}: {c['count']}")
    for miss in report.get("wrong_priority", []):
        lines.append(
            f"  WRONG {miss['expected']} -> {miss['got']} ({miss['kind']}): {miss['text']}"
        )
    return "\n".join(lines)

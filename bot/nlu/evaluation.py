"""The maths of NLU evaluation: intent and entity precision, recall and F1, confusion pairs.

Pure functions over plain lists, so they can be checked on tiny hand-computed cases.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def _scores_from_counts(
    tp: Mapping[str, int], n_pred: Mapping[str, int], n_gold: Mapping[str, int]
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per label, from true positives and the two totals."""
    scores: dict[str, dict[str, float]] = {}
    for label in sorted(set(n_gold) | set(n_pred)):
        precision = _ratio(tp[label], n_pred[label])
        recall = _ratio(tp[label], n_gold[label])
        scores[label] = {
            "precision": precision,
            "recall": recall,
            "f1": _f1(precision, recall),
            "support": n_gold[label],
        }
    return scores


def per_label_scores(gold: Sequence[str], pred: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of every label seen in gold or predictions."""
    if len(gold) != len(pred):
        raise ValueError("gold and predictions differ in length")
    tp: Counter[str] = Counter()
    n_gold: Counter[str] = Counter(gold)
    n_pred: Counter[str] = Counter(pred)
    for g, p in zip(gold, pred, strict=True):
        if g == p:
            tp[g] += 1
    scores = _scores_from_counts(tp, n_pred, n_gold)
    return scores


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Unweighted mean F1 over the labels that occur in gold or predictions (as scikit-learn)."""
    scores = per_label_scores(gold, pred)
    return sum(s["f1"] for s in scores.values()) / len(scores) if scores else 0.0


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    return _ratio(sum(g == p for g, p in zip(gold, pred, strict=True)), len(gold))


def confusion_pairs(
    gold: Sequence[str], pred: Sequence[str], top: int = 10
) -> list[dict[str, Any]]:
    """The most frequent (gold, predicted) misclassifications, most frequent first."""
    pairs = Counter((g, p) for g, p in zip(gold, pred, strict=True) if g != p)
    ordered = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"gold": g, "predicted": p, "count": n} for (g, p), n in ordered[:top]]


def intent_report(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    return {
        "examples": len(gold),
        "accuracy": accuracy(gold, pred),
        "macro_f1": macro_f1(gold, pred),
        "per_intent": per_label_scores(gold, pred),
        "confusions": confusion_pairs(gold, pred),
    }


def _overlaps(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return int(a["start"]) < int(b["end"]) and int(b["start"]) < int(a["end"])


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return (
        a["entity"] == b["entity"]
        and str(a["value"]).casefold() == str(b["value"]).casefold()
        and _overlaps(a, b)
    )


def entity_report(
    gold: Sequence[Sequence[Mapping[str, Any]]], pred: Sequence[Sequence[Mapping[str, Any]]]
) -> dict[str, Any]:
    """Per-entity and micro-averaged precision/recall/F1.

    A prediction is correct when a gold entity of the same name and value overlaps its span;
    each gold entity can justify one prediction only.
    """
    tp: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    for gold_ents, pred_ents in zip(gold, pred, strict=True):
        used: set[int] = set()
        for g in gold_ents:
            n_gold[g["entity"]] += 1
        for p in pred_ents:
            n_pred[p["entity"]] += 1
            for i, g in enumerate(gold_ents):
                if i not in used and _same(g, p):
                    used.add(i)
                    tp[p["entity"]] += 1
                    break
    per_entity = _scores_from_counts(tp, n_pred, n_gold)
    precision = _ratio(sum(tp.values()), sum(n_pred.values()))
    recall = _ratio(sum(tp.values()), sum(n_gold.values()))
    return {
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "per_entity": per_entity,
    }


def binary_scores(gold: Sequence[bool], pred: Sequence[bool]) -> dict[str, float]:
    """Precision and recall of a yes/no decision (used for "is this P1?")."""
    tp = sum(g and p for g, p in zip(gold, pred, strict=True))
    precision = _ratio(tp, sum(pred))
    recall = _ratio(tp, sum(gold))
    return {
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "positives": sum(gold),
        "flagged": sum(pred),
    }

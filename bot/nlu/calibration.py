"""Turning classifier scores into confidences one can threshold, tuned on out-of-fold predictions.

A temperature rescales the logits so confidences match how often the model is right; the
out-of-scope threshold is then the confidence below which answering "I did not understand" scores
better (macro-F1) than trusting the top intent. Both are fitted on cross-validated predictions of
the training data, never on the held-out set.
"""

from __future__ import annotations

import numpy as np

from bot.nlu.evaluation import macro_f1

OUT_OF_SCOPE = "out_of_scope"
RESCUE = "request_rescue"
_THRESHOLD_GRID = np.round(np.arange(0.0, 0.91, 0.02), 2)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of the true labels."""
    from scipy.optimize import minimize_scalar  # training only; parsing never needs scipy

    def nll(log_t: float) -> float:
        probs = softmax(logits / np.exp(log_t))
        return float(-np.mean(np.log(probs[np.arange(len(y)), y] + 1e-12)))

    result = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(result.x))


def apply_threshold(probs: np.ndarray, labels: list[str], threshold: float) -> list[str]:
    top = probs.argmax(axis=1)
    conf = probs[np.arange(len(top)), top]
    return [labels[i] if c >= threshold else OUT_OF_SCOPE for i, c in zip(top, conf, strict=True)]


def _recall(gold: list[str], pred: list[str], label: str) -> float:
    relevant = [p for g, p in zip(gold, pred, strict=True) if g == label]
    return sum(p == label for p in relevant) / len(relevant) if relevant else 1.0


def tune_threshold(probs: np.ndarray, labels: list[str], gold: list[str]) -> float:
    """The threshold with the best macro-F1 that loses no request_rescue recall (lowest on ties).

    Rejecting a message as out_of_scope is harmless for chit-chat but a rescue request read as
    "not understood" is the worst failure, so thresholds that cost rescue recall are not allowed.
    """
    base_rescue = _recall(gold, apply_threshold(probs, labels, 0.0), RESCUE)
    best_t, best_f1 = 0.0, -1.0
    for t in _THRESHOLD_GRID:
        pred = apply_threshold(probs, labels, float(t))
        if _recall(gold, pred, RESCUE) < base_rescue:
            continue
        f1 = macro_f1(gold, pred)
        if f1 > best_f1 + 1e-9:
            best_t, best_f1 = float(t), f1
    return best_t

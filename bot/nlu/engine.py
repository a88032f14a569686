"""The embedded NLU engine: normalise, classify the intent, extract entities, shape the answer."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.nlu.calibration import OUT_OF_SCOPE
from bot.nlu.classifier import IntentModel, train_intent_model
from bot.nlu.entities import EntityExtractor, EntityRules, build_entity_extractor
from bot.nlu.features import feature_strings
from bot.nlu.normalize import Normalizer, Teencode
from bot.nlu.training_data import (
    ENTITY_RULES_FILE,
    TEENCODE_FILE,
    TrainingData,
    data_fingerprint,
    load_training_data,
)

log = logging.getLogger(__name__)

# Bump when a code change makes saved models incompatible or different: a model saved by
# another engine version is stale and is retrained on load.
ENGINE_VERSION = "1.5.0"
RANKING_SIZE = 10


@dataclass
class EmbeddedNLU:
    """Parses a message into the shape of Rasa's `POST /model/parse` (docs/nlu.md).

    Text with no word in it (empty, spaces, emoji only), or whose words the model never saw,
    is `out_of_scope` with confidence 0.0: there is no evidence for any intent. Text whose top
    intent is less confident than the tuned threshold is `out_of_scope` with confidence
    1 - (top confidence), listed first in the ranking before the model's own ranking.
    """

    normalizer: Normalizer
    intents: IntentModel
    entities: EntityExtractor
    meta: dict[str, Any] = field(default_factory=dict)

    def parse(self, text: str) -> dict[str, Any]:
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        nt = self.normalizer(text)
        entities = self.entities.extract(nt) if nt.tokens else []
        probs = self.intents.probabilities(feature_strings(nt)) if nt.tokens else None
        if probs is None:
            nothing = {"name": OUT_OF_SCOPE, "confidence": 0.0}
            return {
                "text": text,
                "intent": nothing,
                "intent_ranking": [nothing],
                "entities": entities,
            }
        order = probs.argsort()[::-1]
        labels = self.intents.labels
        ranking = [
            {"name": labels[i], "confidence": round(float(probs[i]), 4)}
            for i in order[:RANKING_SIZE]
        ]
        top = ranking[0]
        if float(probs[order[0]]) < self.intents.threshold:
            fallback = {"name": OUT_OF_SCOPE, "confidence": round(1.0 - float(probs[order[0]]), 4)}
            rest = [r for r in ranking if r["name"] != OUT_OF_SCOPE]
            ranking = [fallback, *rest][:RANKING_SIZE]
            top = fallback
        entities = self.entities.with_writer(nt, str(top["name"]), entities)
        return {"text": text, "intent": dict(top), "intent_ranking": ranking, "entities": entities}


def _side_file(data_dir: Path, name: str) -> Path:
    found = sorted(data_dir.rglob(name))
    return found[0] if found else data_dir / name


def build_engine(
    data: TrainingData, normalizer: Normalizer, rules: EntityRules, *, calibrate: bool = True
) -> EmbeddedNLU:
    """An engine trained on in-memory data (cross-validation trains one per fold)."""
    intents = train_intent_model(
        [e.text for e in data.examples],
        [e.intent for e in data.examples],
        normalizer,
        calibrate=calibrate,
    )
    entities = build_entity_extractor(data, rules, normalizer)
    return EmbeddedNLU(normalizer, intents, entities)


def load_side_files(data_dir: Path) -> tuple[Normalizer, EntityRules]:
    normalizer = Normalizer(Teencode.from_file(_side_file(data_dir, TEENCODE_FILE)))
    rules = EntityRules.from_file(_side_file(data_dir, ENTITY_RULES_FILE), normalizer)
    return normalizer, rules


def train_engine(data_dir: Path) -> EmbeddedNLU:
    """Train from every NLU file under `data_dir`; the result records what it was built from."""
    started = time.perf_counter()
    fingerprint = data_fingerprint(data_dir)
    data = load_training_data(data_dir)
    if not data.examples:
        raise ValueError(f"no NLU training examples under {data_dir}")
    normalizer, rules = load_side_files(data_dir)
    engine = build_engine(data, normalizer, rules)
    engine.meta = {
        "engine_version": ENGINE_VERSION,
        "data_fingerprint": fingerprint,
        "examples": len(data.examples),
        "intents": len(data.intents),
        "entity_annotations": sum(len(e.entities) for e in data.examples),
        "files": len(data.files),
        "features": engine.intents.featurizer.size,
        "threshold": engine.intents.threshold,
        "temperature": engine.intents.temperature,
        "training_seconds": round(time.perf_counter() - started, 2),
    }
    return engine

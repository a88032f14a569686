"""Entity extraction: patterns, gazetteers, number rules and a context lexicon, merged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.nlu.entities.codes import extract_phones, extract_reference_codes
from bot.nlu.entities.gazetteer import Gazetteer, build_gazetteer
from bot.nlu.entities.lexicon import Lexicon, build_lexicon
from bot.nlu.entities.numbers import NumberEntities
from bot.nlu.entities.rules_file import EntityRules
from bot.nlu.entities.writer import WriterSelf
from bot.nlu.normalize import NormalizedText, Normalizer, has_diacritics
from bot.nlu.training_data import TrainingData

__all__ = ["EntityExtractor", "EntityRules", "build_entity_extractor"]


@dataclass
class EntityExtractor:
    gazetteer: Gazetteer
    lexicon: Lexicon
    numbers: NumberEntities
    writer: WriterSelf

    def extract(self, nt: NormalizedText) -> list[dict[str, Any]]:
        accented = has_diacritics(nt.original)
        # Earlier groups win overlaps: a phone number's digits are not a head count, and a
        # place name is not a relation word.
        groups = (
            extract_reference_codes(nt.original) + extract_phones(nt.original),
            self.gazetteer.extract(nt, accented),
            self.numbers.extract(nt, accented),
            self.lexicon.extract(nt),
        )
        kept: list[dict[str, Any]] = []
        for group in groups:
            for entity in group:
                if not any(_overlap(entity, k) for k in kept):
                    kept.append(entity)
        kept.sort(key=lambda e: (e["start"], e["end"]))
        return kept

    def with_writer(
        self, nt: NormalizedText, intent: str, found: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The entities plus relation `self`, which depends on the intent (writer.py)."""
        extra = self.writer.extract(nt, intent, found)
        if not extra:
            return found
        return sorted([*found, *extra], key=lambda e: (e["start"], e["end"]))


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def build_entity_extractor(
    data: TrainingData, rules: EntityRules, normalizer: Normalizer
) -> EntityExtractor:
    return EntityExtractor(
        gazetteer=build_gazetteer(data, rules, normalizer),
        lexicon=build_lexicon(data, rules, normalizer),
        numbers=NumberEntities(rules, data, normalizer),
        writer=WriterSelf(rules),
    )

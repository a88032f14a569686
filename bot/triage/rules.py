"""Triage: priority, category and agencies of a conversation from its NLU parses.

Rules (docs/nlu.md, Triage): P1 when someone is in danger now (a rescue request, signs of
being held, beaten, moved now or soon, stripped of papers or ransomed, a child under 16 at risk,
or the writer says it is urgent); P2 for a concrete case; P3 otherwise. The signs are read from
the text itself (bot/triage/signs.py), whatever the intent and its confidence, so a parse that
fell to follow_up or out_of_scope never hides them. The word lists, the routing table and the
severity order are configuration in `nlu_data/triage_keywords.yml`, not code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.config import get_bot_settings
from bot.nlu.entities.rules_file import EntityRules
from bot.nlu.normalize import Normalizer, Teencode, has_diacritics
from bot.nlu.training_data import load_training_data
from bot.triage.signs import Reading, SignReader, compile_words

KEYWORDS_FILE = "triage_keywords.yml"
TEENCODE_FILE = "teencode.yml"
ENTITY_RULES_FILE = "entity_rules.yml"
RESCUE = "request_rescue"


@dataclass(frozen=True)
class TriageRules:
    reader: SignReader
    rescue_floor: float
    child_age_under: int
    question_intents: frozenset[str]
    severity: tuple[str, ...]
    routing: dict[str, dict[str, list[str]]]
    p1_minimum: tuple[str, ...]
    case_intents: frozenset[str]
    child_risk_intents: frozenset[str]
    concrete_entities: frozenset[str]

    @classmethod
    def from_dir(cls, data_dir: Path) -> TriageRules:
        raw = yaml.safe_load((data_dir / KEYWORDS_FILE).read_text(encoding="utf-8")) or {}
        normalizer = Normalizer(Teencode.from_file(data_dir / TEENCODE_FILE))
        numbers = EntityRules.from_file(data_dir / ENTITY_RULES_FILE, normalizer).number_words
        words = compile_words(raw, normalizer, numbers, _spellings(data_dir, normalizer))
        return cls(
            reader=SignReader(words, normalizer),
            rescue_floor=float(raw.get("rescue_confidence_floor", 1.0)),
            child_age_under=int(raw.get("child_age_under", 16)),
            question_intents=frozenset(raw.get("question_intents") or []),
            severity=tuple(raw.get("severity") or []),
            routing={str(k): dict(v) for k, v in (raw.get("routing") or {}).items()},
            p1_minimum=tuple(raw.get("p1_minimum") or []),
            case_intents=frozenset(raw.get("case_intents") or []),
            child_risk_intents=frozenset(raw.get("child_risk_intents") or []),
            concrete_entities=frozenset(raw.get("concrete_entities") or []),
        )

    def is_p1(self, parse: dict[str, Any]) -> bool:
        """Whether a first message alone is rated P1."""
        return triage(parse, [], rules=self)["priority"] == "P1"

    def agencies_for(self, category: str, priority: str) -> list[str]:
        """The routing of docs/nlu.md: the category's agencies, more for P1, never none for P1."""
        route = self.routing.get(category, {})
        agencies = set(route.get("always", []))
        if priority == "P1":
            agencies.update(route.get("p1_also", []))
            if not agencies:
                agencies.update(self.p1_minimum)
        return sorted(agencies)

    def agency_codes(self) -> dict[str, list[str]]:
        """Every agency code the routing names, by where it stands in the keywords file."""
        found = {
            f"{KEYWORDS_FILE} routing.{category}.{key}": list(codes)
            for category, route in self.routing.items()
            for key, codes in route.items()
        }
        found[f"{KEYWORDS_FILE} p1_minimum"] = list(self.p1_minimum)
        return found

    def read(self, parse: dict[str, Any]) -> Reading:
        """The danger signs in one parse's text, in the light of its intent and ages."""
        intent = _intent(parse)
        return self.reader.read(
            str(parse.get("text") or ""),
            intent=intent,
            question=intent in self.question_intents,
            ages=_ages(parse),
        )

    def danger_signs(self, text: str, intent: str = "report_trafficking") -> list[str]:
        """Kinds of danger named in the text, sorted (for tests and the console)."""
        return sorted(self.read({"text": text, "intent": {"name": intent}}).kinds)

    def concrete_words_in(self, text: str) -> bool:
        """Whether the text names a place, a person or a suspect one could find."""
        return self.reader.names_something(text)

    def child_at_risk(self, reading: Reading, intent: str) -> bool:
        """A child under 16 named in a message that puts them at risk.

        In a report or a rescue request the child is the case. In an offer the child must be
        someone in particular ("con em học lớp 7 được rủ đi làm"); in a question, also lured or
        in danger. Anywhere else (a parse that fell to follow_up, out_of_scope...) a lure or a
        danger phrase is enough. A child already home again is not at risk now.
        """
        if not reading.child:
            return False
        if reading.resolved and not reading.kinds:
            return False
        if intent in self.case_intents:
            return True
        if intent in self.child_risk_intents:
            return reading.child_anchored
        if intent in self.question_intents:
            return reading.child_anchored and (reading.lure or bool(reading.kinds))
        return reading.lure or bool(reading.kinds)


# A spelling seen this often in messages typed with diacritics is a word of its own, not a typo.
_MIN_SPELLING_COUNT = 2


def _spellings(data_dir: Path, normalizer: Normalizer) -> list[str]:
    """Words as the training messages typed with diacritics spell them."""
    counts: Counter[str] = Counter()
    for example in load_training_data(data_dir).examples:
        if has_diacritics(example.text):
            counts.update(t.text for t in normalizer(example.text).tokens)
    return [w for w, n in counts.items() if n >= _MIN_SPELLING_COUNT]


@lru_cache(maxsize=4)
def load_rules(data_dir: Path | None = None) -> TriageRules:
    return TriageRules.from_dir(data_dir or get_bot_settings().nlu_data_dir)


_DANGER_REASONS = {
    "held": "someone is held or confined",
    "beaten": "violence reported",
    "being_moved": "someone is being sold or moved",
    "passport_taken": "papers or phone confiscated",
    "ransom": "ransom or debt demanded",
    "urgent": "writer says it is urgent",
}


def _intent(parse: dict[str, Any]) -> str:
    intent = parse.get("intent") or {}
    return str(intent.get("name") or "out_of_scope")


def _rescue_confidence(parse: dict[str, Any]) -> float:
    for entry in parse.get("intent_ranking") or []:
        if entry.get("name") == RESCUE:
            return float(entry.get("confidence") or 0.0)
    intent = parse.get("intent") or {}
    return float(intent.get("confidence") or 0.0) if _intent(parse) == RESCUE else 0.0


def _ages(parse: dict[str, Any]) -> list[tuple[int, int, int]]:
    ages = []
    for entity in parse.get("entities") or []:
        if entity.get("entity") == "age":
            try:
                value = int(str(entity.get("value")))
                ages.append((value, int(entity.get("start", 0)), int(entity.get("end", 0))))
            except (TypeError, ValueError):
                continue
    return ages


def triage(
    parse: dict[str, Any],
    history: Sequence[dict[str, Any]] | None = None,
    *,
    rules: TriageRules | None = None,
) -> dict[str, Any]:
    """Priority, category, agencies (sorted) and reasons for a conversation ending in `parse`."""
    rules = rules or load_rules()
    parses = [*(history or []), parse]
    intents = [_intent(p) for p in parses]
    rank = {name: i for i, name in enumerate(rules.severity)}
    category = min(intents, key=lambda name: rank.get(name, len(rank)))

    reasons: list[str] = []
    if RESCUE in intents:
        reasons.append("rescue requested")
    elif any(_rescue_confidence(p) >= rules.rescue_floor for p in parses):
        reasons.append("message may be a rescue request")
    kinds: set[str] = set()
    child = False
    for p, name in zip(parses, intents, strict=True):
        reading = rules.read(p)
        kinds.update(reading.kinds)
        child = child or rules.child_at_risk(reading, name)
    reasons.extend(_DANGER_REASONS.get(k, k.replace("_", " ")) for k in sorted(kinds))
    if child:
        reasons.append(f"child under {rules.child_age_under} at risk")

    if reasons:
        priority = "P1"
    else:
        named = {
            str(e.get("entity")) for p in parses for e in p.get("entities") or []
        } & rules.concrete_entities
        if any(rules.concrete_words_in(str(p.get("text") or "")) for p in parses):
            named.add("place or person named")
        if category == "report_missing":
            priority = "P2"
            reasons.append("missing person")
        elif category in rules.case_intents and named:
            priority = "P2"
            reasons.append("concrete case: " + ", ".join(sorted(str(n) for n in named)))
        else:
            priority = "P3"
            reasons.append(
                "general question or suspicion"
                if category in rules.case_intents
                else f"{category.replace('_', ' ')}, no danger signs"
            )

    return {
        "priority": priority,
        "category": category,
        "agencies": rules.agencies_for(category, priority),
        "reasons": reasons,
    }


def routed(category: str, priority: str, *, rules: TriageRules | None = None) -> dict[str, Any]:
    """A triage with the given priority and category, routed by the routing table: what a
    ticket falls back to when the triage of its messages failed."""
    rules = rules or load_rules()
    return {
        "priority": priority,
        "category": category,
        "agencies": rules.agencies_for(category, priority),
        "reasons": [],
    }

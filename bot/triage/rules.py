"""Triage: priority, category and agencies of a conversation from its NLU parses.

Rules (docs/nlu.md, Triage): P1 when someone is in danger now (a rescue request, signs of
being held, beaten, moved, stripped of papers or ransomed, a child under 16 at risk, or the writer
says it is urgent); P2 for a concrete case; P3 otherwise. The word lists, the routing table and
the severity order are configuration in `nlu_data/triage_keywords.yml`, not code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.config import get_bot_settings
from bot.nlu.normalize import Normalizer, Teencode

KEYWORDS_FILE = "triage_keywords.yml"
TEENCODE_FILE = "teencode.yml"
RESCUE = "request_rescue"


@dataclass(frozen=True)
class TriageRules:
    normalizer: Normalizer
    danger: dict[tuple[str, ...], str]  # plain token phrase -> kind of danger
    max_phrase: int
    symbols: tuple[str, ...]
    rescue_floor: float
    child_age_under: int
    question_intents: frozenset[str]
    severity: tuple[str, ...]
    routing: dict[str, dict[str, list[str]]]
    p1_minimum: tuple[str, ...]
    case_intents: frozenset[str]
    concrete_entities: frozenset[str]
    already_safe: frozenset[tuple[str, ...]] = frozenset()
    negations: frozenset[str] = frozenset()

    @classmethod
    def from_dir(cls, data_dir: Path) -> TriageRules:
        raw = yaml.safe_load((data_dir / KEYWORDS_FILE).read_text(encoding="utf-8")) or {}
        normalizer = Normalizer(Teencode.from_file(data_dir / TEENCODE_FILE))

        def words(phrase: object) -> tuple[str, ...]:
            return tuple(t.plain for t in normalizer(str(phrase)).tokens)

        danger: dict[tuple[str, ...], str] = {}
        for kind, phrases in (raw.get("danger") or {}).items():
            for phrase in phrases or []:
                key = words(phrase)
                if key:
                    danger.setdefault(key, str(kind))
        return cls(
            normalizer=normalizer,
            danger=danger,
            max_phrase=max((len(k) for k in danger), default=1),
            symbols=tuple(str(s) for s in raw.get("danger_symbols") or []),
            rescue_floor=float(raw.get("rescue_confidence_floor", 1.0)),
            child_age_under=int(raw.get("child_age_under", 16)),
            question_intents=frozenset(raw.get("question_intents") or []),
            severity=tuple(raw.get("severity") or []),
            routing={str(k): dict(v) for k, v in (raw.get("routing") or {}).items()},
            p1_minimum=tuple(raw.get("p1_minimum") or []),
            case_intents=frozenset(raw.get("case_intents") or []),
            concrete_entities=frozenset(raw.get("concrete_entities") or []),
            already_safe=frozenset(k for k in map(words, raw.get("already_safe") or []) if k),
            negations=frozenset(
                w for p in raw.get("already_safe_negations") or [] for w in words(p)
            ),
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

    def danger_signs(self, text: str) -> list[str]:
        """Kinds of danger named in the text, in the order of the configuration file."""
        tokens = self._without_past_rescues([t.plain for t in self.normalizer(text).tokens])
        kinds: set[str] = set()
        for i in range(len(tokens)):
            for n in range(1, min(self.max_phrase, len(tokens) - i) + 1):
                kind = self.danger.get(tuple(tokens[i : i + n]))
                if kind:
                    kinds.add(kind)
        if any(s in text for s in self.symbols):
            kinds.add("urgent")
        return sorted(kinds)

    def _without_past_rescues(self, tokens: list[str]) -> list[str]:
        """Blanks the words of phrases telling of a rescue already done, unless negated."""
        masked = list(tokens)
        for phrase in self.already_safe:
            n = len(phrase)
            for i in range(len(tokens) - n + 1):
                negated = i > 0 and tokens[i - 1] in self.negations
                if tuple(tokens[i : i + n]) == phrase and not negated:
                    masked[i : i + n] = [""] * n
        return masked


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


def _ages(parse: dict[str, Any]) -> list[int]:
    ages = []
    for entity in parse.get("entities") or []:
        if entity.get("entity") == "age":
            try:
                ages.append(int(str(entity.get("value"))))
            except ValueError:
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
    for p, name in zip(parses, intents, strict=True):
        if name not in rules.question_intents:
            kinds.update(rules.danger_signs(str(p.get("text") or "")))
    reasons.extend(_DANGER_REASONS.get(k, k.replace("_", " ")) for k in sorted(kinds))
    ages = [a for p in parses for a in _ages(p)]
    at_risk = category in rules.case_intents or kinds or category == RESCUE
    if at_risk and any(a < rules.child_age_under for a in ages):
        reasons.append(f"child under {rules.child_age_under} at risk")

    if reasons:
        priority = "P1"
    else:
        named = {
            e.get("entity") for p in parses for e in p.get("entities") or []
        } & rules.concrete_entities
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

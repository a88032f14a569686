"""Answers to common questions, chosen by keywords, from `nlu_data/faq.yml`.

The topic is picked by counting the topic's keywords found in the diacritic-free text (the NLU
says only that a message is a question, not which one); ties go to the topic listed first, and no
hit at all gives the default topic, so every question gets a useful answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.dialogue.folding import contains_phrase, fold

FAQ_FILE = "faq.yml"


class FaqError(ValueError):
    """faq.yml is missing or malformed; raised at load time, never while answering."""


@dataclass(frozen=True)
class FaqTopic:
    name: str
    keywords: tuple[str, ...]  # folded
    answer: str  # a template: may name the hotline numbers
    # When given, the topic is a candidate only if one of these occurs too (folded): a victim's
    # own punishment needs the victim in the question, not only "vuot bien" (border crossing).
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Faq:
    topics: tuple[FaqTopic, ...]
    default_topic: str
    hotline_topic: str

    @classmethod
    def load(cls, path: Path) -> Faq:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise FaqError(f"cannot read {path}: {exc}") from exc
        if not isinstance(raw, dict) or not isinstance(raw.get("topics"), dict):
            raise FaqError(f"{path}: expected a mapping with a 'topics' mapping")
        topics = tuple(_topic(path, name, body) for name, body in raw["topics"].items())
        names = {t.name for t in topics}
        default_topic = str(raw.get("default_topic") or "")
        hotline_topic = str(raw.get("hotline_topic") or default_topic)
        for key, value in (("default_topic", default_topic), ("hotline_topic", hotline_topic)):
            if value not in names:
                raise FaqError(f"{path}: {key} {value!r} is not one of the topics {sorted(names)}")
        return cls(topics=topics, default_topic=default_topic, hotline_topic=hotline_topic)

    def named(self, name: str) -> FaqTopic:
        """The topic called `name` (the wording loader checks the ones the flows name exist)."""
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise FaqError(f"no FAQ topic {name!r}")

    def topic(self, text: str, *, asks_for_contact: bool = False) -> FaqTopic:
        """The best topic for the question; a request for a number defaults to the hotlines."""
        folded = fold(text)
        best: FaqTopic | None = None
        best_hits = 0
        for topic in self.topics:
            if topic.requires and not any(contains_phrase(folded, r) for r in topic.requires):
                continue
            hits = sum(1 for k in topic.keywords if contains_phrase(folded, k))
            if hits > best_hits:
                best, best_hits = topic, hits
        if best is not None:
            return best
        fallback = self.hotline_topic if asks_for_contact else self.default_topic
        return next(t for t in self.topics if t.name == fallback)


def _topic(path: Path, name: Any, body: Any) -> FaqTopic:
    if not isinstance(body, dict) or not isinstance(body.get("answer"), str):
        raise FaqError(f"{path}: topic {name!r} needs an 'answer' text")
    answer = body["answer"].strip()
    if not answer:
        raise FaqError(f"{path}: topic {name!r} has an empty answer")
    keywords = tuple(k for k in (fold(str(w)) for w in body.get("keywords") or []) if k)
    requires = tuple(k for k in (fold(str(w)) for w in body.get("requires") or []) if k)
    return FaqTopic(name=str(name), keywords=keywords, answer=answer, requires=requires)

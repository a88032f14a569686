"""The word lists of `nlu_data/entity_rules.yml`, folded for matching."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.nlu.normalize import Normalizer, strip_diacritics


def _key(normalizer: Normalizer, phrase: str) -> tuple[str, ...]:
    """A phrase as the plain tokens the normalizer makes of it (so "sđt" and "sdt" agree)."""
    return tuple(t.plain for t in normalizer(str(phrase)).tokens)


def _accented(normalizer: Normalizer, phrase: str) -> tuple[str, ...]:
    return tuple(t.text for t in normalizer(str(phrase)).tokens)


@dataclass
class EntityRules:
    number_words: dict[str, int] = field(default_factory=dict)  # accented word -> value
    tens_words: frozenset[str] = frozenset()
    age_units: frozenset[str] = frozenset()  # plain
    person_nouns: set[tuple[str, ...]] = field(default_factory=set)  # plain token tuples
    person_nouns_accented: set[tuple[str, ...]] = field(default_factory=set)
    possessors: set[tuple[str, ...]] = field(default_factory=set)
    relation_words: dict[tuple[str, ...], str] = field(default_factory=dict)
    platform_words: dict[tuple[str, ...], str] = field(default_factory=dict)
    # The cue words above as spelled with diacritics (lower-case token tuples).
    cue_words_accented: set[tuple[str, ...]] = field(default_factory=set)
    place_context: frozenset[str] = frozenset()
    place_prefixes: set[tuple[str, ...]] = field(default_factory=set)
    # Number words that, without diacritics, are more often another word ("tu" = từ, "bon" = bọn).
    plain_number_stopwords: frozenset[str] = frozenset()
    # Plain nouns that after a number are usually not people ("2 thang" = 2 tháng).
    plain_noun_stopwords: frozenset[str] = frozenset()
    # Number + noun pairs that are idioms, not counts ("bà con", "bọn em"), plain.
    not_counts: set[tuple[str, ...]] = field(default_factory=set)
    # Words before a number that make it vague ("vài", "mấy", "một hai"), plain.
    vague_before: frozenset[str] = frozenset()
    # Words after a relation word that make it a form of address, not a relation ("mẹ ơi").
    vocatives: frozenset[str] = frozenset()
    # Words before a first-person pronoun that make it not the writer ("trẻ em bị").
    not_self_before: frozenset[str] = frozenset()
    # Relation `self` (bot/nlu/entities/writer.py): the intents it belongs to, and the words.
    self_intents: frozenset[str] = frozenset()
    writer_words: frozenset[str] = frozenset()  # plain
    writer_words_accented: frozenset[str] = frozenset()
    writer_words_verb: frozenset[str] = frozenset()
    writer_words_verb_accented: frozenset[str] = frozenset()
    writer_verbs: frozenset[str] = frozenset()
    writer_plea_verbs: frozenset[str] = frozenset()
    writer_plea_ends: frozenset[str] = frozenset()
    writer_not_after: frozenset[str] = frozenset()  # plain
    writer_not_after_accented: frozenset[str] = frozenset()
    writer_not_before: frozenset[str] = frozenset()  # plain
    writer_not_before_accented: frozenset[str] = frozenset()
    writer_plain_ambiguous: frozenset[str] = frozenset()
    # Kinship words that are also pronouns: a relation only with a possessor after them.
    pronoun_like: set[tuple[str, ...]] = field(default_factory=set)

    @classmethod
    def from_file(cls, path: Path, normalizer: Normalizer) -> EntityRules:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
        raw = raw or {}

        def plains(name: str) -> frozenset[str]:
            return frozenset(" ".join(_key(normalizer, w)) for w in raw.get(name) or [])

        def accents(name: str) -> frozenset[str]:
            return frozenset(" ".join(_accented(normalizer, w)) for w in raw.get(name) or [])

        def keys(name: str) -> set[tuple[str, ...]]:
            return {_key(normalizer, w) for w in raw.get(name) or []} - {()}

        def mapping(name: str) -> dict[tuple[str, ...], str]:
            return {_key(normalizer, k): str(v) for k, v in (raw.get(name) or {}).items()}

        numbers: dict[str, int] = {}
        for word, value in (raw.get("number_words") or {}).items():
            for token in _accented(normalizer, word):
                numbers[token] = int(value)
        return cls(
            number_words=numbers,
            tens_words=frozenset(
                t for w in raw.get("tens_words") or [] for t in _accented(normalizer, w)
            ),
            # Units are compared with the word as typed ("16t"), so no shorthand expansion here.
            age_units=frozenset(
                strip_diacritics(str(w).lower()) for w in raw.get("age_units") or []
            ),
            person_nouns=keys("person_nouns"),
            person_nouns_accented={_accented(normalizer, w) for w in raw.get("person_nouns") or []}
            - {()},
            possessors=keys("possessors"),
            relation_words=mapping("relation_words"),
            platform_words=mapping("platform_words"),
            cue_words_accented={
                _accented(normalizer, w)
                for name in ("relation_words", "platform_words")
                for w in raw.get(name) or {}
            }
            - {()},
            place_context=plains("place_context"),
            place_prefixes=keys("place_prefixes"),
            plain_number_stopwords=plains("plain_number_stopwords"),
            plain_noun_stopwords=plains("plain_noun_stopwords"),
            not_counts=keys("not_counts"),
            vague_before=plains("vague_before"),
            vocatives=plains("vocatives"),
            not_self_before=plains("not_self_before"),
            self_intents=frozenset(str(i) for i in raw.get("self_intents") or []),
            writer_words=plains("writer_words"),
            writer_words_accented=accents("writer_words"),
            writer_words_verb=plains("writer_words_before_verb"),
            writer_words_verb_accented=accents("writer_words_before_verb"),
            writer_verbs=plains("writer_verbs"),
            writer_plea_verbs=plains("writer_plea_verbs"),
            writer_plea_ends=plains("writer_plea_ends"),
            writer_not_after=plains("writer_not_after")
            | frozenset(k[-1] for k in mapping("relation_words"))
            | plains("not_self_before"),
            writer_not_after_accented=accents("writer_not_after")
            | frozenset(_accented(normalizer, w)[-1] for w in raw.get("relation_words") or {})
            | accents("not_self_before"),
            writer_not_before=plains("writer_not_before"),
            writer_not_before_accented=accents("writer_not_before"),
            writer_plain_ambiguous=plains("writer_plain_ambiguous"),
            pronoun_like=keys("pronoun_like_relation_words"),
        )

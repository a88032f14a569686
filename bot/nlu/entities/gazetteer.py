"""Provinces and countries: accent-insensitive, typo-tolerant lookup of the data's surface forms.

Forms come from the `lookup:` tables, the `synonym:` items (old names, abbreviations, unaccented
spellings mapped to canonical values) and the annotated training examples. A form is matched on
the diacritic-free tokens with spaces removed ("ha noi", "hanoi", "Hà Nội" agree); near misses of
longer forms are accepted with rapidfuzz. Forms that are also ordinary words ("anh", "nga",
"lao") count only after a place word (sang, qua, ở, bên...) and not in a word pair the training
data shows is not a place ("lao động").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from bot.nlu.entities.alignment import entity_dict, token_range
from bot.nlu.entities.rules_file import EntityRules
from bot.nlu.normalize import NormalizedText, Normalizer, Token, has_diacritics
from bot.nlu.training_data import TrainingData

PLACE_ENTITIES = ("province", "country")
MAX_FORM_TOKENS = 5
# Fuzzy matching only for forms long enough that one typo cannot turn one place into another.
FUZZY_MIN_CHARS = 7
FUZZY_CUTOFF = 88.0
FUZZY_MAX_LEN_DIFF = 2
# A form the training data mostly leaves unannotated is an ordinary word there.
_WORD_LIKE_MIN_SEEN = 3
_WORD_LIKE_MAX_RATIO = 0.5


@dataclass
class Place:
    entity: str
    value: str
    accented: set[str] = field(default_factory=set)


@dataclass
class Gazetteer:
    forms: dict[str, Place] = field(default_factory=dict)
    ambiguous: set[str] = field(default_factory=set)
    # ambiguous form -> following words after which the data shows it is not a place
    not_before: dict[str, set[str]] = field(default_factory=dict)
    fuzzy_buckets: dict[str, list[str]] = field(default_factory=dict)
    # (first two letters, length) -> forms of that bucket within FUZZY_MAX_LEN_DIFF of the length
    fuzzy_by_length: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    place_context: frozenset[str] = frozenset()
    max_tokens: int = 1
    # Words the training messages use, outside place names, at least twice: a span made only of
    # them is ordinary words, not a misspelt place ("nước được" is not "nước Đức").
    known_words: frozenset[str] = frozenset()

    def extract(self, nt: NormalizedText, accented_message: bool) -> list[dict[str, Any]]:
        tokens = nt.tokens
        plains = [t.plain for t in tokens]
        # glued[i]: token i is a later piece of the same typed token as token i-1 ("tq" ->
        # trung quốc); a match may neither start nor end inside such a group.
        glued = [i > 0 and tokens[i - 1].start == t.start for i, t in enumerate(tokens)]
        glued.append(False)
        found: list[dict[str, Any]] = []
        i = 0
        while i < len(tokens):
            if glued[i]:
                i += 1
                continue
            hit = self._exact(tokens, plains, glued, i, accented_message) or self._fuzzy(
                tokens, plains, glued, i
            )
            if hit is None:
                i += 1
                continue
            n, place, extractor = hit
            start, end = tokens[i].start, tokens[i + n - 1].end
            found.append(entity_dict(place.entity, place.value, start, end, nt.original, extractor))
            i += n
        return found

    def _keys(self, plains: list[str], glued: list[bool], i: int) -> list[tuple[int, str]]:
        """(n, key) of the spans starting at token i, longest first."""
        keys: list[tuple[int, str]] = []
        key = ""
        for n in range(1, min(self.max_tokens, len(plains) - i) + 1):
            key += plains[i + n - 1]
            if not glued[i + n]:
                keys.append((n, key))
        keys.reverse()
        return keys

    def _exact(
        self,
        tokens: tuple[Token, ...],
        plains: list[str],
        glued: list[bool],
        i: int,
        accented_message: bool,
    ) -> tuple[int, Place, str] | None:
        for n, key in self._keys(plains, glued, i):
            place = self.forms.get(key)
            if place is None:
                continue
            if key in self.ambiguous and not self._ambiguous_ok(
                tokens, i, n, key, place, accented_message
            ):
                continue
            return n, place, "gazetteer"
        return None

    def _ambiguous_ok(
        self,
        tokens: tuple[Token, ...],
        i: int,
        n: int,
        key: str,
        place: Place,
        accented_message: bool,
    ) -> bool:
        if i == 0 or tokens[i - 1].plain not in self.place_context:
            return False
        nxt = tokens[i + n].plain if i + n < len(tokens) else ""
        if nxt in self.not_before.get(key, set()):
            return False
        typed = " ".join(t.text for t in tokens[i : i + n])
        # "đi lao động" is not Laos: in a message typed with diacritics, a short ambiguous form
        # must carry the place's own diacritics.
        if not accented_message:
            return True
        marked = {a for a in place.accented if has_diacritics(a)}
        return typed in marked if marked else typed in place.accented

    def _fuzzy(
        self, tokens: tuple[Token, ...], plains: list[str], glued: list[bool], i: int
    ) -> tuple[int, Place, str] | None:
        bucket = self.fuzzy_buckets.get(plains[i][:2])
        if not bucket:
            return None
        for n, key in self._keys(plains, glued, i):
            if len(key) < FUZZY_MIN_CHARS:
                continue
            choices = self.fuzzy_by_length.get((plains[i][:2], len(key)))
            if not choices:
                continue
            best = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
            if best is None:
                continue
            if all(t.text in self.known_words for t in tokens[i : i + n]):
                continue
            place = self.forms[best[0]]
            typed = "".join(t.text for t in tokens[i : i + n])
            if has_diacritics(typed) and not _close_spelling(typed, place):
                # Typed with diacritics, the word says what it is: "thương mại" (trade) is one
                # letter from "thuong hai" but nothing like "Thượng Hải".
                continue
            return n, place, "gazetteer_fuzzy"
        return None


def _close_spelling(typed: str, place: Place) -> bool:
    spelled = [a.replace(" ", "") for a in place.accented if has_diacritics(a)]
    if not spelled:
        return True
    return any(fuzz.ratio(typed, s) >= FUZZY_CUTOFF for s in spelled)


def _strip_prefix(tokens: list[Token], prefixes: set[tuple[str, ...]]) -> list[Token]:
    for prefix in sorted(prefixes, key=len, reverse=True):
        if len(tokens) > len(prefix) and tuple(t.plain for t in tokens[: len(prefix)]) == prefix:
            return tokens[len(prefix) :]
    return tokens


def build_gazetteer(data: TrainingData, rules: EntityRules, normalizer: Normalizer) -> Gazetteer:
    gaz = Gazetteer(place_context=rules.place_context)

    def key_of(phrase: str) -> tuple[str, str]:
        toks = _strip_prefix(list(normalizer(phrase).tokens), rules.place_prefixes)
        return "".join(t.plain for t in toks), " ".join(t.text for t in toks)

    canonical: dict[str, str] = {}  # surface key -> canonical value
    for value, surfaces in data.synonyms.items():
        for surface in [*surfaces, value]:
            canonical.setdefault(key_of(surface)[0], value)
    entity_of: dict[str, str] = {}
    for example in data.examples:
        for span in example.entities:
            if span.entity in PLACE_ENTITIES:
                entity_of.setdefault(span.value, span.entity)
    for entity in PLACE_ENTITIES:
        for form in data.lookups.get(entity, []):
            entity_of.setdefault(canonical.get(key_of(form)[0], form), entity)

    def add(phrase: str, value: str, entity: str) -> None:
        key, accented = key_of(phrase)
        if not key:
            return
        place = gaz.forms.setdefault(key, Place(entity, value))
        place.accented.add(accented)
        gaz.max_tokens = min(max(gaz.max_tokens, len(accented.split())), MAX_FORM_TOKENS)

    for entity in PLACE_ENTITIES:
        for form in data.lookups.get(entity, []):
            add(form, canonical.get(key_of(form)[0], form), entity)
    for value, surfaces in data.synonyms.items():
        entity = entity_of.get(value)
        if entity:
            for surface in [value, *surfaces]:
                add(surface, value, entity)
    for example in data.examples:
        for span in example.entities:
            if span.entity in PLACE_ENTITIES:
                add(span.text, span.value, span.entity)

    for entity in PLACE_ENTITIES:
        for form in data.ambiguous_forms.get(entity, []):
            key = key_of(form)[0]
            if key:
                gaz.ambiguous.add(key)
    _learn_word_like_forms(gaz, data, normalizer)
    gaz.known_words = _known_words(data, normalizer)
    buckets: dict[str, list[str]] = defaultdict(list)
    for key in gaz.forms:
        if len(key) >= FUZZY_MIN_CHARS - FUZZY_MAX_LEN_DIFF and key not in gaz.ambiguous:
            buckets[key[:2]].append(key)
    gaz.fuzzy_buckets = dict(buckets)
    for prefix, forms in buckets.items():
        lengths = {len(f) for f in forms}
        for length in range(
            min(lengths) - FUZZY_MAX_LEN_DIFF, max(lengths) + FUZZY_MAX_LEN_DIFF + 1
        ):
            near = [f for f in forms if abs(len(f) - length) <= FUZZY_MAX_LEN_DIFF]
            if near:
                gaz.fuzzy_by_length[(prefix, length)] = near
    return gaz


_KNOWN_WORD_MIN_COUNT = 2


def _known_words(data: TrainingData, normalizer: Normalizer) -> frozenset[str]:
    counts: dict[str, int] = defaultdict(int)
    for example in data.examples:
        places = [s for s in example.entities if s.entity in PLACE_ENTITIES]
        for token in normalizer(example.text).tokens:
            if not any(s.start < token.end and token.start < s.end for s in places):
                counts[token.text] += 1
    return frozenset(w for w, n in counts.items() if n >= _KNOWN_WORD_MIN_COUNT)


def _learn_word_like_forms(gaz: Gazetteer, data: TrainingData, normalizer: Normalizer) -> None:
    """Mark forms the training text mostly uses as ordinary words; learn the words after them."""
    seen: dict[str, int] = defaultdict(int)
    annotated: dict[str, int] = defaultdict(int)
    next_plain: dict[str, set[str]] = defaultdict(set)
    next_annotated: dict[str, set[str]] = defaultdict(set)
    short_keys = {k for k in gaz.forms if len(k) <= 6}
    for example in data.examples:
        nt = normalizer(example.text)
        tokens = nt.tokens
        marked: set[int] = set()
        for span in example.entities:
            if span.entity in PLACE_ENTITIES:
                rng = token_range(nt, span)
                if rng:
                    marked.update(range(*rng))
        for i, token in enumerate(tokens):
            key = token.plain
            if key not in short_keys:
                continue
            seen[key] += 1
            nxt = tokens[i + 1].plain if i + 1 < len(tokens) else ""
            if i in marked:
                annotated[key] += 1
                next_annotated[key].add(nxt)
            else:
                next_plain[key].add(nxt)
    for key, count in seen.items():
        if count >= _WORD_LIKE_MIN_SEEN and annotated[key] / count < _WORD_LIKE_MAX_RATIO:
            gaz.ambiguous.add(key)
    for key in gaz.ambiguous:
        gaz.not_before[key] = next_plain.get(key, set()) - next_annotated.get(key, set()) - {""}

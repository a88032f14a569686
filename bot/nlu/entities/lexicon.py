"""Relation and platform: cue words whose meaning depends on the word next to them.

"em tôi" is a sibling; "qua fb" is a platform but "số điện thoại" is not a way of contact. The
writer (`self`) needs the intent and is found after classification (`writer.py`). Cue words come
from `entity_rules.yml`, the data's synonyms and the annotated examples; whether a cue is an
entity, and which value, is decided by what the training data did with the same word before the
same neighbour (a memory of contexts), falling back to the rules (a relation word needs a
possessor after it: "con gái tôi").
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from bot.nlu.entities.alignment import entity_dict, token_range
from bot.nlu.entities.rules_file import EntityRules
from bot.nlu.normalize import NormalizedText, Normalizer, Token, strip_diacritics
from bot.nlu.training_data import TrainingData

LEXICON_ENTITIES = ("relation", "platform")
RELATION_VALUES = frozenset(
    {"self", "child", "sibling", "spouse", "parent", "relative", "friend", "neighbor", "other"}
)
PLATFORM_VALUES = frozenset(
    {"facebook", "zalo", "tiktok", "telegram", "phone", "in_person", "other"}
)
MAX_CUE_TOKENS = 4
# How often a cue must have been seen in a context before that context decides.
_MIN_CONTEXT = 2
_MIN_FORM = 2
_NONE = ""  # "seen here, not annotated"

Decision = tuple[str, str]  # (entity, value); ("", "") = not an entity


@dataclass
class Lexicon:
    defaults: dict[tuple[str, ...], Decision] = field(default_factory=dict)
    by_form: dict[tuple[str, ...], Counter[Decision]] = field(default_factory=dict)
    by_next: dict[tuple[tuple[str, ...], str], Counter[Decision]] = field(default_factory=dict)
    by_prev: dict[tuple[tuple[str, ...], str], Counter[Decision]] = field(default_factory=dict)
    rules: EntityRules = field(default_factory=EntityRules)
    max_tokens: int = 1
    # Every spelling with diacritics seen for a cue form: in "bán em" or "bản tui" the plain form
    # "ban" is not "bạn", and diacritics, when typed, say so.
    accented: dict[tuple[str, ...], set[tuple[str, ...]]] = field(default_factory=dict)

    def extract(self, nt: NormalizedText) -> list[dict[str, Any]]:
        tokens = nt.tokens
        text = nt.original
        found: list[dict[str, Any]] = []
        i = 0
        while i < len(tokens):
            hit = self._match(tokens, i, text)
            if hit is None:
                i += 1
                continue
            n, (entity, value) = hit
            if entity:
                start, end = tokens[i].start, tokens[i + n - 1].end
                found.append(entity_dict(entity, value, start, end, text, "lexicon"))
            i += n
        return found

    def known_spelling(self, tokens: tuple[Token, ...], form: tuple[str, ...]) -> bool:
        """False when the tokens carry diacritics that no known spelling of the cue has."""
        if all(t.text == t.plain for t in tokens):
            return True
        spellings = self.accented.get(form)
        if not spellings:
            return True
        typed = tuple(t.text for t in tokens)
        return any(
            all(a in (b, p) for a, b, p in zip(typed, s, form, strict=True)) for s in spellings
        )

    def _match(self, tokens: tuple[Token, ...], i: int, text: str) -> tuple[int, Decision] | None:
        for n in range(min(self.max_tokens, len(tokens) - i), 0, -1):
            form = tuple(t.plain for t in tokens[i : i + n])
            if form not in self.defaults and form not in self.by_form:
                continue
            if not _whole_tokens(tokens, i, n):
                continue
            if not self.known_spelling(tokens[i : i + n], form):
                continue
            return n, self._decide(tokens, i, n, form, text)
        return None

    def _decide(
        self, tokens: tuple[Token, ...], i: int, n: int, form: tuple[str, ...], text: str
    ) -> Decision:
        # A word after punctuation is no possessor: "cứu em, em ở Huế", "anh chị, tôi muốn hỏi".
        joined = (
            i + n < len(tokens) and not text[tokens[i + n - 1].end : tokens[i + n].start].strip()
        )
        nxt = tokens[i + n].plain if joined else ""
        prev = tokens[i - 1].plain if i > 0 else ""
        if nxt in self.rules.vocatives:
            return (_NONE, _NONE)
        # A kinship word is also a pronoun ("cứu em", "con muốn về", "bạn ơi"): it names a
        # relation only by what follows it ("em tôi", "bạn thân"), never by what precedes.
        pronoun = form in self.rules.pronoun_like
        contexts = [
            c
            for c in (
                self.by_next.get((form, nxt)),
                None if pronoun else self.by_prev.get((form, prev)),
            )
            if c is not None and sum(c.values()) >= _MIN_CONTEXT
        ]
        if contexts:
            best = max(contexts, key=lambda c: _top(c)[1] / sum(c.values()))
            return _top(best)[0]
        default = self.defaults.get(form)
        counts = self.by_form.get(form)
        if (
            default is not None
            and default[0] == "relation"
            and joined
            and _starts_with(tokens, i + n, self.rules.possessors)
        ):
            return default
        if counts and not pronoun:
            # The data has used this word before: do what it usually did with it.
            if sum(counts.values()) >= _MIN_FORM:
                return counts.most_common(1)[0][0]
            return next((d for d, _ in counts.most_common() if d[0]), (_NONE, _NONE))
        if default is not None and default[0] != "relation":
            return default
        return (_NONE, _NONE)


def _top(counts: Counter[Decision]) -> tuple[Decision, int]:
    """The most frequent decision; on a tie, an entity rather than "not an entity"."""
    return max(counts.items(), key=lambda kv: (kv[1], bool(kv[0][0])))


def _whole_tokens(tokens: tuple[Token, ...], i: int, n: int) -> bool:
    """Whether tokens i..i+n do not cut an expanded shorthand token ("sdt") in the middle."""
    if i > 0 and tokens[i - 1].start == tokens[i].start:
        return False
    return not (i + n < len(tokens) and tokens[i + n].start == tokens[i + n - 1].start)


def _starts_with(tokens: tuple[Token, ...], i: int, phrases: set[tuple[str, ...]]) -> bool:
    return any(tuple(t.plain for t in tokens[i : i + len(p)]) == p for p in phrases if p)


def build_lexicon(data: TrainingData, rules: EntityRules, normalizer: Normalizer) -> Lexicon:
    lex = Lexicon(rules=rules)

    def key(phrase: str) -> tuple[str, ...]:
        return tuple(t.plain for t in normalizer(phrase).tokens)

    def remember(tokens: tuple[Token, ...]) -> None:
        spelled = tuple(t.text for t in tokens)
        plain = tuple(t.plain for t in tokens)
        if spelled != plain:
            lex.accented.setdefault(plain, set()).add(spelled)

    for spelled in rules.cue_words_accented:
        lex.accented.setdefault(tuple(strip_diacritics(w) for w in spelled), set()).add(spelled)

    for form, value in rules.relation_words.items():
        lex.defaults[form] = ("relation", value)
    for form, value in rules.platform_words.items():
        lex.defaults[form] = ("platform", value)
    annotated_entity: dict[str, str] = {}
    for example in data.examples:
        for span in example.entities:
            if span.entity in LEXICON_ENTITIES:
                annotated_entity.setdefault(span.value, span.entity)
    for value, surfaces in data.synonyms.items():
        entity = annotated_entity.get(value)
        if entity is None and value in PLATFORM_VALUES - RELATION_VALUES:
            entity = "platform"
        elif entity is None and value in RELATION_VALUES - PLATFORM_VALUES:
            entity = "relation"
        # `self` is a rule of its own (pronoun before "bị"); forms ending in a possessor
        # ("con tôi") are covered by the bare word plus the possessor rule.
        if entity and value != "self":
            for surface in surfaces:
                k = key(surface)
                if k and not any(k[-len(p) :] == p for p in rules.possessors if len(p) < len(k)):
                    lex.defaults.setdefault(k, (entity, value))
                    remember(normalizer(surface).tokens)

    by_form: dict[tuple[str, ...], Counter[Decision]] = defaultdict(Counter)
    by_next: dict[tuple[tuple[str, ...], str], Counter[Decision]] = defaultdict(Counter)
    by_prev: dict[tuple[tuple[str, ...], str], Counter[Decision]] = defaultdict(Counter)
    normalized = [(normalizer(e.text), e) for e in data.examples]
    # First pass: every annotated span is a cue form.
    annotated: list[dict[tuple[int, int], Decision]] = []
    for nt, example in normalized:
        spans: dict[tuple[int, int], Decision] = {}
        for span in example.entities:
            # `self` is the writer rule's (writer.py): learning it here would make "em" the
            # writer in every message, whatever its intent.
            if span.entity in LEXICON_ENTITIES and span.value != "self":
                rng = token_range(nt, span)
                if rng:
                    spans[rng] = (span.entity, span.value)
                    form = tuple(t.plain for t in nt.tokens[rng[0] : rng[1]])
                    remember(nt.tokens[rng[0] : rng[1]])
                    lex.max_tokens = min(max(lex.max_tokens, len(form)), MAX_CUE_TOKENS)
                    by_form.setdefault(form, Counter())
        annotated.append(spans)
    lex.max_tokens = min(max([lex.max_tokens, *(len(f) for f in lex.defaults)]), MAX_CUE_TOKENS)
    forms = set(lex.defaults) | set(by_form)
    # Second pass: what the data did with each cue form in each context.
    for (nt, example), spans in zip(normalized, annotated, strict=True):
        tokens = nt.tokens
        self_spans = {
            rng
            for span in example.entities
            if span.entity == "relation" and span.value == "self"
            for rng in [token_range(nt, span)]
            if rng
        }
        for i in range(len(tokens)):
            for n in range(min(lex.max_tokens, len(tokens) - i), 0, -1):
                form = tuple(t.plain for t in tokens[i : i + n])
                if form not in forms or not lex.known_spelling(tokens[i : i + n], form):
                    continue
                if (i, i + n) in self_spans:
                    break
                decision = spans.get((i, i + n), (_NONE, _NONE))
                if decision == (_NONE, _NONE) and any(a < i + n and i < b for a, b in spans):
                    # "nhóm [zalo]": the annotation is on a shorter form inside this one, which
                    # says nothing against the longer form being a cue.
                    continue
                nxt = tokens[i + n].plain if i + n < len(tokens) else ""
                prev = tokens[i - 1].plain if i > 0 else ""
                by_form[form][decision] += 1
                by_next[(form, nxt)][decision] += 1
                by_prev[(form, prev)][decision] += 1
                break
    lex.by_form = dict(by_form)
    lex.by_next = dict(by_next)
    lex.by_prev = dict(by_prev)
    return lex

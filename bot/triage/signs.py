"""Reading the signs of danger now in the text of one message (docs/nlu.md, Triage).

The text decides, not the intent: a message the NLU misread keeps its danger signs. A danger
phrase ("bị nhốt", "thu hộ chiếu", "đang chở đi") counts unless its own clause says otherwise:

- denied ("không bị nhốt", "chưa bị đánh", "không ai đánh em");
- a supposition, a fear, hearsay or a general question ("nếu bị giữ hộ chiếu thì sao", "sợ bị
  lừa", "đi làm bên đó có bị giữ hộ chiếu không?");
- over, in a message telling of a return ("hồi trước bị nhốt, giờ về rồi"), unless the clause
  keeps it current ("nhưng bạn em vẫn bị nhốt");
- being moved without a near time, a witness or a rescue request ("bị đưa sang Trung Quốc"
  last year is a case to investigate; "tối nay chở đi" is not);
- in a question, about no one in particular ("bị nhốt thì luật xử thế nào").

A child under 16 is read from an age (the NLU's, or "mới 14", "chưa đủ 16 tuổi"), a school grade
("mới học lớp 8": lớp 1-9 are under 16) or a word for a child. All word lists live in
nlu_data/triage_keywords.yml; this module holds only how they combine.

Words are compared without diacritics, so an SMS typed without them reads the same. In a message
typed with diacritics, a word spelled as another known word is that other word ("gặp lại" is
no "gấp", "đứa con" no "đưa", "một" no "mốt", "cho" no "chở"); the known spellings are the
configuration's and those the training data uses, so a typo ("nhôt") still matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.nlu.normalize import NormalizedText, Normalizer, has_diacritics, strip_diacritics

Phrase = tuple[str, ...]
# Characters between two words that end a clause.
_CLAUSE_END_RE = re.compile(r"[.,;!?\n…:]")
_LEADING_NUMBER_RE = re.compile(r"^(\d{1,2})")
# How far back the word before a `resolved` phrase may be to block it ("muốn được về").
_BLOCKER_WINDOW = 2
# How far from an age, grade or child word a person word makes the child someone in particular.
_CHILD_ANCHOR_WINDOW = 3


@dataclass(frozen=True)
class Text:
    """One message as triage reads it: plain words (returns blanked out), the words as typed
    when typed with diacritics (None otherwise), and the clause of each word."""

    plain: list[str]
    typed: list[str | None]
    clause: list[int]

    def span(self, i: int) -> tuple[int, int]:
        """[start, end) of the clause of word i."""
        lo = i
        while lo > 0 and self.clause[lo - 1] == self.clause[i]:
            lo -= 1
        hi = i
        while hi + 1 < len(self.clause) and self.clause[hi + 1] == self.clause[i]:
            hi += 1
        return lo, hi + 1


@dataclass(frozen=True)
class PhraseSet:
    """Phrases (plain token tuples, with their spelling), found by position in a `Text`."""

    spelled: Mapping[Phrase, Phrase] = field(default_factory=dict)
    # plain word -> every spelling with diacritics known in the configuration
    known: Mapping[str, frozenset[str]] = field(default_factory=dict)
    longest: int = 0

    def _is(self, text: Text, i: int, n: int) -> bool:
        phrase = tuple(text.plain[i : i + n])
        spelling = self.spelled.get(phrase)
        if spelling is None:
            return False
        for typed, plain, own in zip(text.typed[i : i + n], phrase, spelling, strict=True):
            if typed is not None and typed != own and typed in self.known.get(plain, ()):
                return False
        return True

    def starting_at(self, text: Text, i: int) -> int:
        """Length of the longest phrase starting at word i (0 when none does)."""
        for n in range(min(self.longest, len(text.plain) - i), 0, -1):
            if self._is(text, i, n):
                return n
        return 0

    def ending_at(self, text: Text, end: int, lo: int = 0) -> int:
        """Length of the longest phrase ending just before word `end` (and not before `lo`)."""
        for n in range(min(self.longest, end - lo), 0, -1):
            if self._is(text, end - n, n):
                return n
        return 0

    def within(self, text: Text, lo: int, hi: int) -> bool:
        """Whether a phrase lies wholly inside words [lo, hi)."""
        return any(
            self._is(text, i, n)
            for i in range(lo, hi)
            for n in range(1, min(self.longest, hi - i) + 1)
        )


@dataclass(frozen=True)
class Gapped:
    """A verb and, a few words later in its clause, what makes it a danger ("chở ... đi")."""

    kind: str
    verbs: PhraseSet
    then: PhraseSet
    gap: int


@dataclass(frozen=True)
class SignWords:
    """The word lists of triage_keywords.yml, compiled."""

    danger: dict[str, PhraseSet]  # kind -> phrases
    gapped: tuple[Gapped, ...]
    not_before: dict[Phrase, frozenset[str]]
    question_enders: frozenset[str]
    conditional_after: PhraseSet
    needs_time: frozenset[str]
    near_time: PhraseSet
    near_time_not_after: frozenset[str]
    witness: PhraseSet
    habitual: PhraseSet
    hearsay: PhraseSet
    urgent_not_after: PhraseSet
    past_time: PhraseSet
    negations: PhraseSet
    negation_skip: frozenset[str]
    hypothetical: PhraseSet
    clause_breaks: PhraseSet
    resolved: PhraseSet
    resolved_blockers: PhraseSet
    present: PhraseSet
    symbols: tuple[str, ...]
    child_words: PhraseSet
    grade_words: frozenset[str]
    child_grade_max: int
    age_cues: PhraseSet
    under_age_cues: PhraseSet
    not_age_units: PhraseSet
    lure_words: PhraseSet
    person_words: PhraseSet
    auxiliaries: frozenset[str]
    concrete_words: PhraseSet
    child_age_under: int = 16
    number_words: dict[str, int] = field(default_factory=dict)  # plain word -> value


@dataclass
class Reading:
    """What one message's text says about danger now."""

    kinds: set[str] = field(default_factory=set)
    # A child under 16 is named, and whether a person word stands in the same clause
    # ("con em học lớp 7" is someone's child; "trẻ em dưới 16 tuổi" is a general question).
    child: bool = False
    child_anchored: bool = False
    lure: bool = False
    # The message tells of a return or rescue already done.
    resolved: bool = False


# Readings kept: triage reads every earlier message of a conversation again with each new one.
_CACHE_SIZE = 4096


class SignReader:
    def __init__(self, words: SignWords, normalizer: Normalizer) -> None:
        self.w = words
        self.normalizer = normalizer
        self._cache: dict[tuple[str, str, bool, tuple[tuple[int, int, int], ...]], Reading] = {}

    def read(
        self,
        text: str,
        *,
        intent: str = "",
        question: bool = False,
        ages: Sequence[tuple[int, int, int]] = (),
    ) -> Reading:
        """Signs in `text`. `intent` is the NLU's (a rescue request makes being moved count);
        `question`: the intent is a question; `ages`: (value, start, end) of the NLU's ages.
        The result is shared between calls with the same arguments: do not change it."""
        key = (text, intent, question, tuple(ages))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        reading = self._read(text, intent=intent, question=question, ages=ages)
        self._cache[key] = reading
        return reading

    def _read(
        self,
        text: str,
        *,
        intent: str,
        question: bool,
        ages: Sequence[tuple[int, int, int]],
    ) -> Reading:
        nt = self.normalizer(text)
        words = self._text(nt)
        reading = Reading()
        words = self._without_returns(words, reading)
        asks = self._asking_clauses(nt, words)
        rescue = intent == "request_rescue"
        for i, kind in self._matches(words):
            if kind not in reading.kinds and self._counts(
                words, i, kind, reading, asks=asks, rescue=rescue, question=question
            ):
                reading.kinds.add(kind)
        if any(s in text for s in self.w.symbols):
            reading.kinds.add("urgent")
        self._child(nt, words, ages, reading)
        reading.lure = any(self.w.lure_words.starting_at(words, i) for i in range(len(words.plain)))
        return reading

    def names_something(self, text: str) -> bool:
        """Whether the text names a place, a person or a suspect one could find."""
        words = self._text(self.normalizer(text))
        return any(self.w.concrete_words.starting_at(words, i) for i in range(len(words.plain)))

    def _text(self, nt: NormalizedText) -> Text:
        plain = [t.plain for t in nt.tokens]
        # Spelling tells words apart only in a message typed with diacritics: there a word
        # without them is that plain word ("cho", not "chở").
        typed: list[str | None] = (
            [t.text for t in nt.tokens] if has_diacritics(nt.original) else [None] * len(plain)
        )
        return Text(plain, typed, self._clauses(nt, plain, typed))

    # --- clauses ----------------------------------------------------------------------------

    def _clauses(self, nt: NormalizedText, plain: list[str], typed: list[str | None]) -> list[int]:
        """The clause number of each word."""
        probe = Text(plain, typed, [0] * len(plain))
        numbers: list[int] = []
        current = 0
        i = 0
        while i < len(plain):
            if i and _CLAUSE_END_RE.search(nt.original[nt.tokens[i - 1].end : nt.tokens[i].start]):
                current += 1
            n = self.w.clause_breaks.starting_at(probe, i)
            if n:
                current += 1
                numbers.extend([current] * n)
                i += n
                continue
            numbers.append(current)
            i += 1
        return numbers

    def _asking_clauses(self, nt: NormalizedText, text: Text) -> frozenset[int]:
        """Clauses that ask yes or no: ending in a question word or followed by "?"."""
        asking: set[int] = set()
        for i, c in enumerate(text.clause):
            if i + 1 < len(text.clause) and text.clause[i + 1] == c:
                continue
            following = nt.tokens[i + 1].start if i + 1 < len(nt.tokens) else len(nt.original)
            after = nt.original[nt.tokens[i].end : following]
            if text.plain[i] in self.w.question_enders or "?" in after:
                asking.add(c)
        return frozenset(asking)

    # --- a danger that is over ----------------------------------------------------------------

    def _without_returns(self, text: Text, reading: Reading) -> Text:
        """The text with the words of phrases telling of a return blanked out; notes that the
        message has one. A phrase after a wish or a denial ("muốn được về", "chưa được giải
        cứu") is no return."""
        plain = list(text.plain)
        i = 0
        while i < len(plain):
            n = self.w.resolved.starting_at(text, i)
            if not n:
                i += 1
                continue
            lo, _ = text.span(i)
            blocked = any(
                self.w.resolved_blockers.ending_at(text, end, lo)
                for end in range(max(lo, i - _BLOCKER_WINDOW + 1), i + 1)
            )
            if not blocked:
                reading.resolved = True
                plain[i : i + n] = [""] * n
            i += n
        return Text(plain, text.typed, text.clause)

    # --- danger phrases -----------------------------------------------------------------------

    def _matches(self, text: Text) -> Iterable[tuple[int, str]]:
        """(position, kind) of every danger phrase and gapped pattern in the text."""
        w = self.w
        plain = text.plain
        for i in range(len(plain)):
            for kind, phrases in w.danger.items():
                n = phrases.starting_at(text, i)
                if not n:
                    continue
                nxt = plain[i + n] if i + n < len(plain) else ""
                if nxt not in w.not_before.get(tuple(plain[i : i + n]), frozenset()):
                    yield i, kind
            for pattern in w.gapped:
                v = pattern.verbs.starting_at(text, i)
                if not v:
                    continue
                nxt = plain[i + v] if i + v < len(plain) else ""
                if nxt in w.not_before.get(tuple(plain[i : i + v]), frozenset()):
                    continue
                for j in range(i + v, min(len(plain), i + v + 1 + pattern.gap)):
                    if text.clause[j] != text.clause[i]:
                        break
                    if pattern.then.starting_at(text, j):
                        yield i, pattern.kind
                        break

    def _counts(
        self,
        text: Text,
        i: int,
        kind: str,
        reading: Reading,
        *,
        asks: frozenset[int],
        rescue: bool,
        question: bool,
    ) -> bool:
        w = self.w
        lo, hi = text.span(i)
        if self._negated(text, lo, i):
            return False
        someone = self._about_someone(text, lo, i)
        if kind == "urgent":
            # A cry for help is about now, even in a message telling of a return ("em mới trốn
            # về, không có chỗ ở, giúp em gấp"); but not a service's name ("số khẩn cấp"), nor
            # a supposition about no one ("nếu gặp nguy hiểm thì gọi ai"; "làm sao cứu con
            # tôi" names someone).
            if w.urgent_not_after.ending_at(text, i, lo):
                return False
            if w.hypothetical.within(text, lo, i) or question:
                return someone or self._someone_after(text, i, hi)
            return True
        if w.hypothetical.within(text, lo, i):
            return False
        if not someone and w.conditional_after.within(text, i, hi):
            return False
        now = self._near(text, lo, hi) or w.present.within(text, lo, hi)
        if w.hearsay.within(text, lo, i) and not now:
            return False
        if text.clause[i] in asks and "co" in text.plain[lo:i]:
            return False
        if question and not someone:
            return False
        if reading.resolved and not w.present.within(text, lo, hi):
            return False
        if kind in w.needs_time:
            if self._near(text, lo, hi):
                return True
            if w.past_time.within(text, lo, hi) or w.habitual.within(text, lo, hi):
                return False
            return rescue or w.witness.within(text, lo, hi)
        # "sau khi bị giữ ở Myanmar", "lúc ở bên đó bị đánh": the past, unless kept current.
        return now or not w.past_time.within(text, lo, i)

    def _near(self, text: Text, lo: int, hi: int) -> bool:
        """Whether the clause [lo, hi) names a near time ("tối nay", not "mấy hôm nay")."""
        w = self.w
        return any(
            w.near_time.starting_at(text, i)
            and not (i > lo and text.plain[i - 1] in w.near_time_not_after)
            for i in range(lo, hi)
        )

    def _negated(self, text: Text, lo: int, i: int) -> bool:
        """Whether a negation stands just before word i, past words like "bị", "có"."""
        if text.plain[i] and self.w.negations.starting_at(text, i):
            return False  # the phrase is itself negative: "không cho về"
        end = i
        while end > lo and text.plain[end - 1] in self.w.negation_skip:
            end -= 1
        return bool(self.w.negations.ending_at(text, end, lo))

    def _someone_after(self, text: Text, i: int, hi: int) -> bool:
        """Whether a person word follows the phrase at word i ("cứu con tôi", "giúp em")."""
        j = i + 1
        while j < hi and not text.plain[j]:
            j += 1
        end = min(hi, j + 2)
        return any(self.w.person_words.starting_at(text, k) for k in range(i + 1, end))

    def _about_someone(self, text: Text, lo: int, i: int) -> bool:
        """Whether a person word stands just before the phrase ("con tôi đang bị giữ")."""
        end = i
        while end > lo and text.plain[end - 1] in self.w.auxiliaries:
            end -= 1
        return end > lo and bool(self.w.person_words.ending_at(text, end, lo))

    # --- a child under 16 ---------------------------------------------------------------------

    def _child(
        self,
        nt: NormalizedText,
        text: Text,
        ages: Sequence[tuple[int, int, int]],
        reading: Reading,
    ) -> None:
        w = self.w
        plain = text.plain
        found: list[tuple[int, int]] = []  # (position, length) of what names a child
        for value, start, _end in ages:
            first = next((k for k, t in enumerate(nt.tokens) if t.end > start), None)
            if first is None:
                continue
            if w.under_age_cues.ending_at(text, first):
                value -= 1
            if value < w.child_age_under:
                last = next((k for k, t in enumerate(nt.tokens) if t.start >= _end), len(plain))
                found.append((first, max(1, last - first)))
        for i, word in enumerate(plain):
            if word in w.grade_words and i + 1 < len(plain):
                grade = self._number(plain[i + 1])
                if grade is not None and 1 <= grade <= w.child_grade_max:
                    found.append((i, 2))
            if self._cued_age(text, i):
                found.append((i, 1))
            n = w.child_words.starting_at(text, i)
            if n:
                found.append((i, n))
        if not found:
            return
        reading.child = True
        for i, n in found:
            lo, hi = text.span(i)
            # Someone's child: a person word close by, not the child word's own ("con tôi 14
            # tuổi", "em mới học lớp 8", "bé gái nhà bên"; not "trẻ em"), in a clause that is no
            # supposition.
            near = [
                *range(max(lo, i - _CHILD_ANCHOR_WINDOW), i),
                *range(i + n, min(hi, i + n + _CHILD_ANCHOR_WINDOW)),
            ]
            person = any(w.person_words.starting_at(text, k) == 1 for k in near)
            if person and not w.hypothetical.within(text, lo, hi):
                reading.child_anchored = True

    def _number(self, word: str) -> int | None:
        match = _LEADING_NUMBER_RE.match(word)
        if match:
            return int(match.group(1))
        return self.w.number_words.get(word)

    def _cued_age(self, text: Text, i: int) -> bool:
        """ "mới 14", "chưa đủ 16": a bare number after an age cue, under the limit."""
        plain = text.plain
        if not plain[i].isdigit() or not self.w.age_cues.ending_at(text, i):
            return False
        if i + 1 < len(plain) and self.w.not_age_units.starting_at(text, i + 1):
            return False
        value = int(plain[i])
        if self.w.under_age_cues.ending_at(text, i):
            value -= 1
        return 0 < value < self.w.child_age_under


def compile_words(
    raw: dict[str, Any],
    normalizer: Normalizer,
    number_words: dict[str, int] | None = None,
    spellings: Iterable[str] = (),
) -> SignWords:
    """The configuration's word lists as phrases of plain words that remember their spelling.
    `spellings`: words as the language spells them (from the training data), so that "một" is
    known not to be "mốt"."""
    known: dict[str, set[str]] = {}
    for word in spellings:
        known.setdefault(strip_diacritics(word), set()).add(word)

    def tokens(phrase: object) -> tuple[Phrase, Phrase]:
        toks = normalizer(str(phrase)).tokens
        plain = tuple(t.plain for t in toks)
        spelled = tuple(t.text for t in toks)
        for p, s in zip(plain, spelled, strict=True):
            known.setdefault(p, set()).add(s)
        return plain, spelled

    frozen: dict[str, frozenset[str]] = {}  # filled once every list is read

    def phrase_set(items: Iterable[object]) -> PhraseSet:
        spelled: dict[Phrase, Phrase] = {}
        for item in items:
            plain, spelling = tokens(item)
            if plain:
                spelled.setdefault(plain, spelling)
        return PhraseSet(spelled, frozen, max((len(p) for p in spelled), default=0))

    def phrases(name: str) -> PhraseSet:
        return phrase_set(raw.get(name) or [])

    def singles(name: str) -> frozenset[str]:
        return frozenset(w for p in raw.get(name) or [] for w in tokens(p)[0])

    for word in raw.get("homographs") or []:
        tokens(word)
    words = SignWords(
        danger={str(k): phrase_set(v or []) for k, v in (raw.get("danger") or {}).items()},
        gapped=tuple(
            Gapped(
                kind=str(spec["kind"]),
                verbs=phrase_set(spec.get("verbs") or []),
                then=phrase_set(spec.get("then") or []),
                gap=int(spec.get("gap", 3)),
            )
            for spec in raw.get("gapped") or []
        ),
        not_before={
            tokens(k)[0]: frozenset(w for v in values or [] for w in tokens(v)[0])
            for k, values in (raw.get("not_before") or {}).items()
        },
        question_enders=singles("question_enders"),
        conditional_after=phrases("conditional_after"),
        needs_time=frozenset(str(k) for k in raw.get("needs_time") or []),
        near_time=phrases("near_time"),
        near_time_not_after=singles("near_time_not_after"),
        witness=phrases("witness"),
        habitual=phrases("habitual"),
        hearsay=phrases("hearsay"),
        urgent_not_after=phrases("urgent_not_after"),
        past_time=phrases("past_time"),
        negations=phrases("negations"),
        negation_skip=singles("negation_skip"),
        hypothetical=phrases("hypothetical"),
        clause_breaks=phrases("clause_breaks"),
        resolved=phrases("resolved"),
        resolved_blockers=phrases("resolved_blockers"),
        present=phrases("present"),
        symbols=tuple(str(s) for s in raw.get("danger_symbols") or []),
        child_words=phrases("child_words"),
        grade_words=singles("grade_words"),
        child_grade_max=int(raw.get("child_grade_max", 9)),
        age_cues=phrases("age_cues"),
        under_age_cues=phrases("under_age_cues"),
        not_age_units=phrases("not_age_units"),
        lure_words=phrases("lure_words"),
        person_words=phrases("person_words"),
        auxiliaries=singles("auxiliaries"),
        concrete_words=phrases("concrete_words"),
        child_age_under=int(raw.get("child_age_under", 16)),
        # The NLU's number words (entity_rules.yml), for grades written out ("lớp tám").
        number_words={strip_diacritics(w): v for w, v in (number_words or {}).items()},
    )
    frozen.update({k: frozenset(v) for k, v in known.items()})
    return words

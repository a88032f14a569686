"""Ages ("15 tuổi", "16t", "mười lăm tuổi") and head counts ("3 cô gái", "hai đứa nhỏ")."""

from __future__ import annotations

import re
from typing import Any

from bot.nlu.entities.alignment import entity_dict, token_range
from bot.nlu.entities.rules_file import EntityRules
from bot.nlu.normalize import NormalizedText, Normalizer, Token, strip_diacritics
from bot.nlu.training_data import TrainingData

_NUMBER_UNIT_RE = re.compile(r"^(\d{1,3})([a-z]+)$")
_MAX_AGE = 100
_MAX_COUNT = 1000


class NumberReader:
    """Reads a number written in digits or Vietnamese words starting at a token."""

    def __init__(self, rules: EntityRules) -> None:
        self.words = rules.number_words
        self.plain_words = {strip_diacritics(w): v for w, v in rules.number_words.items()}
        self.plain_stopwords = rules.plain_number_stopwords
        self.tens = rules.tens_words
        self.plain_tens = frozenset(strip_diacritics(w) for w in rules.tens_words)

    def _word(self, token: Token, accented: bool) -> int | None:
        # In an accented message "nam" is "south/male", not "năm" (five): only the exact accented
        # word counts. Without diacritics there is no way to tell, so the plain form counts.
        if accented:
            return self.words.get(token.text)
        return self.plain_words.get(token.plain)

    def _is_tens(self, token: Token, accented: bool) -> bool:
        return token.text in self.tens if accented else token.plain in self.plain_tens

    def read(self, tokens: tuple[Token, ...], i: int, accented: bool) -> tuple[int, int] | None:
        """(value, number of tokens used) of the number at token i, or None."""
        token = tokens[i]
        if token.plain.isdigit():
            return int(token.plain), 1
        if not accented and token.plain in self.plain_stopwords:
            return None
        first = self._word(token, accented)
        if first is None:
            return None
        value, used = first, 1
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if first == 10 and nxt is not None:
            # mười một .. mười chín ("mười lăm" = 15)
            unit = self._word(nxt, accented)
            if unit is not None and 1 <= unit <= 9:
                return 10 + unit, 2
        if first < 10 and nxt is not None and self._is_tens(nxt, accented):
            value, used = first * 10, 2
            after = tokens[i + 2] if i + 2 < len(tokens) else None
            unit = self._word(after, accented) if after is not None else None
            if unit is not None and 1 <= unit <= 9:
                value, used = value + unit, 3
        return value, used


# Longest noun phrase after a head count ("anh chị em"): the look-up tries each length up to it.
_MAX_NOUN_TOKENS = 4


def _starts_with(
    tokens: tuple[Token, ...], i: int, phrases: set[tuple[str, ...]], accented: bool
) -> bool:
    words = [t.text if accented else t.plain for t in tokens[i : i + _MAX_NOUN_TOKENS]]
    return any(tuple(words[:n]) in phrases for n in range(1, len(words) + 1))


class NumberEntities:
    def __init__(
        self,
        rules: EntityRules,
        data: TrainingData | None = None,
        normalizer: Normalizer | None = None,
    ) -> None:
        self.rules = rules
        self.reader = NumberReader(rules)
        self.nouns_plain = {
            n
            for n in rules.person_nouns
            if not (len(n) == 1 and n[0] in rules.plain_noun_stopwords)
        }
        self.nouns_accented = set(rules.person_nouns_accented)
        if data is not None and normalizer is not None:
            self._learn_nouns(data, normalizer)

    def _learn_nouns(self, data: TrainingData, normalizer: Normalizer) -> None:
        """Add the words the annotated data puts after a head count ("50 thợ hàn")."""
        for example in data.examples:
            spans = [s for s in example.entities if s.entity == "person_count"]
            if not spans:
                continue
            nt = normalizer(example.text)
            for span in spans:
                rng = token_range(nt, span)
                if rng and rng[1] < len(nt.tokens):
                    noun = nt.tokens[rng[1]]
                    self.nouns_accented.add((noun.text,))
                    if noun.plain not in self.rules.plain_noun_stopwords:
                        self.nouns_plain.add((noun.plain,))

    def _is_age_unit(self, token: Token) -> bool:
        # Check the word as typed too: shorthand expansion turns the unit "t" into "tôi".
        units = self.rules.age_units
        return token.plain in units or strip_diacritics(token.typed) in units

    def _is_count(
        self, tokens: tuple[Token, ...], i: int, after: int, text: str, accented: bool
    ) -> bool:
        """Whether the number at tokens[i:after] and the noun after it read as a head count."""
        # Punctuation between number and noun ("máy bay, cô ấy") breaks the phrase.
        if any(text[tokens[k].end : tokens[k + 1].start].strip() for k in range(i, after)):
            return False
        # "vài chục người", "một hai cô gái": a vague number is not a count.
        if i > 0 and (
            tokens[i - 1].plain in self.rules.vague_before
            or self.reader.read(tokens, i - 1, accented) is not None
        ):
            return False
        pair = (tokens[i].plain, tokens[after].plain)
        if pair in self.rules.not_counts:
            return False
        noun_end = tokens[after].end
        # "5 ng/tháng" is a rate, not a head count.
        return text[noun_end : noun_end + 1] != "/"

    def extract(self, nt: NormalizedText, accented: bool) -> list[dict[str, Any]]:
        tokens = nt.tokens
        text = nt.original
        found: list[dict[str, Any]] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            glued = _NUMBER_UNIT_RE.match(token.plain)
            if glued and glued.group(2) in self.rules.age_units:
                age = int(glued.group(1))
                if 0 < age < _MAX_AGE:
                    found.append(
                        entity_dict("age", str(age), token.start, token.end, text, "rules")
                    )
                i += 1
                continue
            number = self.reader.read(tokens, i, accented)
            if number is None:
                i += 1
                continue
            value, used = number
            after = i + used
            last = tokens[after - 1]
            if after < len(tokens) and self._is_age_unit(tokens[after]):
                if 0 < value < _MAX_AGE:
                    unit = tokens[after]
                    found.append(
                        entity_dict("age", str(value), token.start, unit.end, text, "rules")
                    )
                i = after + 1
                continue
            nouns = self.nouns_accented if accented else self.nouns_plain
            # "một người" is "a person", not a head count; the data never annotates one.
            if (
                after < len(tokens)
                and 1 < value < _MAX_COUNT
                and _starts_with(tokens, after, nouns, accented)
                and self._is_count(tokens, i, after, text, accented)
            ):
                found.append(
                    entity_dict("person_count", str(value), token.start, last.end, text, "rules")
                )
            i = after
        return found

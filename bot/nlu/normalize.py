"""Text normalisation: a message in, normalised tokens out that remember where they came from.

People type Vietnamese in NFC or NFD, in any case, with or without diacritics, with chat
shorthand ("ko", "dc", "xkld") and stretched letters ("cứuuuu"). Every view the classifier and
the extractors look at is derived here, and every token keeps the character offsets of the text
it was typed as, so entities can be reported against the message exactly as received.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from bot.nlu.phone import find_phones

# Letters and digits make a token; punctuation and spaces separate tokens. An emoji is one
# character long and becomes a token only if the shorthand table expands it ("👍" = ok).
_TOKEN_RE = re.compile(r"[^\W_]+|[\u2600-\u27bf\U0001f300-\U0001faff]")
PHONE_TOKEN = "sdtphone"
# A run of three or more of the same letter is stretching ("cứuuuu", "emmm"), never spelling.
_RUN_MIN = 3
# Vietnamese spells "uu" (cứu, lưu, hưu) but never any other doubled letter in a run we collapse.
_DOUBLED_LETTERS = frozenset("u")


@lru_cache(maxsize=65536)
def strip_diacritics(text: str) -> str:
    """The text with every combining mark removed and đ/Đ turned into d/D."""
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.replace("đ", "d").replace("Đ", "D")


def has_diacritics(text: str) -> bool:
    """Whether the text carries any Vietnamese diacritic (or đ), in NFC or NFD."""
    return strip_diacritics(text) != unicodedata.normalize("NFC", text)


@dataclass(frozen=True, slots=True)
class Token:
    """One word of the message.

    `text` is lower-case NFC with stretching collapsed and shorthand expanded (one word of the
    expansion); `plain` is `text` without diacritics; `typed` is the token as typed (lower-case
    NFC); `start`/`end` are offsets into the original message.
    """

    text: str
    plain: str
    typed: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class NormalizedText:
    original: str
    tokens: tuple[Token, ...]

    @property
    def accented(self) -> str:
        return " ".join(t.text for t in self.tokens)

    @property
    def plain(self) -> str:
        return " ".join(t.plain for t in self.tokens)


@dataclass(frozen=True)
class Teencode:
    """Shorthand expansions; `contextual` ones apply only after one of the listed plain words."""

    expansions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    contextual: Mapping[str, tuple[tuple[str, ...], frozenset[str]]] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: Path) -> Teencode:
        if not path.is_file():
            return cls()
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        expansions = {
            _fold(str(k)): tuple(_fold(str(v)).split())
            for section in ("expansions", "emoji")
            for k, v in (raw.get(section) or {}).items()
        }
        contextual = {
            _fold(str(k)): (
                tuple(_fold(str(v["expansion"])).split()),
                frozenset(strip_diacritics(_fold(str(w))) for w in v.get("after", [])),
            )
            for k, v in (raw.get("contextual") or {}).items()
        }
        return cls(expansions=expansions, contextual=contextual)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).lower().strip()


def _folded_with_offsets(text: str) -> tuple[str, list[int] | None, list[int] | None]:
    """Lower-case NFC text plus, per character, the original offsets it came from.

    Returns `None` maps when the folded text lines up character for character with the
    original (the common case), so the per-character walk is only paid for NFD or odd input.
    """
    folded = unicodedata.normalize("NFC", text).lower()
    if len(folded) == len(text) and unicodedata.is_normalized("NFC", text):
        return folded, None, None
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        # A base character and the combining marks after it compose into one NFC cluster.
        while j < n and unicodedata.combining(text[j]):
            j += 1
        for ch in unicodedata.normalize("NFC", text[i:j]).lower():
            chars.append(ch)
            starts.append(i)
            ends.append(j)
        i = j
    return "".join(chars), starts, ends


def collapse_stretching(word: str) -> str:
    """Undo letter stretching: "cứuuuu" -> "cứu", "emmm" -> "em", "điiii" -> "đi"."""
    plain = strip_diacritics(word)
    if len(plain) != len(word) or not _has_run(plain):
        return word
    out: list[str] = []
    i, n = 0, len(word)
    while i < n:
        j = i + 1
        while j < n and plain[j] == plain[i] and plain[i].isalpha():
            j += 1
        run = j - i
        if run >= _RUN_MIN:
            keep = 2 if plain[i] in _DOUBLED_LETTERS else 1
            out.append(word[i : i + keep])
        else:
            out.append(word[i:j])
        i = j
    return "".join(out)


def _has_run(plain: str) -> bool:
    count = 1
    for a, b in itertools.pairwise(plain):
        count = count + 1 if a == b else 1
        if count >= _RUN_MIN:
            return True
    return False


def _phone_spans(text: str) -> list[tuple[int, int]]:
    return [(p.start, p.end) for p in find_phones(text)]


class Normalizer:
    """Turns a message into `NormalizedText`; cheap to call, holds only the shorthand table."""

    def __init__(self, teencode: Teencode | None = None) -> None:
        self.teencode = teencode or Teencode()

    def __call__(self, text: str) -> NormalizedText:
        folded, starts, ends = _folded_with_offsets(text)
        phones = _phone_spans(folded) if any(c.isdigit() for c in folded) else []
        tokens: list[Token] = []
        prev_plain = ""
        phone_iter = iter(phones)
        next_phone = next(phone_iter, None)
        for match in _TOKEN_RE.finditer(folded):
            fs, fe = match.span()
            while next_phone is not None and next_phone[1] <= fs:
                next_phone = next(phone_iter, None)
            start = starts[fs] if starts is not None else fs
            end = ends[fe - 1] if ends is not None else fe
            if next_phone is not None and next_phone[0] <= fs < next_phone[1]:
                # The digits of one phone number become one token: the classifier sees "a phone
                # number", not three unrelated numbers.
                ps, pe = next_phone
                p_start = starts[ps] if starts is not None else ps
                p_end = ends[pe - 1] if ends is not None else pe
                if tokens and tokens[-1].text == PHONE_TOKEN and tokens[-1].start == p_start:
                    continue
                tokens.append(Token(PHONE_TOKEN, PHONE_TOKEN, folded[ps:pe], p_start, p_end))
                prev_plain = PHONE_TOKEN
                continue
            typed = match.group()
            if not typed[0].isalnum():
                # An emoji is a word only when the shorthand table says which ("👍" = ok).
                emoji = self.teencode.expansions.get(typed)
                if emoji:
                    for piece in emoji:
                        tokens.append(Token(piece, strip_diacritics(piece), typed, start, end))
                    prev_plain = tokens[-1].plain
                continue
            word = collapse_stretching(typed)
            for piece in self._expand(word, prev_plain):
                tokens.append(Token(piece, strip_diacritics(piece), typed, start, end))
            prev_plain = tokens[-1].plain
        return NormalizedText(text, tuple(tokens))

    def _expand(self, word: str, prev_plain: str) -> tuple[str, ...]:
        expansion = self.teencode.expansions.get(word)
        if expansion:
            return expansion
        contextual = self.teencode.contextual.get(word)
        if contextual and prev_plain in contextual[1]:
            return contextual[0]
        return (word,)

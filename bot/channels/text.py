"""Cutting a long reply into the parts a platform accepts, by its limit and its unit."""

from __future__ import annotations

import re
import unicodedata

# Where a long reply may be cut, most natural first: paragraph, line, sentence, word.
_CUT_PATTERNS = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    re.compile(r"[.!?…](?:[\"'”’)\]]*)\s+"),
    re.compile(r"\s+"),
)
# ZWJ and variation selectors glue emoji sequences together; never cut right before them.
_GLUE = {"\u200d", "\ufe0e", "\ufe0f"}


def utf16_len(text: str) -> int:
    """A text's length as JavaScript counts it, the unit of Telegram's and Zalo's limits."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int) -> list[str]:
    """Cuts `text` into parts of at most `limit` UTF-16 units, at the most natural boundary,
    never between a letter and its combining accent (decomposed Vietnamese) or inside an emoji
    sequence."""
    parts: list[str] = []
    rest = text.strip()
    while rest:
        if utf16_len(rest) <= limit:
            parts.append(rest)
            break
        cut = _cut_position(rest, limit)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [part for part in parts if part]


def _cut_position(text: str, limit: int) -> int:
    window = _fitting_prefix_length(text, limit)
    # Never a part so short that the reader gets a fragment, unless the text has no breaks.
    shortest = window // 2
    for pattern in _CUT_PATTERNS:
        ends = [m.end() for m in pattern.finditer(text, 0, window) if m.end() > shortest]
        if ends:
            return ends[-1]
    cut = window
    while cut > 1 and (unicodedata.combining(text[cut]) or text[cut] in _GLUE):
        cut -= 1
    return cut


def _fitting_prefix_length(text: str, limit: int) -> int:
    n = min(len(text), limit)
    while (excess := utf16_len(text[:n]) - limit) > 0:
        n -= (excess + 1) // 2
    return n

"""One plain form of Vietnamese text for keyword and name matching.

People type with or without diacritics, in NFC or NFD, in any case, with stray punctuation;
`fold` maps all of these to the same lower-case ASCII-letter form, so `bo qua` typed with its
diacritics, `Bo qua!` and `bo  qua` compare equal. The NLU has its own richer normaliser; this
one is deliberately small so the dialogue's keyword matching does not depend on NLU internals
that may change.
"""

from __future__ import annotations

import re
import unicodedata

_D_STROKE = "\u0111"
# Anything that is not a letter or digit separates words (punctuation, emoji, slashes).
_SEPARATORS = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower-case, diacritic-free, single-spaced words of `text` (d-stroke becomes `d`)."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # The d with stroke is a letter of its own, not d plus a mark, so NFD leaves it alone.
    stripped = stripped.replace(_D_STROKE, "d")
    return _SEPARATORS.sub(" ", stripped).strip()


def contains_phrase(folded_text: str, folded_phrase: str) -> bool:
    """Whether the phrase occurs in the text on word boundaries (both already folded)."""
    if not folded_phrase:
        return False
    return f" {folded_phrase} " in f" {folded_text} "

"""How many SMS segments a text costs, and how to make Vietnamese text cheaper.

One character outside the GSM 03.38 alphabet switches the whole message to UCS-2, and every
Vietnamese letter with a tone or a hat is outside it. So a Vietnamese reply gets 70 characters in
one segment, 67 per part once it is split (the rest of each part carries the concatenation
header), against 160/153 for GSM-7; Twilio bills per segment (docs/platforms.md §3.6).
"""

from __future__ import annotations

import unicodedata
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 default alphabet, in table order. ESC (0x1B) is left out: it only introduces the
# extension table and is never text of its own.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through ESC, so each costs two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# Typographic punctuation that phones and editors put into text, with the GSM-7 spelling that
# reads the same. Without this one curly apostrophe would undo the diacritic stripping.
_GSM7_LOOKALIKES = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "–": "-",
        "—": "-",
        "‐": "-",
        "…": "...",
        "\u00a0": " ",
        "\u202f": " ",
    }
)


def encoding(text: str) -> Encoding:
    """The encoding a carrier will use: GSM-7 only if every character is in the GSM alphabet."""
    allowed = GSM7_BASIC | GSM7_EXTENSION
    return "GSM-7" if all(ch in allowed for ch in text) else "UCS-2"


def _unit_costs(text: str, enc: Encoding) -> list[int]:
    if enc == "GSM-7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    # UCS-2 on the wire is really UTF-16: a character beyond the BMP (most emoji) is a
    # surrogate pair, two units.
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def length_units(text: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text occupies."""
    return sum(_unit_costs(text, encoding(text)))


def count_segments(text: str) -> int:
    """How many segments (billed messages) the text is sent as; an empty text is one."""
    enc = encoding(text)
    costs = _unit_costs(text, enc)
    single, part = (GSM7_SINGLE, GSM7_PART) if enc == "GSM-7" else (UCS2_SINGLE, UCS2_PART)
    if sum(costs) <= single:
        return 1
    # Pack greedily: an escape sequence or a surrogate pair is not split between two parts, so
    # a part may end one unit short and the count can exceed ceil(units / part).
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments, used = segments + 1, 0
        used += cost
    return segments


def strip_diacritics(text: str) -> str:
    """Vietnamese without tone marks and hats (đ→d), so an SMS can go as GSM-7.

    Unaccented Vietnamese is how many people text anyway and stays readable; the NLU reads both.
    Characters that have no unaccented form (emoji, other scripts) are kept as they are.
    """
    text = text.replace("đ", "d").replace("Đ", "D").translate(_GSM7_LOOKALIKES)
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)

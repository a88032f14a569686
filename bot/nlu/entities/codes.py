"""Phone numbers and ticket reference codes, found by pattern in the text as received."""

from __future__ import annotations

import re
from typing import Any

from bot.nlu.entities.alignment import entity_dict
from bot.nlu.phone import find_phones

# The service issues `TIP-` and five characters of an alphabet without 0/O and 1/I; people type
# them in any case, with a space, another dash or nothing after TIP.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_REFERENCE_RE = re.compile(
    rf"(?<![A-Za-z0-9])tip[\s\-_.:#]?([{REFERENCE_ALPHABET}{REFERENCE_ALPHABET.lower()}]{{5}})(?![A-Za-z0-9])",
    re.IGNORECASE,
)


def extract_phones(text: str) -> list[dict[str, Any]]:
    return [entity_dict("phone", p.e164, p.start, p.end, text, "regex") for p in find_phones(text)]


def extract_reference_codes(text: str) -> list[dict[str, Any]]:
    return [
        entity_dict(
            "reference_code", "TIP-" + m.group(1).upper(), m.start(), m.end(), text, "regex"
        )
        for m in _REFERENCE_RE.finditer(text)
    ]

"""Vietnamese phone numbers found in the shapes people type them, in E.164
(`intake_api.phones`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake_api.phones import to_e164

# A candidate: a national prefix (+84, 84 or 0) and digits separated by at most one space, dot,
# dash or bracket. The match may run into the next number ("0912 345 678 2 người"); `find_phones`
# trims it to the length the numbering plan allows.
_CANDIDATE_RE = re.compile(r"(?<![\w+])(\+\s?84|84|0)((?:[\s.\-]?[()]?\d[()]?){8,11})(?!\w)")
_DIGIT_RE = re.compile(r"\d")
# National significant number lengths: mobiles (3x, 5x, 7x, 8x, 9x) have 9 digits, fixed lines
# (2x) have 10.
_NSN_LENGTH = {"2": 10, "3": 9, "5": 9, "7": 9, "8": 9, "9": 9}


@dataclass(frozen=True, slots=True)
class PhoneMatch:
    start: int
    end: int
    e164: str


def find_phones(text: str) -> list[PhoneMatch]:
    found: list[PhoneMatch] = []
    for match in _CANDIDATE_RE.finditer(text):
        rest_start = match.start(2)
        digits = [(m.group(), rest_start + m.start()) for m in _DIGIT_RE.finditer(match.group(2))]
        if not digits:
            continue
        length = _NSN_LENGTH.get(digits[0][0])
        if length is None or len(digits) < length:
            continue
        nsn = "".join(d for d, _ in digits[:length])
        end = digits[length - 1][1] + 1
        e164 = to_e164("0" + nsn)
        if e164 is not None:
            found.append(PhoneMatch(match.start(), end, e164))
    return found

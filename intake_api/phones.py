"""Phone numbers in E.164, the one form they are stored, compared and blind-indexed in."""

from __future__ import annotations

import re

E164 = re.compile(r"\+[1-9]\d{1,14}")
_NON_DIGITS = re.compile(r"\D")


def is_e164(value: str) -> bool:
    return E164.fullmatch(value) is not None


def to_e164(raw: str | None) -> str | None:
    """The number in E.164, or None when it is not a phone number.

    International form with or without "+" ("+84 91...", "84912345678", "0084..."), or a
    national Vietnamese number ("0912 345 678"): the service only runs in Viet Nam.
    """
    if not raw:
        return None
    digits = _NON_DIGITS.sub("", raw)
    if raw.strip().startswith("+"):
        pass
    elif digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = "84" + digits[1:]
    if not 8 <= len(digits) <= 15 or digits.startswith("0"):
        return None
    return "+" + digits

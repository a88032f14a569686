"""Reference codes a reporter can read aloud over the phone: `TIP-7K3Q9`.

The alphabet leaves out 0/O and 1/I, which are confused when spoken or handwritten, and codes
are drawn at random (32^5 ≈ 33.5 million), so one reporter's code says nothing about another's.
"""

from __future__ import annotations

import re
import secrets

PREFIX = "TIP"
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 5
_CODE_RE = re.compile(rf"^{PREFIX}[\s\-_.]*([{ALPHABET}]{{{LENGTH}}})$")


def new_reference_code() -> str:
    return f"{PREFIX}-" + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize_reference_code(raw: str) -> str | None:
    """The canonical form of a code as a person typed it (any case, space or no dash), or None."""
    match = _CODE_RE.match(raw.strip().upper())
    return f"{PREFIX}-{match.group(1)}" if match else None

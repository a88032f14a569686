"""Province names as people and older systems give them, mapped to the units in force since
1 July 2025.

The mapping is data, not code: the synonyms of `nlu_data/lookups/provinces.yml` (Rasa's lookup
format, the same file the NLU reads), named by the `province_names_file` setting. Every one of
the 63 pre-2025 provinces is there ("Bình Dương" → "Thành phố Hồ Chí Minh"), with unaccented
and abbreviated forms. Only mappings onto a configured province are used.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import yaml

_SPACES = re.compile(r"\s+")


def _key(name: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", name)).strip().casefold()


@lru_cache(maxsize=8)
def _synonyms(path: str) -> tuple[tuple[str, str], ...]:
    """(form, canonical) pairs from the file's `synonym` entries."""
    file = Path(path)
    if not file.is_file():
        raise RuntimeError(
            f"province_names_file: {file} does not exist; point the setting at the "
            "provinces lookup (nlu_data/lookups/provinces.yml) or set it empty to accept "
            "only the configured names"
        )
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    pairs: list[tuple[str, str]] = []
    for entry in data.get("nlu") or []:
        if not isinstance(entry, dict) or "synonym" not in entry:
            continue
        canonical = str(entry["synonym"])
        for line in str(entry.get("examples") or "").splitlines():
            form = line.strip().removeprefix("-").strip()
            if form:
                pairs.append((form, canonical))
    return tuple(pairs)


class ProvinceNames:
    """The configured provinces and every other name that maps onto one of them."""

    def __init__(self, configured: Iterable[str], names_file: Path | None) -> None:
        self.configured = list(configured)
        self._by_key = {_key(p): p for p in self.configured}
        self.aliases: dict[str, str] = {}
        if names_file is not None:
            for form, canonical in _synonyms(str(names_file)):
                if canonical in self._by_key.values() and _key(form) not in self._by_key:
                    self.aliases[form] = canonical
                    self._by_key.setdefault(_key(form), canonical)

    def canonical(self, name: str) -> str | None:
        """The configured province `name` stands for, or None when it names none."""
        return self._by_key.get(_key(name))

    @property
    def accepted(self) -> list[str]:
        """Every accepted spelling, canonical names first (the schema's enum)."""
        return [*self.configured, *sorted(set(self.aliases) - set(self.configured))]

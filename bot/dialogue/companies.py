"""Look-up of labour-export companies in `nlu_data/licensed_companies.csv`.

People name a company the way they heard it: without diacritics, with or without "cong ty",
"cty", "TNHH", "CP", "XKLD", with a typo or a missing space. Names are compared on a core form
(folded, legal-form words removed) over word windows of the message, so
"cty xkld hoang long co uy tin ko" finds the listed "Cong ty CP XKLD Hoang Long" while "long"
alone does not.

Fuzziness is per syllable, not per character: Vietnamese syllables are short and alike, so a
character ratio scores "hang luong" (in "khach hang luong cao") as close to "hoang long" as a
real typo. A name therefore matches when its syllables are all exact except at most one typo
(rapidfuzz Levenshtein distance 1, same first letter, syllable of 4+ letters), or when it is
the same letters with spaces moved ("hoanglong"). A one-syllable name must match exactly.
The shipped CSV is a fictional sample (see nlu_data/README.md); a province replaces it with the
labour authority's list.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from bot.dialogue.folding import fold

COLUMNS = ("name", "licence_no", "licensed_until", "province", "status")
STATUSES = frozenset({"active", "expired", "suspended", "revoked"})

# Words of legal form and trade that say nothing about which company it is (folded).
# Longest first, so "xuat khau lao dong" goes before "lao dong" could be considered.
LEGAL_FORMS: tuple[str, ...] = (
    "trach nhiem huu han",
    "xuat khau lao dong",
    "mot thanh vien",
    "cong ty",
    "co phan",
    "tap doan",
    "company",
    "group",
    "tnhh",
    "xkld",
    "cty",
    "mtv",
    "jsc",
    "ltd",
    "cp",
)
# A syllable shorter than this must be typed exactly: one edit turns "ha" into "hai" or "hoa".
MIN_TYPO_SYLLABLE = 4
EXACT = 100.0
# Each tolerated typo lowers the score, so an exact name wins over a near one.
TYPO_PENALTY = 10.0


class CompanyRegistryError(ValueError):
    """The company list is missing or malformed; raised at load time."""


@dataclass(frozen=True)
class Company:
    name: str
    licence_no: str
    licensed_until: date | None
    province: str
    status: str  # active | expired | suspended | revoked, as the authority lists it
    core: str  # folded name without legal-form words

    def standing(self, today: date) -> str:
        """What a person needs to know: active, expired, suspended or revoked, as of today."""
        if self.status in {"suspended", "revoked"}:
            return self.status
        if self.status == "expired" or (self.licensed_until and self.licensed_until < today):
            return "expired"
        return "active"


@dataclass(frozen=True)
class CompanyMatch:
    company: Company
    score: float


def core_name(text: str) -> str:
    words = f" {fold(text)} "
    for form in LEGAL_FORMS:
        words = words.replace(f" {form} ", " ")
        # Replacing can join two forms' spaces ("cty xkld"): repeat until nothing changes.
        while f" {form} " in words:
            words = words.replace(f" {form} ", " ")
    return " ".join(words.split())


@dataclass(frozen=True)
class CompanyRegistry:
    companies: tuple[Company, ...]

    @classmethod
    def load(cls, path: Path) -> CompanyRegistry:
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except OSError as exc:
            raise CompanyRegistryError(f"cannot read {path}: {exc}") from exc
        # Lines starting with '#' document the file; csv itself has no comments.
        rows = csv.DictReader(line for line in lines if not line.lstrip().startswith("#"))
        if rows.fieldnames is None or tuple(rows.fieldnames) != COLUMNS:
            raise CompanyRegistryError(f"{path}: header must be {','.join(COLUMNS)}")
        companies = []
        for number, row in enumerate(rows, start=2):
            companies.append(_company(path, number, row))
        return cls(companies=tuple(companies))

    def find(self, text: str) -> CompanyMatch | None:
        """The company best named anywhere in `text`, or None when none is named closely enough."""
        words = core_name(text).split()
        if not words:
            return None
        best: CompanyMatch | None = None
        for company in self.companies:
            score = _best_window_score(company.core.split(), words)
            if score > 0 and (best is None or score > best.score):
                best = CompanyMatch(company=company, score=score)
        return best


def _best_window_score(core: list[str], words: list[str]) -> float:
    best = 0.0
    joined_core = "".join(core)
    # Windows one word shorter or longer catch a missing or an extra space ("hoanglong").
    for n in {max(1, len(core) - 1), len(core), len(core) + 1}:
        for i in range(max(1, len(words) - n + 1)):
            window = words[i : i + n]
            if "".join(window) == joined_core:
                return EXACT
            if len(window) == len(core):
                best = max(best, _syllable_score(core, window))
    return best


def _syllable_score(core: list[str], window: list[str]) -> float:
    typos = 0
    for typed, listed in zip(window, core, strict=True):
        if typed == listed:
            continue
        close = (
            len(listed) >= MIN_TYPO_SYLLABLE
            and typed[:1] == listed[:1]
            and Levenshtein.distance(typed, listed) <= 1
        )
        if not close:
            return 0.0
        typos += 1
    if typos > 1 or (typos and len(core) < 2):
        return 0.0
    return EXACT - TYPO_PENALTY * typos


def _company(path: Path, number: int, row: dict[str, str | None]) -> Company:
    values = {k: (row.get(k) or "").strip() for k in COLUMNS}
    if not values["name"]:
        raise CompanyRegistryError(f"{path}:{number}: empty name")
    status = values["status"].lower()
    if status not in STATUSES:
        raise CompanyRegistryError(
            f"{path}:{number}: status {values['status']!r} is not one of {sorted(STATUSES)}"
        )
    until: date | None = None
    if values["licensed_until"]:
        try:
            until = date.fromisoformat(values["licensed_until"])
        except ValueError as exc:
            raise CompanyRegistryError(
                f"{path}:{number}: licensed_until must be YYYY-MM-DD"
            ) from exc
    core = core_name(values["name"])
    if not core:
        raise CompanyRegistryError(f"{path}:{number}: name has nothing but legal-form words")
    return Company(
        name=values["name"],
        licence_no=values["licence_no"],
        licensed_until=until,
        province=values["province"],
        status=status,
        core=core,
    )

"""Every word a citizen reads, loaded from `nlu_data/responses.yml` and `nlu_data/faq.yml`.

Code names a reply by a dotted key (`rescue.ask_location`) and never holds the Vietnamese text:
provinces change wording, numbers and tone without a release. The loader checks every key the
flows use is present and every placeholder can be filled, so a broken file stops the bot at start
(with the file, key and problem named) instead of failing a person in danger mid-conversation.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.dialogue.faq import FAQ_FILE, Faq
from bot.dialogue.folding import fold

RESPONSES_FILE = "responses.yml"

# Keys the flows render. Kept here, in one list, so the loader can refuse an incomplete file.
REQUIRED_TEXTS: tuple[str, ...] = (
    "staff.reply",
    "media.reply",
    "media.note",
    "rescue.first",
    "rescue.first_no_code",
    "rescue.safety",
    "rescue.ask_location",
    "rescue.ask_location_detail",
    "rescue.ask_location_abroad",
    "rescue.tip_first",
    "rescue.tip_first_no_code",
    "rescue.tip_ask_location",
    "rescue.tip_ask_location_detail",
    "rescue.tip_ask_person",
    "rescue.tip_ask_contact",
    "rescue.ask_companions",
    "rescue.ask_contact",
    "rescue.location_received",
    "rescue.done",
    "tip.intro",
    "tip.ask_what",
    "tip.ask_where",
    "tip.ask_when",
    "tip.ask_when_missing",
    "tip.ask_victim",
    "tip.ask_victim_age",
    "tip.ask_suspect",
    "tip.ask_platform",
    "tip.ask_consent",
    "tip.reask_consent",
    "tip.filed_contact",
    "tip.filed_no_contact",
    "tip.filed_anonymous",
    "support.intro",
    "support.ask_need",
    "support.ask_where",
    "support.ask_contact",
    "support.filed",
    "offer.warning_signs",
    "offer.ask_company",
    "offer.how_to_check",
    "offer.company_active",
    "offer.company_expired",
    "offer.company_suspended",
    "offer.company_revoked",
    "offer.company_not_found",
    "offer.ask_tip",
    "offer.tip_declined",
    "follow_up.ask_code",
    "follow_up.no_code",
    "follow_up.unknown_code",
    "follow_up.unavailable",
    "follow_up.status.new",
    "follow_up.status.acknowledged",
    "follow_up.status.in_progress",
    "follow_up.status.referred",
    "follow_up.status.resolved",
    "follow_up.status.unfounded",
    "follow_up.status.duplicate",
    "follow_up.status_other",
    "follow_up.can_add",
    "ticket.appended",
    "ticket.file_failed",
    "ticket.filed_late",
    "silence.filed",
    "flood.wait",
    "smalltalk.greet",
    "smalltalk.thank",
    "smalltalk.goodbye",
    "smalltalk.yes_no",
    "out_of_scope",
    "low_confidence",
    "location_no_context",
    "phone_no_context",
    "erase.done",
    "error.fallback",
    "quick_replies.skip",
    "quick_replies.message_only",
    "quick_replies.yes",
    "quick_replies.no",
    "quick_replies.consent_yes",
    "quick_replies.anonymous",
)

# Lists of what people type, matched on the folded (diacritic-free, lower-case) text.
REQUIRED_KEYWORDS: tuple[str, ...] = (
    "erase",
    "start",
    "skip",
    "anonymous",
    "message_only",
    "yes",
    "no",
    "support_needs",
    "company_markers",
    "company_name_stops",
    "place_return",
    "home_country",
    "place_origin",
    "marriage_markers",
    "fee_markers",
    "question_markers",
    "third_party",
)

# FAQ topics the flows name besides answering questions (faq.yml).
REQUIRED_FAQ_TOPICS: tuple[str, ...] = ("victim_protection", "fees", "marriage_brokers")

# Placeholders filled by the flows themselves; the rest must be hotline names from configuration.
DYNAMIC_FIELDS: frozenset[str] = frozenset(
    {"code", "place", "name", "licence_no", "licensed_until", "province", "text", "seconds"}
)


class WordingError(ValueError):
    """The wording files are missing, malformed, lack a key or name an unknown placeholder."""


@dataclass(frozen=True)
class Wording:
    texts: Mapping[str, str]  # dotted key -> template
    keyword_lists: Mapping[str, tuple[str, ...]]  # name -> folded phrases
    faq: Faq
    source: str = RESPONSES_FILE

    @classmethod
    def load(cls, data_dir: Path) -> Wording:
        data_dir = Path(data_dir)
        path = data_dir / RESPONSES_FILE
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise WordingError(f"cannot read {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise WordingError(f"{path}: expected a mapping of reply keys")
        keywords_raw = raw.pop("keywords", None)
        texts = dict(_flatten(raw))
        missing = [k for k in REQUIRED_TEXTS if not texts.get(k, "").strip()]
        if missing:
            raise WordingError(f"{path}: missing or empty reply key(s): {', '.join(missing)}")
        if not isinstance(keywords_raw, dict):
            raise WordingError(f"{path}: missing the 'keywords' mapping")
        keyword_lists: dict[str, tuple[str, ...]] = {}
        for name in REQUIRED_KEYWORDS:
            phrases = keywords_raw.get(name)
            folded = tuple(f for f in (fold(str(p)) for p in phrases or []) if f)
            if not folded:
                raise WordingError(f"{path}: missing or empty keyword list 'keywords.{name}'")
            keyword_lists[name] = folded
        faq = Faq.load(data_dir / FAQ_FILE)
        names = {t.name for t in faq.topics}
        absent = [t for t in REQUIRED_FAQ_TOPICS if t not in names]
        if absent:
            raise WordingError(f"{data_dir / FAQ_FILE}: missing topic(s): {', '.join(absent)}")
        return cls(texts=texts, keyword_lists=keyword_lists, faq=faq, source=str(path))

    def text(self, key: str, **fields: Any) -> str:
        """The reply named `key` with its placeholders filled; raises WordingError if it can't."""
        template = self.texts.get(key)
        if template is None:
            raise WordingError(f"{self.source}: no reply key {key!r}")
        return render(template, fields, where=f"{self.source}: {key}")

    def keywords(self, name: str) -> tuple[str, ...]:
        try:
            return self.keyword_lists[name]
        except KeyError:
            raise WordingError(f"{self.source}: no keyword list {name!r}") from None

    def all_templates(self) -> dict[str, str]:
        """Every template a citizen may read, replies and FAQ answers (for checks and tests)."""
        out = dict(self.texts)
        out.update({f"faq.{t.name}": t.answer for t in self.faq.topics})
        return out

    def check_fields(self, available: Iterable[str]) -> None:
        """Refuses templates naming a placeholder nobody fills (a typo, an unconfigured hotline)."""
        known = set(available) | DYNAMIC_FIELDS
        problems = []
        for key, template in self.all_templates().items():
            for field_name in placeholders(template):
                if field_name not in known:
                    problems.append(f"{key}: {{{field_name}}}")
        if problems:
            raise WordingError(
                f"{self.source}: unknown placeholder(s) {', '.join(problems)}; "
                f"known: {', '.join(sorted(known))}"
            )


def placeholders(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def render(template: str, fields: Mapping[str, Any], *, where: str) -> str:
    try:
        return template.format_map(dict(fields)).strip()
    except (KeyError, IndexError, ValueError) as exc:
        raise WordingError(f"{where}: cannot fill placeholder {exc}") from exc


def _flatten(node: Mapping[Any, Any], prefix: str = "") -> Iterable[tuple[str, str]]:
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, dotted + ".")
        elif isinstance(value, str):
            yield dotted, value.strip()

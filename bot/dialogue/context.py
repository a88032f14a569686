"""What a flow handler works with: the conversation, the message and the bot's services."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.dialogue.companies import CompanyRegistry
from bot.dialogue.folding import fold
from bot.dialogue.message import Incoming
from bot.dialogue.replies import BotReply
from bot.dialogue.state import Conversation
from bot.dialogue.wording import Wording
from bot.intake.port import IntakePort

TriageFn = Callable[[dict[str, Any], Sequence[dict[str, Any]]], dict[str, Any]]


@dataclass(frozen=True)
class Services:
    wording: Wording
    companies: CompanyRegistry
    intake: IntakePort
    hotlines: Mapping[str, str]
    low_confidence_threshold: float
    clock: Callable[[], datetime]


@dataclass
class Context:
    conv: Conversation
    msg: Incoming
    services: Services
    # Triage of the whole conversation including this message; None when triage failed.
    triage: dict[str, Any] | None
    # Triage of the parses from sequence number `seq` on: a flow's own ticket (a support request
    # after a police report) is triaged on what was said for it, not on the whole conversation.
    triage_from: Callable[[int], dict[str, Any] | None] = lambda seq: None

    def say(self, key: str, quick: Sequence[str] = (), **fields: Any) -> BotReply:
        """The reply `key` from the wording file; `quick` names quick_replies.* labels."""
        wording = self.services.wording
        text = wording.text(key, **{**self.services.hotlines, **fields})
        labels = tuple(wording.text(f"quick_replies.{q}") for q in quick)
        return BotReply(text=text, quick_replies=labels)

    def keywords(self, name: str) -> tuple[str, ...]:
        return self.services.wording.keywords(name)

    def button(self, name: str) -> str:
        """The folded label of quick reply `name`, to recognise a pressed button."""
        return fold(self.services.wording.text(f"quick_replies.{name}"))

    def pressed(self, *names: str) -> bool:
        return self.msg.says(tuple(self.button(n) for n in names))

    @property
    def own_phone(self) -> str | None:
        """The person's own number as far as known without asking: the one the platform
        vouches for (an SMS, a shared contact), else one they left earlier as theirs."""
        return self.msg.message.phone or self.conv.contact_phone

    @property
    def skipped(self) -> bool:
        """The person declined the question (`bo qua` with or without
        diacritics, `skip`, or the Skip button)."""
        return self.msg.says(self.keywords("skip")) or self.pressed("skip")

    @property
    def is_yes(self) -> bool:
        if self.msg.says(self.keywords("yes")) or self.pressed("yes", "consent_yes"):
            return True
        return self.msg.intent == "affirm" and not self.is_no_by_words

    @property
    def is_no(self) -> bool:
        return self.is_no_by_words or self.msg.intent == "deny"

    @property
    def is_no_by_words(self) -> bool:
        return self.msg.says(self.keywords("no")) or self.pressed("no")

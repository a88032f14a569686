"""Test doubles for the dialogue: a scripted NLU, a simple triage, a recording intake port,
and a harness that plays a conversation and checks every reply comes from the wording file."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.contract import InboundMessage
from bot.dialogue.companies import CompanyRegistry
from bot.dialogue.engine import Dialogue, Turn
from bot.dialogue.wording import Wording
from bot.intake.port import IntakeUnavailable, TicketDraft, TicketStatus, TicketUpdate

REPO = Path(__file__).resolve().parents[3]
NLU_DATA = REPO / "nlu_data"
HOTLINES = {"trafficking_24_7": "111", "police_emergency": "113"}


def ent(name: str, value: str, surface: str | None = None) -> tuple[str, str, str | None]:
    return (name, value, surface)


def make_parse(
    text: str,
    intent: str,
    confidence: float = 0.95,
    entities: Sequence[tuple[str, str, str | None]] = (),
) -> dict[str, Any]:
    """A parse in the shape of docs/nlu.md (Rasa's /model/parse)."""
    found = []
    for name, value, surface in entities:
        surface = surface or value
        start = text.find(surface)
        found.append(
            {
                "entity": name,
                "value": value,
                "start": max(start, 0),
                "end": max(start, 0) + len(surface),
                "text": surface,
                "extractor": "scripted",
            }
        )
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}],
        "entities": found,
    }


class ScriptedNLU:
    """Text -> parse from a script; anything unscripted is an unsure out_of_scope."""

    def __init__(self) -> None:
        self.script: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.fail = False

    def add(self, text: str, intent: str, confidence: float = 0.95, *entities: Any) -> None:
        self.script[text] = make_parse(text, intent, confidence, entities)

    def parse(self, text: str) -> dict[str, Any]:
        self.calls.append(text)
        if self.fail:
            raise RuntimeError("nlu down")
        return json.loads(
            json.dumps(self.script.get(text) or make_parse(text, "out_of_scope", 0.3))
        )


SEVERITY = [
    "request_rescue",
    "report_trafficking",
    "report_missing",
    "request_support",
    "check_offer",
    "follow_up",
    "ask_info",
    "ask_hotline",
    "out_of_scope",
    "deny",
    "affirm",
    "greet",
    "thank",
    "goodbye",
]
ROUTING = {
    "request_rescue": ["dolisa", "police"],
    "report_trafficking": ["police"],
    "report_missing": ["police"],
    "request_support": ["dolisa"],
    "check_offer": ["dolisa"],
}


class SimpleTriage:
    """docs/nlu.md's rules in miniature: P1 for a rescue or a scripted danger text, category the
    most serious intent, routing by category. Records what it was asked."""

    def __init__(self) -> None:
        self.danger_texts: set[str] = set()
        self.calls: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        self.fail = False

    def __call__(self, parse: dict[str, Any], history: Sequence[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append((parse, list(history)))
        if self.fail:
            raise RuntimeError("triage down")
        parses = [*history, parse]
        intents = [p["intent"]["name"] for p in parses]
        category = min(intents, key=lambda n: SEVERITY.index(n) if n in SEVERITY else 99)
        danger = any(p.get("text") in self.danger_texts for p in parses)
        if "request_rescue" in intents or danger:
            priority = "P1"
        elif category in {"report_trafficking", "report_missing"}:
            priority = "P2"
        else:
            priority = "P3"
        agencies = list(ROUTING.get(category, []))
        if priority == "P1" and "police" not in agencies:
            agencies = sorted([*agencies, "police"])
        return {
            "priority": priority,
            "category": category,
            "agencies": agencies,
            "reasons": ["scripted"],
        }


@dataclass
class RecordingIntake:
    submitted: list[tuple[str, TicketDraft]] = field(default_factory=list)
    updates: list[tuple[str, TicketUpdate]] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)
    down: bool = False
    fail_submits: int = 0
    fail_updates: int = 0

    def submit_ticket(self, draft: TicketDraft) -> str:
        if self.fail_submits:
            self.fail_submits -= 1
            raise OSError("outbox database locked")
        code = f"TIP-{'23456789ABCDEFGH'[len(self.submitted) % 16]}7K3Q"
        self.submitted.append((code, draft))
        self.statuses.setdefault(code, "new")
        return code

    def update_ticket(self, reference_code: str, update: TicketUpdate) -> None:
        if self.fail_updates:
            self.fail_updates -= 1
            raise OSError("outbox database locked")
        self.updates.append((reference_code, update))

    def lookup_status(self, reference_code: str) -> TicketStatus | None:
        self.lookups.append(reference_code)
        if self.down:
            raise IntakeUnavailable("api down")
        status = self.statuses.get(reference_code)
        if status is None:
            return None
        return TicketStatus(reference_code, status, "2025-07-01T10:00:00+07:00")

    def updates_for(self, code: str) -> list[TicketUpdate]:
        return [u for c, u in self.updates if c == code]


def template_patterns(wording: Wording) -> list[re.Pattern[str]]:
    """Each template as a regex: literal text, placeholders match anything."""
    patterns = []
    for template in wording.all_templates().values():
        parts = re.split(r"\{[a-z_0-9]+\}", template.strip())
        patterns.append(re.compile(".+?".join(re.escape(p) for p in parts) + r"\Z", re.S))
    return patterns


class Harness:
    """One conversation: sends messages, keeps the state like the lead's storage would."""

    def __init__(self, *, intake: Any = None, clock_start: datetime | None = None) -> None:
        self.nlu = ScriptedNLU()
        self.triage = SimpleTriage()
        self.intake = intake or RecordingIntake()
        self.wording = Wording.load(NLU_DATA)
        self.companies = CompanyRegistry.load(NLU_DATA / "licensed_companies.csv")
        self.now = clock_start or datetime(2025, 9, 1, 8, 0, tzinfo=UTC)
        self.dialogue = Dialogue(
            nlu=self.nlu,
            intake=self.intake,
            wording=self.wording,
            companies=self.companies,
            hotlines=HOTLINES,
            low_confidence_threshold=0.45,
            triage=self.triage,
            clock=lambda: self.now,
        )
        self.state: dict[str, Any] = {}
        self.turns: list[Turn] = []
        self._patterns = template_patterns(self.wording)
        self._n = 0
        self.channel = "telegram"
        self.sender_id = "chat-42"

    def send(
        self,
        text: str | None,
        *,
        location: tuple[float, float] | None = None,
        phone: str | None = None,
        attachment: str | None = None,
    ) -> Turn:
        self._n += 1
        self.now += timedelta(seconds=30)
        message = InboundMessage(
            channel=self.channel,
            sender_id=self.sender_id,
            message_id=f"m{self._n}",
            text=text,
            location=location,
            phone=phone,
            attachment=attachment,
            received_at=self.now,
        )
        turn = self.dialogue.respond(self.state, message, "conv-1")
        # The state must survive storage as JSON, exactly.
        assert json.loads(json.dumps(turn.state)) == turn.state
        assert turn.replies, "every message gets an answer"
        for reply in turn.replies:
            assert any(p.match(reply.text) for p in self._patterns), (
                f"reply not from the wording file: {reply.text!r}"
            )
        self.state = turn.state
        self.turns.append(turn)
        return turn

    def texts(self, turn: Turn | None = None) -> list[str]:
        return [r.text for r in (turn or self.turns[-1]).replies]

    def joined(self, turn: Turn | None = None) -> str:
        return "\n".join(self.texts(turn))

    def says(self, key: str, **fields: Any) -> str:
        return self.wording.text(key, **{**HOTLINES, **fields})

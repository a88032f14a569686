"""A conversation's state: what the bot is waiting for and what it has learnt, as plain JSON.

State lives in storage, not in the process (any bot process may handle the next message), so it
is a dict the caller stores (encrypted) and hands back with the next message. `Conversation`
reads it tolerantly: a state from an older version or a damaged one never stops a message from
being answered; the worst case is a fresh conversation that still keeps its ticket's code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STATE_VERSION = 1

# Flows: the conversation is in at most one at a time.
IDLE = "idle"
RESCUE = "rescue"
TIP = "tip"
SUPPORT = "support"
OFFER = "offer"
FOLLOW_UP = "follow_up"
FLOWS = frozenset({IDLE, RESCUE, TIP, SUPPORT, OFFER, FOLLOW_UP})

# Bounds keep a stored state small even for a very long conversation. The oldest lines go first;
# the ticket, once filed, already holds them.
MAX_TRANSCRIPT_LINES = 300
MAX_PARSES = 100
MAX_PENDING_UPDATES = 50
# Ranking entries kept per parse: triage reads the request_rescue confidence from them.
RANKING_KEPT = 5


@dataclass
class Conversation:
    flow: str = IDLE
    # The question waiting for its answer, a step name of the current flow; None when idle.
    step: str | None = None
    # The current flow's own notes (answers, flags), reset when a flow starts.
    slots: dict[str, Any] = field(default_factory=dict)
    # Sequence number of the first parse of the current flow (entities are read from there on).
    flow_start: int = 0
    # The ticket this conversation filed, and its priority as the bot last set it.
    ticket: str | None = None
    ticket_priority: str | None = None
    # The rescue behaviour (emergency numbers, P1 ticket) has been given in this conversation.
    escalated: bool = False
    # Rescue questions already answered or skipped, so they are never asked twice.
    rescue_answered: list[str] = field(default_factory=list)
    # A follow-up's ticket (by code): further messages are appended to it until something new.
    attached: str | None = None
    # The last location the person shared, (latitude, longitude).
    location: list[float] | None = None
    # A number the person left as their own outside any question ("sdt cua em la 09..."): the
    # contact of the request they make next.
    contact_phone: str | None = None
    transcript: list[dict[str, str]] = field(default_factory=list)
    parses: list[dict[str, Any]] = field(default_factory=list)
    next_seq: int = 0
    # Ticket updates the intake port refused for now, retried with the next message.
    pending_updates: list[dict[str, Any]] = field(default_factory=list)
    # A filing that failed (kind and flags), retried with the next message.
    unfiled: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, raw: Any) -> Conversation:
        if not isinstance(raw, dict) or raw.get("v") != STATE_VERSION:
            return cls(ticket=_code_or_none(raw.get("ticket")) if isinstance(raw, dict) else None)
        conv = cls()
        for name, default in asdict(conv).items():
            value = raw.get(name, default)
            expected = _OPTIONAL_TYPES.get(name, type(default))
            # A value of the wrong type keeps the default rather than failing the message.
            if isinstance(value, expected) or (value is None and name in _OPTIONAL_TYPES):
                setattr(conv, name, value)
        if conv.flow not in FLOWS:
            conv.flow, conv.step = IDLE, None
        return conv

    def to_dict(self) -> dict[str, Any]:
        return {"v": STATE_VERSION, **asdict(self)}

    # --- flows -----------------------------------------------------------------------------

    def start_flow(self, flow: str, step: str | None = None, since: int | None = None) -> None:
        """Enters `flow`; its entities are read from parse `since` (default: this message) on."""
        self.flow, self.step, self.slots = flow, step, {}
        self.flow_start = self.next_seq - 1 if since is None else since
        self.attached = None

    def end_flow(self) -> None:
        self.flow, self.step, self.slots = IDLE, None, {}

    # --- history ---------------------------------------------------------------------------

    def record_in(
        self, text: str, at: str, parse: dict[str, Any], answer_intent: str | None = None
    ) -> None:
        """Keeps the message and its parse. `answer_intent`: the message answers an open
        question, so for triage it counts as part of that request (see routing.answer_intent);
        the NLU's own intent is kept as `nlu_intent`. A rescue request is never relabelled."""
        if text:
            self.transcript.append({"direction": "in", "text": text, "at": at})
        compact = _compact(parse, self.next_seq)
        own = compact["intent"]["name"]
        if answer_intent and own != "request_rescue":
            compact["nlu_intent"] = own
            compact["answer_to"] = self.step
            compact["intent"]["name"] = answer_intent
        self.parses.append(compact)
        self.next_seq += 1
        del self.transcript[:-MAX_TRANSCRIPT_LINES]
        del self.parses[:-MAX_PARSES]

    def record_out(self, texts: list[str], at: str) -> None:
        for text in texts:
            self.transcript.append({"direction": "out", "text": text, "at": at})
        del self.transcript[:-MAX_TRANSCRIPT_LINES]

    def history(self, since: int = 0) -> list[dict[str, Any]]:
        """Earlier parses from sequence number `since` on, oldest first, without the current
        one (triage's `history`)."""
        return [_public(p) for p in self.parses[:-1] if int(p.get("n", -1)) >= since]

    def current_parse(self) -> dict[str, Any]:
        return _public(self.parses[-1]) if self.parses else {}

    def parses_since(self, seq: int) -> list[dict[str, Any]]:
        return [_public(p) for p in self.parses if int(p.get("n", -1)) >= seq]

    def entities_since(self, seq: int) -> dict[str, str]:
        """The latest value of each entity found from parse `seq` on."""
        found: dict[str, str] = {}
        for parse in self.parses_since(seq):
            for entity in parse.get("entities") or []:
                name, value = entity.get("entity"), entity.get("value")
                if name and value is not None and str(value).strip():
                    found[str(name)] = str(value)
        return found

    def queue_update(self, code: str, update: dict[str, Any]) -> None:
        self.pending_updates.append({"code": code, "update": update})
        del self.pending_updates[:-MAX_PENDING_UPDATES]


_OPTIONAL_TYPES: dict[str, type] = {
    "step": str,
    "ticket": str,
    "ticket_priority": str,
    "attached": str,
    "location": list,
    "contact_phone": str,
    "unfiled": dict,
}


def _compact(parse: dict[str, Any], seq: int) -> dict[str, Any]:
    """What triage and ticket drafts need from a parse, in JSON types only."""
    intent = parse.get("intent") if isinstance(parse.get("intent"), dict) else {}
    ranking = [
        {"name": str(r.get("name")), "confidence": _float(r.get("confidence"))}
        for r in (parse.get("intent_ranking") or [])[:RANKING_KEPT]
        if isinstance(r, dict)
    ]
    entities = [
        {k: e[k] for k in ("entity", "value", "start", "end", "text", "extractor") if k in e}
        for e in parse.get("entities") or []
        if isinstance(e, dict)
    ]
    return {
        "n": seq,
        "text": str(parse.get("text") or ""),
        "intent": {
            "name": str(intent.get("name") or "out_of_scope"),
            "confidence": _float(intent.get("confidence")),
        },
        "intent_ranking": ranking,
        "entities": _jsonable(entities),
    }


def _public(parse: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in parse.items() if k != "n"}


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _code_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

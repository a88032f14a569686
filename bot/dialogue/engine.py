"""The conversation engine: one inbound message and the stored state in, replies and state out.

`Dialogue.respond` parses the text itself, keeps the transcript (both directions, ISO times) and
the parses (triage's history) in the state, and never raises: whatever goes wrong inside, the
person still gets an answer with the hotline numbers, because a message from someone in danger
must never go unanswered. Nothing here logs message text or personal data: only event names,
intents, flows and exception types.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from bot.contract import InboundMessage
from bot.dialogue import silence
from bot.dialogue.companies import CompanyRegistry
from bot.dialogue.context import Context, Services, TriageFn
from bot.dialogue.message import Incoming
from bot.dialogue.replies import BotReply, Turn
from bot.dialogue.routing import answer_intent, route
from bot.dialogue.state import Conversation
from bot.dialogue.wording import Wording
from bot.intake.port import IntakePort
from bot.nlu.backend import NLUBackend
from intake_api.metrics import NLU_SECONDS, TRIAGE_SECONDS

__all__ = ["BotReply", "Dialogue", "Turn"]

log = logging.getLogger(__name__)


def _empty_parse(text: str) -> dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": "out_of_scope", "confidence": 0.0},
        "intent_ranking": [],
        "entities": [],
    }


class Dialogue:
    def __init__(
        self,
        nlu: NLUBackend,
        intake: IntakePort,
        wording: Wording,
        companies: CompanyRegistry,
        hotlines: Mapping[str, str],
        low_confidence_threshold: float = 0.45,
        triage: TriageFn | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if triage is None:
            from bot.triage import triage as default_triage

            triage = default_triage
        self._nlu = nlu
        self._triage = triage
        # Fail at start-up, not in front of a person in danger: every placeholder must be
        # fillable, and the fallback answer must render.
        wording.check_fields(hotlines.keys())
        self._services = Services(
            wording=wording,
            companies=companies,
            intake=intake,
            hotlines=dict(hotlines),
            low_confidence_threshold=low_confidence_threshold,
            clock=clock or (lambda: datetime.now(UTC)),
        )
        self._fallback = BotReply(wording.text("error.fallback", **hotlines))
        self._erase_words = wording.keywords("erase")

    def respond(self, state: dict[str, Any], message: InboundMessage, conversation_id: str) -> Turn:
        try:
            return self._respond(state, message, conversation_id)
        except Exception as exc:
            log.error("dialogue.failed error=%s", type(exc).__name__)
            return self._fallback_turn(state, message)

    def _respond(
        self, state: dict[str, Any], message: InboundMessage, conversation_id: str
    ) -> Turn:
        msg = Incoming.of(message, conversation_id, _empty_parse(""))
        if msg.says(self._erase_words):
            # Nothing of the conversation survives, and the reply names none of it.
            log.info("dialogue.erase")
            erased = self._services.wording.text("erase.done", **self._services.hotlines)
            return Turn(replies=[BotReply(erased)], state={}, erase=True)
        conv = Conversation.from_dict(state)
        note = self._services.wording.text("media.note") if message.attachment else ""
        msg = Incoming.of(message, conversation_id, self._parse(msg.text), media_note=note)
        conv.record_in(msg.record_text, _iso(message.received_at), msg.parse, answer_intent(conv))
        ctx = Context(
            conv=conv,
            msg=msg,
            services=self._services,
            triage=self._triage_of(conv),
            triage_from=lambda seq: self._triage_of(conv, since=seq),
        )
        replies = route(ctx) or [self._fallback]
        conv.record_out([r.text for r in replies], _iso(self._services.clock()))
        # Debug: a line per message at info took 0.6% of the service's CPU under load; what an
        # operator needs per message is in the access log and /metrics.
        log.debug("dialogue.turn intent=%s flow=%s step=%s", msg.intent, conv.flow, conv.step)
        return Turn(replies=replies, state=conv.to_dict())

    def waits_for_filing(self, state: dict[str, Any]) -> bool:
        """Whether the conversation holds an unfinished report that silence would file."""
        try:
            return silence.waits_for_filing(Conversation.from_dict(state))
        except Exception:
            return False

    def on_silence(
        self, state: dict[str, Any], conversation_id: str, channel: str, sender_id: str
    ) -> Turn | None:
        """Files the unfinished report of a silent conversation (None: nothing to file)."""
        conv = Conversation.from_dict(state)
        if not silence.waits_for_filing(conv):
            return None
        # A stable id: if the process dies before the turn is saved, the next try files the
        # same ticket under the same idempotency key.
        message = InboundMessage(channel, sender_id, f"silence-{conv.flow_start}")
        ctx = Context(
            conv=conv,
            msg=Incoming.of(message, conversation_id, _empty_parse("")),
            services=self._services,
            triage=self._triage_of(conv),
            triage_from=lambda seq: self._triage_of(conv, since=seq),
        )
        replies = silence.file_unfinished(ctx)
        conv.record_out([r.text for r in replies], _iso(self._services.clock()))
        log.info("dialogue.filed_on_silence flow_start=%s", conv.flow_start)
        return Turn(replies=replies, state=conv.to_dict())

    def _parse(self, text: str) -> dict[str, Any]:
        if not text.strip():
            return _empty_parse(text)
        try:
            with NLU_SECONDS.time():
                parse = self._nlu.parse(text)
        except Exception as exc:
            # Triage still reads the text for danger words, so the message is not lost.
            log.error("dialogue.nlu_failed error=%s", type(exc).__name__)
            return _empty_parse(text)
        if not isinstance(parse, dict):
            return _empty_parse(text)
        return {**parse, "text": text}

    def _triage_of(self, conv: Conversation, since: int = 0) -> dict[str, Any] | None:
        try:
            with TRIAGE_SECONDS.time():
                result = self._triage(conv.current_parse(), conv.history(since))
        except Exception as exc:
            log.error("dialogue.triage_failed error=%s", type(exc).__name__)
            return None
        return result if isinstance(result, dict) else None

    def _fallback_turn(self, state: Any, message: InboundMessage) -> Turn:
        """The hotline answer, keeping what the state knew plus this message in the transcript."""
        try:
            conv = Conversation.from_dict(state)
            conv.end_flow()  # a state that made a flow fail must not make the next one fail
            msg = Incoming.of(message, "", _empty_parse(""))
            conv.record_in(msg.record_text, _iso(message.received_at), _empty_parse(msg.text))
            conv.record_out([self._fallback.text], _iso(datetime.now(UTC)))
            new_state = conv.to_dict()
        except Exception:
            new_state = state if isinstance(state, dict) else {}
        return Turn(replies=[self._fallback], state=new_state)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()

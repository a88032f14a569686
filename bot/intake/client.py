"""The conversation engine's way to the intake API (the IntakePort): file, append, look up.

Filing draws the reference code here, writes the ticket to the outbox and tries to deliver it
at once; the reporter gets the code either way, and the outbox finishes the job later if the
API is down.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.intake.outbox import Outbox
from bot.intake.port import IntakeUnavailable, TicketDraft, TicketStatus, TicketUpdate
from bot.intake.transport import IntakeTransport, Rejected, Unavailable
from bot.models import OutboxItem
from intake_api.crypto import get_cipher
from intake_api.refcodes import new_reference_code, normalize_reference_code


def sender_ref(reference_code: str, conversation_id: str) -> str:
    """Who writes to a ticket, as the API sees it: a keyed hash of the conversation, bound to
    the ticket. Equal for the reporter's own messages, different for anyone else who knows the
    code (docs/api.md, Roles); it names nobody, and one person's refs on two tickets do not
    match, so the API cannot link an anonymous reporter's tickets by it."""
    code = normalize_reference_code(reference_code) or reference_code
    return get_cipher().blind_index("sender", code, conversation_id)


def intake_body(draft: TicketDraft, reference_code: str) -> dict[str, Any]:
    """The docs/api.md intake body for a draft."""
    consent = draft.consent_to_contact and not draft.anonymous
    return {
        "channel": draft.channel,
        "reporter": {
            # For an anonymous reporter even the channel address stays with the bot (on SMS it
            # is the phone number); staff replies still reach them through conversation_id.
            "channel_user_id": None if draft.anonymous else draft.sender_id,
            # An anonymous reporter's number is not sent at all, not merely hidden.
            "phone": draft.phone if consent else None,
            "name": draft.name if consent else None,
            "anonymous": draft.anonymous,
            "consent_to_contact": consent,
            "sender_ref": sender_ref(reference_code, draft.conversation_id),
        },
        "transcript": [asdict(line) for line in draft.transcript][-200:],
        "nlu": _within_api_bounds(draft.nlu),
        "triage": {
            "priority": draft.triage["priority"],
            "category": draft.triage["category"],
            "agencies": sorted(draft.triage["agencies"]),
            "reasons": list(draft.triage.get("reasons", []))[:20],
        },
        "province": draft.province,
        "country": draft.country,
        "conversation_id": draft.conversation_id,
        "reference_code": reference_code,
        "location": (
            {"lat": draft.location[0], "lon": draft.location[1]} if draft.location else None
        ),
    }


# The API keeps an NLU result's strings to this many characters (intake_api.schemas); the
# message itself reaches the ticket whole, cut into transcript lines.
NLU_TEXT_MAX = 4000


def _within_api_bounds(parse: dict[str, Any] | None) -> dict[str, Any] | None:
    if not parse:
        return parse
    text = parse.get("text")
    if isinstance(text, str) and len(text) > NLU_TEXT_MAX:
        return {**parse, "text": text[:NLU_TEXT_MAX]}
    return parse


def append_body(update: TicketUpdate, reference_code: str) -> dict[str, Any]:
    body: dict[str, Any] = {"text": update.text, "message_id": update.message_id}
    if update.conversation_id:
        body["sender_ref"] = sender_ref(reference_code, update.conversation_id)
    for name in ("province", "country", "phone", "priority"):
        value = getattr(update, name)
        if value is not None:
            body[name] = value
    location = update.extra.get("location")
    if isinstance(location, dict) and {"lat", "lon"} <= set(location):
        body["location"] = {"lat": location["lat"], "lon": location["lon"]}
    return body


# The intake items a turn files, written with the turn's own transaction (see `turn`).
_turn_items: ContextVar[list[OutboxItem] | None] = ContextVar("turn_items", default=None)


class IntakeClient:
    def __init__(self, engine: Engine, transport: IntakeTransport, outbox: Outbox) -> None:
        self._engine = engine
        self._transport = transport
        self.outbox = outbox

    @contextmanager
    def turn(self) -> Iterator[list[OutboxItem]]:
        """Collects what the conversation files during one turn instead of committing it: the
        message service writes the items in the same transaction as the conversation's new
        state and replies, then delivers them. Nothing filed can be lost between the two."""
        items: list[OutboxItem] = []
        token = _turn_items.set(items)
        try:
            yield items
        finally:
            _turn_items.reset(token)

    def _queue(self, kind: str, code: str, key: str, payload: dict[str, Any]) -> None:
        item = OutboxItem(kind=kind, reference_code=code, idempotency_key=key, payload=payload)
        collected = _turn_items.get()
        if collected is not None:
            collected.append(item)
            return
        with Session(self._engine) as session:
            session.add(item)
            session.commit()
        self.outbox.deliver_pending(reference_code=code)

    def submit_ticket(self, draft: TicketDraft) -> str:
        if draft.source_message_id:
            source = f"{draft.conversation_id}:{draft.source_message_id}"
            key = "bot:" + hashlib.sha256(source.encode()).hexdigest()[:48]
            filed = self._filed_with(key)
            if filed is not None:
                # The same message processed again (a crash before its answer was saved).
                return filed
        code = new_reference_code()
        if not draft.source_message_id:
            key = f"bot:{draft.conversation_id}:{code}"
        self._queue("create", code, key, intake_body(draft, code))
        return code

    def _filed_with(self, key: str) -> str | None:
        for item in _turn_items.get() or []:
            if item.idempotency_key == key:
                return item.reference_code
        with Session(self._engine) as session:
            item = session.exec(select(OutboxItem).where(OutboxItem.idempotency_key == key)).first()
            return item.reference_code if item is not None else None

    def update_ticket(self, reference_code: str, update: TicketUpdate) -> None:
        key = f"bot:append:{reference_code}:{update.message_id}"[:100]
        if self._filed_with(key) is not None:
            return  # the same platform message already queued (a retried webhook)
        self._queue("append", reference_code, key, append_body(update, reference_code))

    def record_call(self, reference_code: str, body: dict[str, Any]) -> None:
        """Durably adds what a phone call left on a ticket (a leg's outcome, a recording, a
        call-back owed; docs/api.md, Calls), after the ticket itself; `body["key"]` makes it
        idempotent here and at the API."""
        key = f"bot:call:{reference_code}:{body['key']}"[:100]
        if self._filed_with(key) is not None:
            return
        self._queue("call", reference_code, key, body)

    def lookup_status(self, reference_code: str) -> TicketStatus | None:
        waiting = self._waiting_create(reference_code)
        if waiting is not None:
            # Filed here but not yet at the API (it was down): for the reporter it is received.
            return waiting
        try:
            found = self._transport.status(reference_code)
        except Unavailable as exc:
            raise IntakeUnavailable(str(exc)) from exc
        except Rejected as exc:
            if exc.status == 404:
                return None
            raise IntakeUnavailable(str(exc)) from exc
        if found is None:
            return None
        return TicketStatus(
            reference_code=found["reference_code"],
            status=found["status"],
            updated_at=found["updated_at"],
        )

    def _waiting_create(self, reference_code: str) -> TicketStatus | None:
        with Session(self._engine) as session:
            item = session.exec(
                select(OutboxItem).where(
                    OutboxItem.reference_code == reference_code,
                    OutboxItem.kind == "create",
                    OutboxItem.state == "pending",
                )
            ).first()
        if item is None:
            return None
        return TicketStatus(
            reference_code=reference_code, status="new", updated_at=item.created_at.isoformat()
        )

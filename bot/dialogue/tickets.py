"""Filing, appending to and retrying tickets through the IntakePort.

The port promises durability, but a failure here must never cost a report: a filing that raises
is remembered in the state and retried with the next message (the reply says so and gives the
hotline), and an update that raises is queued in the state and retried the same way.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from bot.dialogue.context import Context
from bot.dialogue.replies import BotReply
from bot.intake.port import TicketDraft, TicketUpdate, TranscriptLine
from bot.triage import routed
from intake_api.rules.priority import is_priority, raises

log = logging.getLogger(__name__)

# Intake API limits (docs/api.md; intake_api/schemas.py): 4000 characters a line, 200 lines
# a ticket.
MAX_LINE_CHARS = 4000
MAX_DRAFT_LINES = 200

# Kinds of filing, with the priority and category a ticket falls back to when triage failed or
# routed nowhere (the intake API refuses a ticket without an agency, and a refused ticket is a
# lost report); the agencies then come from triage's own routing table.
RESCUE = "rescue"
TIP = "tip"
SUPPORT = "support"
_FALLBACK: dict[str, tuple[str, str]] = {
    RESCUE: ("P1", "request_rescue"),
    TIP: ("P2", "report_trafficking"),
    SUPPORT: ("P3", "request_support"),
}


def ticket_triage(ctx: Context, kind: str, since: int = 0) -> dict[str, Any]:
    """The triage of what was said from parse `since` on, for a ticket of `kind`; never
    without priority or agency."""
    found = ctx.triage if since == 0 else ctx.triage_from(since) or ctx.triage
    if not found or not found.get("agencies") or not is_priority(found.get("priority")):
        reason = "triage unavailable" if not found else "triage gave no agency"
        log.warning("dialogue.triage_fallback kind=%s reason=%s", kind, reason)
        priority, category = _FALLBACK[kind]
        fallback = routed(category, priority)
        return {**fallback, "reasons": [*(found or {}).get("reasons", []), reason]}
    result = dict(found)
    result["agencies"] = list(result["agencies"])
    if kind == RESCUE:
        # The bot is answering with the rescue behaviour: the ticket is danger-now, whatever
        # the category (a child missing, a tip that turned urgent).
        result["priority"] = "P1"
    return result


def file_ticket(
    ctx: Context,
    kind: str,
    *,
    since: int = 0,
    anonymous: bool = False,
    consent: bool = False,
    phone: str | None = None,
    extra_reasons: tuple[str, ...] | list[str] = (),
) -> str | None:
    """Files the conversation as one ticket; returns its code, or None (retried later).
    `extra_reasons` join triage's reasons, which staff read on the ticket."""
    conv = ctx.conv
    triage = ticket_triage(ctx, kind, since)
    if extra_reasons:
        triage = {**triage, "reasons": [*triage.get("reasons", []), *extra_reasons]}
    entities = conv.entities_since(since)
    draft = TicketDraft(
        channel=ctx.msg.message.channel,
        sender_id=ctx.msg.message.sender_id,
        conversation_id=ctx.msg.conversation_id,
        transcript=_transcript(conv.transcript),
        nlu=_deciding_parse(ctx, str(triage.get("category")), since),
        triage=triage,
        province=entities.get("province"),
        country=entities.get("country"),
        phone=None if anonymous else phone,
        anonymous=anonymous,
        consent_to_contact=consent and not anonymous,
        source_message_id=ctx.msg.message.message_id,
        location=_location(conv.location),
    )
    try:
        code = ctx.services.intake.submit_ticket(draft)
    except Exception as exc:  # any failure: remember and retry, never lose the report
        log.error("dialogue.submit_failed kind=%s error=%s", kind, type(exc).__name__)
        conv.unfiled = {
            "kind": kind,
            "since": since,
            "anonymous": anonymous,
            "consent": consent,
            "phone": None if anonymous else phone,
        }
        return None
    conv.ticket, conv.ticket_priority, conv.unfiled = code, str(triage["priority"]), None
    log.info("dialogue.ticket_filed kind=%s priority=%s", kind, triage["priority"])
    return code


def append_message(
    ctx: Context,
    code: str | None,
    *,
    province: str | None = None,
    country: str | None = None,
    phone: str | None = None,
    priority: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Appends this message (and any detail it adds) to ticket `code`."""
    text = ctx.msg.record_text
    if not code or not text:
        return
    extra = dict(extra or {})
    if ctx.msg.location is not None:
        lat, lon = ctx.msg.location
        extra["location"] = {"lat": lat, "lon": lon}
    priority = _raised(ctx, priority)
    chunks = _chunks(text)
    for i, chunk in enumerate(chunks):
        # Each chunk needs its own id: the intake client de-duplicates on the message id.
        message_id = ctx.msg.message.message_id if i == 0 else f"{ctx.msg.message.message_id}:{i}"
        first = i == 0
        update = TicketUpdate(
            text=chunk,
            message_id=message_id,
            province=province if first else None,
            country=country if first else None,
            phone=phone if first else None,
            priority=priority if first else None,
            extra=extra if first else {},
            # Who writes, for the API to tell the reporter from another sender who knows the code.
            conversation_id=ctx.msg.conversation_id,
        )
        _send_update(ctx, code, update)


def retry_pending(ctx: Context) -> list[BotReply]:
    """Retries a failed filing and queued updates; a late filing tells the person its code."""
    conv = ctx.conv
    replies: list[BotReply] = []
    if conv.unfiled and not conv.ticket:
        pending = dict(conv.unfiled)
        code = file_ticket(
            ctx,
            str(pending.get("kind") or TIP),
            since=int(pending.get("since") or 0),
            anonymous=bool(pending.get("anonymous")),
            consent=bool(pending.get("consent")),
            phone=pending.get("phone") if isinstance(pending.get("phone"), str) else None,
        )
        if code:
            replies.append(ctx.say("ticket.filed_late", code=code))
    queued, conv.pending_updates = list(conv.pending_updates), []
    for item in queued:
        try:
            update = TicketUpdate(**item["update"])
            code = str(item["code"])
        except (KeyError, TypeError):
            continue  # a damaged entry cannot be delivered; dropping it keeps the rest going
        _send_update(ctx, code, update)
    return replies


def _send_update(ctx: Context, code: str, update: TicketUpdate) -> None:
    try:
        ctx.services.intake.update_ticket(code, update)
    except Exception as exc:
        log.error("dialogue.update_failed error=%s", type(exc).__name__)
        ctx.conv.queue_update(code, asdict(update))


def _raised(ctx: Context, priority: str | None) -> str | None:
    """The priority to send: only ever a raise over what the ticket has. P1 always goes: staff
    may have lowered the ticket since, and danger now must reach it again."""
    if raises(ctx.conv.ticket_priority, priority):
        ctx.conv.ticket_priority = priority
        return priority
    return "P1" if priority == "P1" else None


def _chunks(text: str) -> list[str]:
    return [text[i : i + MAX_LINE_CHARS] for i in range(0, len(text), MAX_LINE_CHARS)] or [text]


def _transcript(lines: list[dict[str, str]]) -> list[TranscriptLine]:
    out: list[TranscriptLine] = []
    for line in lines:
        for chunk in _chunks(str(line.get("text") or "")):
            if chunk.strip():
                out.append(
                    TranscriptLine(
                        direction=str(line.get("direction") or "in"),
                        text=chunk,
                        at=str(line.get("at") or ""),
                    )
                )
    return out[-MAX_DRAFT_LINES:]


def _deciding_parse(ctx: Context, category: str, since: int) -> dict[str, Any]:
    """The NLU result the ticket records: the latest message whose own intent is the ticket's
    category, else the message that began the flow (an offer checked, then reported)."""
    parses = ctx.conv.parses_since(0)
    own = [
        p
        for p in parses
        if "answer_to" not in p and (p.get("intent") or {}).get("name") == category
    ]
    chosen = own[-1] if own else (ctx.conv.parses_since(since) or [ctx.conv.current_parse()])[0]
    return {k: v for k, v in chosen.items() if k not in ("answer_to", "nlu_intent")}


def _location(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        try:
            return float(value[0]), float(value[1])
        except (TypeError, ValueError):
            return None
    return None

"""Rescue: someone is in danger now.

The first reply gives the emergency numbers and a safety line, and the ticket is filed as P1 on
that very first message, before any question: if the phone is taken away after one message, that
message has already reached the police. Then three short questions, one at a time (where, who is
with you, a safe way to reach you); every answer goes to the same ticket at once. A question the
person already answered (or skipped) is never asked again.
"""

from __future__ import annotations

from bot.dialogue import tickets
from bot.dialogue.context import Context
from bot.dialogue.replies import BotReply
from bot.dialogue.state import RESCUE

ASK_LOCATION = "ask_location"
ASK_COMPANIONS = "ask_companions"
ASK_CONTACT = "ask_contact"
QUESTIONS = (ASK_LOCATION, ASK_COMPANIONS, ASK_CONTACT)


def start(ctx: Context) -> list[BotReply]:
    conv, msg = ctx.conv, ctx.msg
    conv.start_flow(RESCUE)
    conv.escalated = True
    if conv.ticket:
        # Already filed (a tip or support request that turned urgent, or an earlier rescue):
        # raise that ticket to P1 rather than split the case in two.
        tickets.append_message(
            ctx,
            conv.ticket,
            province=msg.entity("province"),
            country=msg.entity("country"),
            priority="P1",
        )
        code: str | None = conv.ticket
    else:
        code = tickets.file_ticket(ctx, tickets.RESCUE, consent=True, phone=msg.message.phone)
    _note_answers_in_message(ctx, step=None)
    first = ctx.say("rescue.first", code=code) if code else ctx.say("rescue.first_no_code")
    return [first, ctx.say("rescue.safety"), *_ask_next(ctx)]


def answer(ctx: Context) -> list[BotReply]:
    conv, msg = ctx.conv, ctx.msg
    step = conv.step or ASK_LOCATION
    if msg.is_location_only and step != ASK_LOCATION:
        # A location sent while another question is open: take it, and ask that question again.
        _send(ctx, step=None)
        conv.location = list(msg.location or ())
        _mark(ctx, ASK_LOCATION)
        return [ctx.say("rescue.location_received"), *_ask_next(ctx)]
    if not ctx.skipped:
        _send(ctx, step=step)
    _mark(ctx, step)
    _note_answers_in_message(ctx, step=step)
    return _ask_next(ctx)


def _send(ctx: Context, step: str | None) -> None:
    msg = ctx.msg
    extra: dict[str, str] = {"question": step} if step else {}
    phone = None
    if step == ASK_CONTACT:
        phone = msg.entity("phone")
        if msg.mentions(ctx.keywords("message_only")) or ctx.pressed("message_only"):
            extra["contact"] = "message_only"
    tickets.append_message(
        ctx,
        ctx.conv.ticket,
        province=msg.entity("province"),
        country=msg.entity("country"),
        phone=phone,
        priority="P1",
        extra=extra,
    )


def _note_answers_in_message(ctx: Context, step: str | None) -> None:
    """Marks the questions this message already answers, so the person never repeats."""
    msg = ctx.msg
    if msg.location is not None:
        ctx.conv.location = list(msg.location)
        _mark(ctx, ASK_LOCATION)
    if msg.entity("person_count"):
        _mark(ctx, ASK_COMPANIONS)
    if step == ASK_CONTACT and msg.entity("phone"):
        _mark(ctx, ASK_CONTACT)


def _mark(ctx: Context, question: str) -> None:
    if question not in ctx.conv.rescue_answered:
        ctx.conv.rescue_answered.append(question)


def _ask_next(ctx: Context) -> list[BotReply]:
    conv = ctx.conv
    for question in QUESTIONS:
        if question in conv.rescue_answered:
            continue
        conv.step = question
        if question == ASK_LOCATION:
            known = conv.entities_since(0)
            place = known.get("province") or known.get("country")
            if place:
                # The place is known roughly: ask for the detail, not for it again.
                return [ctx.say("rescue.ask_location_detail", quick=("skip",), place=place)]
            return [ctx.say("rescue.ask_location", quick=("skip",))]
        if question == ASK_COMPANIONS:
            return [ctx.say("rescue.ask_companions", quick=("skip",))]
        return [ctx.say("rescue.ask_contact", quick=("message_only", "skip"))]
    code = conv.ticket
    conv.end_flow()
    if code:
        return [ctx.say("rescue.done", code=code)]
    return [ctx.say("ticket.file_failed")]

"""Support: a victim who has come home (or their family) asks for help.

Two or three short questions (what is needed, where, how to reach them), skipping what the
messages already said, then one ticket; triage routes it (to the provincial victim-support
service, DOLISA) and the reply gives the reference code.
"""

from __future__ import annotations

from bot.dialogue import tickets
from bot.dialogue.context import Context
from bot.dialogue.folding import contains_phrase, fold
from bot.dialogue.replies import BotReply
from bot.dialogue.state import SUPPORT

ASK_NEED = "ask_need"
ASK_WHERE = "ask_where"
ASK_CONTACT = "ask_contact"
QUESTIONS = (ASK_NEED, ASK_WHERE, ASK_CONTACT)


def start(ctx: Context) -> list[BotReply]:
    ctx.conv.start_flow(SUPPORT)
    ctx.conv.slots = {"asked": []}
    return [ctx.say("support.intro"), *_ask_next(ctx)]


def answer(ctx: Context) -> list[BotReply]:
    if ctx.conv.step == ASK_CONTACT and not ctx.skipped:
        ctx.conv.slots["phone"] = ctx.msg.entity("phone")
    return _ask_next(ctx)


def ask_again(ctx: Context) -> list[BotReply]:
    """The open question once more (after answering a question the person asked meanwhile)."""
    step = ctx.conv.step
    if step not in QUESTIONS:
        return []
    quick = ("message_only", "skip") if step == ASK_CONTACT else ("skip",)
    return [ctx.say(f"support.{step}", quick=quick)]


def _ask_next(ctx: Context) -> list[BotReply]:
    conv = ctx.conv
    asked: list[str] = conv.slots.setdefault("asked", [])
    for question in QUESTIONS:
        if question in asked or _already_told(ctx, question):
            continue
        asked.append(question)
        conv.step = question
        quick = ("message_only", "skip") if question == ASK_CONTACT else ("skip",)
        return [ctx.say(f"support.{question}", quick=quick)]
    return _file(ctx)


def _already_told(ctx: Context, question: str) -> bool:
    conv = ctx.conv
    known = conv.entities_since(conv.flow_start)
    if question == ASK_NEED:
        needs = ctx.keywords("support_needs")
        texts = [fold(str(p.get("text") or "")) for p in conv.parses_since(conv.flow_start)]
        return any(contains_phrase(t, n) for t in texts for n in needs)
    if question == ASK_WHERE:
        return bool(known.get("province") or known.get("country") or conv.location)
    if question == ASK_CONTACT:
        return bool(known.get("phone") or ctx.own_phone)
    return False


def _file(ctx: Context) -> list[BotReply]:
    conv = ctx.conv
    known = conv.entities_since(conv.flow_start)
    phone = conv.slots.get("phone") or known.get("phone") or ctx.own_phone
    # Asking for support is asking to be contacted; the number is the person's own (they were
    # asked for it, or it is in their own support request).
    code = tickets.file_ticket(
        ctx, tickets.SUPPORT, since=conv.flow_start, consent=True, phone=phone
    )
    conv.end_flow()
    if not code:
        return [ctx.say("ticket.file_failed")]
    return [ctx.say("support.filed", code=code)]

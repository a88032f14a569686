"""Rescue: someone is in danger now.

The first reply gives the emergency numbers and a safety line, and the ticket is filed as P1 on
that very first message, before any question: if the phone is taken away after one message, that
message has already reached the police. Then three short questions, one at a time (where, who is
with you, a safe way to reach you); every answer goes to the same ticket at once. A question the
person already answered (or skipped) is never asked again.

When the person in danger is someone else (a neighbour's daughter, a witness's report), the
questions are about that person (where they are or are being taken, who they are), not about the
writer. "Where" follows where the person is: a place the messages name as a return ("k cho e ve
vn": they will not let me return to Vietnam) or a hometown ("que Nghe An") is not where they
are now.
"""

from __future__ import annotations

from typing import Any

from bot.dialogue import tickets
from bot.dialogue.context import Context
from bot.dialogue.folding import fold
from bot.dialogue.replies import BotReply
from bot.dialogue.state import RESCUE

ASK_LOCATION = "ask_location"
ASK_COMPANIONS = "ask_companions"
ASK_CONTACT = "ask_contact"
QUESTIONS = (ASK_LOCATION, ASK_COMPANIONS, ASK_CONTACT)
PLACES = ("province", "country")
REPORT_INTENTS = frozenset({"report_trafficking", "report_missing"})
# How many words before a place name may say it is a return or a hometown ("ve lai Viet Nam").
_CONTEXT_WORDS = 3


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
        code = tickets.file_ticket(ctx, tickets.RESCUE, consent=True, phone=ctx.own_phone)
    _note_answers_in_message(ctx, step=None)
    if about_someone_else(ctx):
        conv.slots["someone_else"] = True
        first = (
            ctx.say("rescue.tip_first", code=code) if code else ctx.say("rescue.tip_first_no_code")
        )
        return [first, *_ask_next(ctx)]
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


def ask_again(ctx: Context) -> list[BotReply]:
    """The open question once more (after answering a question the person asked meanwhile)."""
    step = ctx.conv.step
    return [_question(ctx, step)] if step in QUESTIONS else []


def about_someone_else(ctx: Context) -> bool:
    """Whether the person in danger is someone other than the writer: never the writer as the
    one in danger, and a relation named (a daughter, a neighbour...) or a report, not a rescue
    request (a witness: "toi nay ho cho con gai nha hang xom sang Trung Quoc")."""
    relations = [
        str(e.get("value"))
        for p in ctx.conv.parses_since(ctx.conv.flow_start)
        for e in p.get("entities") or []
        if e.get("entity") == "relation"
    ]
    if "self" in relations:
        return False
    return bool(relations) or ctx.msg.intent in REPORT_INTENTS


def current_place(ctx: Context) -> tuple[str | None, bool]:
    """(where the person is, whether they are abroad) from the conversation's messages.

    The latest place named counts, except a place named as a return ("ve vn") or a hometown
    ("que Nghe An"): those say where the person is not. A return to Vietnam means the person is
    abroad; then a province is a hometown too.
    """
    back = ctx.keywords("place_return")
    origin = ctx.keywords("place_origin")
    home_country = ctx.keywords("home_country")
    abroad = False
    found: list[dict[str, Any]] = []
    for parse in ctx.conv.parses_since(0):
        text = str(parse.get("text") or "")
        for entity in parse.get("entities") or []:
            if entity.get("entity") not in PLACES or not entity.get("value"):
                continue
            before = fold(text[: int(entity.get("start") or 0)]).split()[-_CONTEXT_WORDS:]
            in_home_country = fold(str(entity.get("value"))) in home_country
            home = entity.get("entity") == "province" or in_home_country
            # "ve Viet Nam", "ve Nghe An": going back there; "bi dua ve Trung Quoc" is taken there.
            if home and _ends_with(before, back):
                abroad = abroad or in_home_country
                continue
            if _ends_with(before, origin):
                continue
            found.append(entity)
    foreign = [
        e for e in found if e["entity"] == "country" and fold(str(e["value"])) not in home_country
    ]
    if abroad:
        return (str(foreign[-1]["value"]) if foreign else None), True
    if found:
        return str(found[-1]["value"]), bool(foreign) and found[-1] is foreign[-1]
    return None, False


def _ends_with(words: list[str], phrases: tuple[str, ...]) -> bool:
    """Whether the (folded) words end with one of the (folded) phrases."""
    return any(words[-len(p.split()) :] == p.split() for p in phrases if p)


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
    if (step == ASK_CONTACT and msg.entity("phone")) or ctx.conv.contact_phone:
        # A number the person left earlier is how to reach them: never asked again.
        _mark(ctx, ASK_CONTACT)


def _mark(ctx: Context, question: str) -> None:
    if question not in ctx.conv.rescue_answered:
        ctx.conv.rescue_answered.append(question)


# The questions' wording: about the writer, or about someone else the writer tells of.
_WORDING = {
    False: {
        "detail": "rescue.ask_location_detail",
        "where": "rescue.ask_location",
        "who": "rescue.ask_companions",
        "contact": "rescue.ask_contact",
    },
    True: {
        "detail": "rescue.tip_ask_location_detail",
        "where": "rescue.tip_ask_location",
        "who": "rescue.tip_ask_person",
        "contact": "rescue.tip_ask_contact",
    },
}


def _question(ctx: Context, question: str | None) -> BotReply:
    someone_else = bool(ctx.conv.slots.get("someone_else"))
    keys = _WORDING[someone_else]
    if question == ASK_LOCATION:
        place, abroad = current_place(ctx)
        if place:
            # The place is known roughly: ask for the detail, not for it again.
            return ctx.say(keys["detail"], quick=("skip",), place=place)
        if abroad and not someone_else:
            return ctx.say("rescue.ask_location_abroad", quick=("skip",))
        return ctx.say(keys["where"], quick=("skip",))
    if question == ASK_COMPANIONS:
        return ctx.say(keys["who"], quick=("skip",))
    return ctx.say(keys["contact"], quick=("message_only", "skip"))


def _ask_next(ctx: Context) -> list[BotReply]:
    conv = ctx.conv
    for question in QUESTIONS:
        if question in conv.rescue_answered:
            continue
        conv.step = question
        return [_question(ctx, question)]
    code = conv.ticket
    conv.end_flow()
    if code:
        return [ctx.say("rescue.done", code=code)]
    return [ctx.say("ticket.file_failed")]

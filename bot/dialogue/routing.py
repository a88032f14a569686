"""Which flow handles a message, in the order of what matters most.

1. Danger now outranks everything: the first time triage rates the conversation P1, the rescue
   flow starts, whatever question was open.
2. A message after a question is that question's answer, even when the NLU calls it out of scope
   or is unsure ("o gan cho", near the market, answering "where are you?"); unless it is plainly
   a question of its own (a question intent the NLU is sure of, and a question mark or word):
   that is answered, and the open question asked again.
3. A phone number given as the person's own, asking and reporting nothing, is their contact
   for what follows (docs/nlu.md, under the intents), whatever the NLU made of it.
4. Otherwise the intent decides; an unsure parse asks to rephrase, and messages that only add
   detail go to the conversation's ticket.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.dialogue import tickets
from bot.dialogue.context import Context
from bot.dialogue.flows import follow_up, offer, questions, rescue, smalltalk, support, tip
from bot.dialogue.replies import BotReply
from bot.dialogue.state import FOLLOW_UP, OFFER, RESCUE, SUPPORT, TIP, Conversation

Answer = Callable[[Context], list[BotReply] | None]
ANSWERS: dict[str, Answer] = {
    RESCUE: rescue.answer,
    TIP: tip.answer,
    SUPPORT: support.answer,
    OFFER: offer.answer,
    FOLLOW_UP: follow_up.answer,
}
AskAgain = Callable[[Context], list[BotReply]]
ASK_AGAIN: dict[str, AskAgain] = {
    RESCUE: rescue.ask_again,
    TIP: tip.ask_again,
    SUPPORT: support.ask_again,
    OFFER: offer.ask_again,
    FOLLOW_UP: follow_up.ask_again,
}
# A question typed while a form waits for an answer is taken as a question only when the NLU is
# at least this sure: an unsure parse of an answer ("o gan cho") stays the answer.
QUESTION_MEANWHILE_CONFIDENCE = 0.6
# What answers in each flow are part of, for triage (see answer_intent).
FLOW_INTENTS = {
    RESCUE: "request_rescue",
    SUPPORT: "request_support",
    OFFER: "check_offer",
    FOLLOW_UP: "follow_up",
}
REPORT_INTENTS = frozenset({"report_trafficking", "report_missing"})
QUESTION_INTENTS = frozenset({"ask_info", "ask_hotline"})
SMALLTALK_INTENTS = frozenset({"greet", "thank", "goodbye"})
# What a person asks the service to do: a number in one of these belongs to it.
REQUESTS = REPORT_INTENTS | {"request_rescue", "request_support", "check_offer", "follow_up"}


def answer_intent(conv: Conversation) -> str | None:
    """The intent a reply to the open question counts as in triage's history, or None.

    Triage names a conversation by the most serious intent in it, but the NLU's intent of an
    answer says nothing about the conversation: "co 3 nguoi" (three of us) answering "who is
    with you?" may parse as a report, and would turn a support request into a police case.
    The request the answer belongs to is what it means. A yes/no question may get something
    else entirely, so its replies keep their own intent.
    """
    if not conv.step or (conv.flow == OFFER and conv.step == offer.ASK_TIP):
        return None
    if conv.flow == TIP:
        return tip.intent_of(conv)
    return FLOW_INTENTS.get(conv.flow)


def route(ctx: Context) -> list[BotReply]:
    replies = tickets.retry_pending(ctx)
    if _danger_now(ctx):
        return [*replies, *rescue.start(ctx)]
    conv = ctx.conv
    if ctx.msg.is_media_only:
        # Nothing the bot can read, but the person sent something: answer, and let staff on an
        # open ticket know (the question, if any, stays open).
        target = conv.attached or conv.ticket
        if target:
            tickets.append_message(ctx, target)
        return [*replies, ctx.say("media.reply")]
    if conv.step and not ctx.msg.record_text:
        # Nothing to read (a sticker, a photo without caption): the question stays open.
        return [*replies, *smalltalk.not_understood(ctx)]
    if conv.step and _asks_meanwhile(ctx):
        again = ASK_AGAIN[conv.flow](ctx) if conv.flow in ASK_AGAIN else []
        if again:
            return [*replies, *questions.answer(ctx), *again]
    if conv.step:
        handler = ANSWERS.get(conv.flow)
        answered = handler(ctx) if handler else None
        if answered is not None:
            return [*replies, *answered]
        conv.end_flow()
    return [*replies, *_new_message(ctx)]


def _asks_meanwhile(ctx: Context) -> bool:
    """Whether a message typed while a question is open is a question of its own."""
    msg = ctx.msg
    if msg.intent not in QUESTION_INTENTS or msg.confidence < QUESTION_MEANWHILE_CONFIDENCE:
        return False
    if ctx.skipped or msg.says(ctx.keywords("yes")) or msg.says(ctx.keywords("no")):
        return False
    return questions.is_question(ctx)


def _danger_now(ctx: Context) -> bool:
    if ctx.conv.escalated:
        return False
    if ctx.triage is None:
        # Triage failed: the NLU's own word is all there is.
        return ctx.msg.intent == "request_rescue"
    return ctx.triage.get("priority") == "P1"


def _new_message(ctx: Context) -> list[BotReply]:
    msg, conv = ctx.msg, ctx.conv
    target = conv.attached or conv.ticket
    if msg.is_blank:
        return smalltalk.not_understood(ctx)
    if msg.is_location_only:
        conv.location = list(msg.location or ())
        if target:
            return _append(ctx, target)
        return smalltalk.location_without_context(ctx)
    if msg.says(ctx.keywords("start")):
        return [ctx.say("smalltalk.greet")]
    if _leaves_number(ctx):
        conv.contact_phone = msg.entity("phone")
        return _append(ctx, target) if target else smalltalk.phone_without_context(ctx)
    intent = msg.intent
    if msg.confidence < ctx.services.low_confidence_threshold:
        return _append(ctx, target) if target else smalltalk.not_understood(ctx)
    if intent == "request_rescue":
        return rescue.start(ctx)
    if intent in REPORT_INTENTS:
        return _append(ctx, target) if target else tip.start(ctx)
    if intent == "request_support":
        # A need for support is DOLISA's work: its own ticket, even beside a police report.
        return support.start(ctx)
    if intent == "check_offer":
        return offer.start(ctx)
    if intent in QUESTION_INTENTS:
        return questions.answer(ctx)
    if intent == "follow_up":
        return follow_up.start(ctx)
    if intent in SMALLTALK_INTENTS:
        return smalltalk.reply(ctx)
    # affirm, deny, out_of_scope: with a ticket open they are more detail for it.
    return _append(ctx, target) if target else smalltalk.reply(ctx)


def _leaves_number(ctx: Context) -> bool:
    """Whether the message gives a phone number and asks or reports nothing: "sdt cua em la
    0912..." is a person leaving their own number, which the NLU, hearing "so dien thoai", reads
    as asking for ours. A number inside a report or a request stays part of it, one said to be
    someone else's is not the person's contact (it may be the suspect's), and a question about a
    number ("so 0912... co phai lua dao?") is a question."""
    msg = ctx.msg
    if not msg.entity("phone") or questions.is_question(ctx):
        return False
    found = msg.parse.get("entities") or []
    relations = {str(e.get("value")) for e in found if e.get("entity") == "relation"}
    if relations - {"self"} or msg.mentions(ctx.keywords("third_party")):
        return False  # someone else's number: the person's own is the only contact
    sure = msg.confidence >= ctx.services.low_confidence_threshold
    return not (sure and msg.intent in REQUESTS)


def _append(ctx: Context, code: str) -> list[BotReply]:
    msg = ctx.msg
    tickets.append_message(
        ctx, code, province=msg.entity("province"), country=msg.entity("country")
    )
    return [ctx.say("ticket.appended", code=code)]

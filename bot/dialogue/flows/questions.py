"""Questions: short answers from `nlu_data/faq.yml`, chosen by keywords in the question."""

from __future__ import annotations

from bot.dialogue.context import Context
from bot.dialogue.replies import BotReply
from bot.dialogue.wording import render


def answer(ctx: Context) -> list[BotReply]:
    faq = ctx.services.wording.faq
    topic = faq.topic(ctx.msg.text, asks_for_contact=ctx.msg.intent == "ask_hotline")
    text = render(topic.answer, ctx.services.hotlines, where=f"faq.yml: {topic.name}")
    return [BotReply(text=text)]


def topic(ctx: Context, name: str) -> BotReply:
    """The answer of the FAQ topic `name`, for a flow that needs it (fees, marriage brokers)."""
    found = ctx.services.wording.faq.named(name)
    return BotReply(text=render(found.answer, ctx.services.hotlines, where=f"faq.yml: {name}"))


def is_question(ctx: Context) -> bool:
    """Whether the message asks something: a question mark, or a question word in it."""
    msg = ctx.msg
    return "?" in msg.text or msg.mentions(ctx.keywords("question_markers"))

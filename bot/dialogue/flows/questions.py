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

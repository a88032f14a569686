"""Everything outside a flow that still deserves a kind, short answer: greetings, thanks,
goodbyes, a stray yes or no, messages out of scope or not understood. Each gives a way on
(what the service does, the hotline)."""

from __future__ import annotations

from bot.dialogue.context import Context
from bot.dialogue.replies import BotReply

_KEYS = {
    "greet": "smalltalk.greet",
    "thank": "smalltalk.thank",
    "goodbye": "smalltalk.goodbye",
    "affirm": "smalltalk.yes_no",
    "deny": "smalltalk.yes_no",
}


def reply(ctx: Context) -> list[BotReply]:
    return [ctx.say(_KEYS.get(ctx.msg.intent, "out_of_scope"))]


def not_understood(ctx: Context) -> list[BotReply]:
    return [ctx.say("low_confidence")]


def location_without_context(ctx: Context) -> list[BotReply]:
    return [ctx.say("location_no_context")]


def phone_without_context(ctx: Context) -> list[BotReply]:
    return [ctx.say("phone_no_context")]

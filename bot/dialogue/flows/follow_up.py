"""Follow-up: the status of an earlier report, by its reference code.

The code comes from the NLU's `reference_code` entity, from the text itself (the NLU may miss a
code typed oddly), from the conversation's own ticket, or from one question. The status is told
in plain words; an unknown code or an unreachable API gets a kind answer and the hotline. After
a status, further messages are appended to that ticket until the person starts something else.
"""

from __future__ import annotations

import logging
import re

from bot.dialogue.context import Context
from bot.dialogue.replies import BotReply
from bot.dialogue.state import FOLLOW_UP
from bot.intake.port import IntakeUnavailable

log = logging.getLogger(__name__)

ASK_CODE = "ask_code"

# Reference codes as intake_api issues them (refcodes.py): TIP- and five characters from an
# alphabet without 0/O and 1/I; people type them in any case, with a space or no dash.
_CODE_RE = re.compile(r"\bTIP[\s\-_.]*([2-9A-HJ-NP-Z]{5})\b", re.IGNORECASE)
STATUS_KEYS = frozenset(
    {"new", "acknowledged", "in_progress", "referred", "resolved", "unfounded", "duplicate"}
)


def start(ctx: Context) -> list[BotReply]:
    code = reference_code(ctx) or ctx.conv.ticket
    if code:
        return _report_status(ctx, code)
    ctx.conv.start_flow(FOLLOW_UP, ASK_CODE)
    return [ctx.say("follow_up.ask_code", quick=("skip",))]


def answer(ctx: Context) -> list[BotReply]:
    code = reference_code(ctx)
    if code:
        return _report_status(ctx, code)
    ctx.conv.end_flow()
    return [ctx.say("follow_up.no_code")]


def ask_again(ctx: Context) -> list[BotReply]:
    """The open question once more (after answering a question the person asked meanwhile)."""
    if ctx.conv.step == ASK_CODE:
        return [ctx.say("follow_up.ask_code", quick=("skip",))]
    return []


def reference_code(ctx: Context) -> str | None:
    for raw in (ctx.msg.entity("reference_code"), ctx.msg.text):
        if raw:
            match = _CODE_RE.search(raw.upper())
            if match:
                return f"TIP-{match.group(1)}"
    return None


def _report_status(ctx: Context, code: str) -> list[BotReply]:
    conv = ctx.conv
    conv.end_flow()
    try:
        status = ctx.services.intake.lookup_status(code)
    except IntakeUnavailable:
        return [ctx.say("follow_up.unavailable")]
    except Exception as exc:  # whatever the port raised, the person gets an answer
        log.error("dialogue.lookup_failed error=%s", type(exc).__name__)
        return [ctx.say("follow_up.unavailable")]
    if status is None:
        return [ctx.say("follow_up.unknown_code", code=code)]
    conv.attached = status.reference_code or code
    key = (
        f"follow_up.status.{status.status}"
        if status.status in STATUS_KEYS
        else ("follow_up.status_other")
    )
    return [ctx.say(key, code=conv.attached), ctx.say("follow_up.can_add")]

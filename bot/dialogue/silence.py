"""Silence files the report: a tip or a support request the person stopped answering is filed
with what was said once the conversation has been silent long enough (the provincial
programmes require every tip received). The ticket says which questions went unanswered, so
staff know what to follow up; later messages join that ticket like any further detail."""

from __future__ import annotations

from bot.dialogue import tickets
from bot.dialogue.context import Context
from bot.dialogue.flows import support, tip
from bot.dialogue.replies import BotReply
from bot.dialogue.state import SUPPORT, TIP, Conversation
from intake_api.rules.silence import FILED_AFTER_SILENCE

# The flows that end in a ticket, with the kind of ticket and the questions they ask.
_FILED_FLOWS = {
    TIP: (tickets.TIP, (*tip.QUESTIONS, tip.ASK_CONSENT)),
    SUPPORT: (tickets.SUPPORT, support.QUESTIONS),
}


def waits_for_filing(conv: Conversation) -> bool:
    """True while the conversation holds a report that silence would file."""
    return conv.flow in _FILED_FLOWS and not conv.ticket


def file_unfinished(ctx: Context) -> list[BotReply]:
    """Files the unfinished report with what was said; nobody is called back unless the
    person said so, since consent was never given."""
    conv = ctx.conv
    kind, questions = _FILED_FLOWS[conv.flow]
    asked = list(conv.slots.get("asked") or [])
    unanswered = [q for q in questions if q == conv.step or q not in asked]
    reasons = [FILED_AFTER_SILENCE]
    if unanswered:
        reasons.append("unanswered: " + ", ".join(q.removeprefix("ask_") for q in unanswered))
    code = tickets.file_ticket(ctx, kind, since=conv.flow_start, extra_reasons=reasons)
    conv.end_flow()
    if not code:
        return []  # remembered as unfiled: retried with the next message or silence
    return [ctx.say("silence.filed", code=code)]

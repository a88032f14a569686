"""Tip: a report of suspected trafficking or of a missing person, filed as ONE ticket.

The bot gathers what happened, where, when, who the victim is, who the suspect is and how they
made contact, one short question at a time, skipping what the messages already said (entities)
and any question the person skips. It then asks whether staff may contact the person, with an
anonymous option, and only then files the whole conversation as a single ticket: five messages
make one report, not five. Danger discovered on the way is handled by the router, which switches
to the rescue flow at once.
"""

from __future__ import annotations

from bot.dialogue import tickets
from bot.dialogue.context import Context
from bot.dialogue.replies import BotReply
from bot.dialogue.state import TIP, Conversation

ASK_WHAT = "ask_what"
ASK_WHERE = "ask_where"
ASK_WHEN = "ask_when"
ASK_VICTIM = "ask_victim"
ASK_SUSPECT = "ask_suspect"
ASK_PLATFORM = "ask_platform"
ASK_CONSENT = "ask_consent"
QUESTIONS = (ASK_WHAT, ASK_WHERE, ASK_WHEN, ASK_VICTIM, ASK_SUSPECT, ASK_PLATFORM)

MISSING = "missing"
TRAFFICKING = "trafficking"
# A first message of at least this many words already tells what happened; a shorter one
# ("toi muon bao tin": I want to report) is only the wish to report.
WHAT_MIN_WORDS = 7


def start(ctx: Context, *, since: int | None = None, what_known: bool = False) -> list[BotReply]:
    """Begins a tip; `since` and `what_known` carry over an offer the person checked before."""
    conv, msg = ctx.conv, ctx.msg
    conv.start_flow(TIP, since=since)
    described = what_known or len(msg.folded.split()) >= WHAT_MIN_WORDS
    conv.slots = {
        "kind": MISSING if msg.intent == "report_missing" else TRAFFICKING,
        "asked": [] if not described else [ASK_WHAT],
    }
    return [ctx.say("tip.intro"), *_ask_next(ctx)]


def intent_of(conv: Conversation) -> str:
    """The intent this tip stands for (what its answers count as in triage)."""
    return "report_missing" if conv.slots.get("kind") == MISSING else "report_trafficking"


def answer(ctx: Context) -> list[BotReply]:
    if ctx.conv.step == ASK_CONSENT:
        return _consent(ctx)
    # The answer itself is in the transcript; the ticket is filed once, at the end.
    return _ask_next(ctx)


def _ask_next(ctx: Context) -> list[BotReply]:
    conv = ctx.conv
    asked: list[str] = conv.slots.setdefault("asked", [])
    known = conv.entities_since(conv.flow_start)
    for question in QUESTIONS:
        if question in asked or _already_told(ctx, question, known):
            continue
        asked.append(question)
        conv.step = question
        return [ctx.say(_question_key(ctx, question), quick=("skip",))]
    conv.step = ASK_CONSENT
    return [ctx.say("tip.ask_consent", quick=("consent_yes", "no", "anonymous"))]


def _already_told(ctx: Context, question: str, known: dict[str, str]) -> bool:
    if question == ASK_WHERE:
        return bool(known.get("province") or known.get("country") or ctx.conv.location)
    if question == ASK_VICTIM:
        return bool(known.get("relation") and known.get("age"))
    if question == ASK_PLATFORM:
        return bool(known.get("platform"))
    return False


def _question_key(ctx: Context, question: str) -> str:
    if question == ASK_WHEN and ctx.conv.slots.get("kind") == MISSING:
        return "tip.ask_when_missing"
    if question == ASK_VICTIM and ctx.conv.entities_since(ctx.conv.flow_start).get("relation"):
        # Who the person is was already said ("con gai nha hang xom"): ask only the age.
        return "tip.ask_victim_age"
    return f"tip.{question}"


def ask_again(ctx: Context) -> list[BotReply]:
    """The open question once more (after answering a question the person asked meanwhile)."""
    step = ctx.conv.step
    if step == ASK_CONSENT:
        return [ctx.say("tip.ask_consent", quick=("consent_yes", "no", "anonymous"))]
    if step in QUESTIONS:
        return [ctx.say(_question_key(ctx, step), quick=("skip",))]
    return []


def _consent(ctx: Context) -> list[BotReply]:
    conv, msg = ctx.conv, ctx.msg
    anonymous = msg.mentions(ctx.keywords("anonymous")) or ctx.pressed("anonymous")
    phone_given = msg.entity("phone")
    if anonymous or ctx.skipped or ctx.is_no:
        consent = False
    elif ctx.is_yes or phone_given:
        consent = True
    elif not conv.slots.get("reasked"):
        conv.slots["reasked"] = True
        return [ctx.say("tip.reask_consent", quick=("consent_yes", "no", "anonymous"))]
    else:
        consent = False  # still unclear: the careful default is not to call
    # Only a number the person gives as their own (or the platform vouches for) is a contact;
    # a number in the story may be the suspect's.
    phone = (phone_given or ctx.own_phone) if consent else None
    code = tickets.file_ticket(
        ctx,
        tickets.TIP,
        since=conv.flow_start,
        anonymous=anonymous,
        consent=consent,
        phone=phone,
    )
    conv.end_flow()
    if not code:
        return [ctx.say("ticket.file_failed")]
    if anonymous:
        return [ctx.say("tip.filed_anonymous", code=code)]
    return [ctx.say("tip.filed_contact" if consent else "tip.filed_no_contact", code=code)]

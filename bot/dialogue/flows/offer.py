"""Check an offer: is this job, study or marriage offer, or this company, safe?

The person gets the warning signs of trafficking at once (for a marriage broker, the marriage
ones), and, when the offer asks for money, what the law allows a licensed company to charge;
then the company's standing from the licensed-company list (asking for the name once, skippable,
if none was given; the list shipped is a sample and every answer says to verify with the labour
authority), then the offer to report it: yes turns into a tip whose "what happened" is the offer
already described. A marriage broker is on no licence list: its advice leads to the offer to
report it directly.
"""

from __future__ import annotations

from datetime import date

from bot.dialogue.companies import LEGAL_FORMS, CompanyMatch
from bot.dialogue.context import Context
from bot.dialogue.flows import questions, tip
from bot.dialogue.folding import fold
from bot.dialogue.replies import BotReply
from bot.dialogue.state import OFFER

ASK_COMPANY = "ask_company"
ASK_TIP = "ask_tip"

_STANDING_KEYS = {
    "active": "offer.company_active",
    "expired": "offer.company_expired",
    "suspended": "offer.company_suspended",
    "revoked": "offer.company_revoked",
}


def start(ctx: Context) -> list[BotReply]:
    ctx.conv.start_flow(OFFER)
    msg = ctx.msg
    if msg.mentions(ctx.keywords("marriage_markers")):
        return [questions.topic(ctx, "marriage_brokers"), _ask_tip(ctx)]
    replies = [ctx.say("offer.warning_signs")]
    if msg.mentions(ctx.keywords("fee_markers")):
        replies.append(questions.topic(ctx, "fees"))
    match = ctx.services.companies.find(msg.text)
    if match is not None:
        return [*replies, _standing(ctx, match), _ask_tip(ctx)]
    ctx.conv.step = ASK_COMPANY
    if names_a_company(ctx):
        # A company was named but is not on the list: that is worth saying before anything.
        ctx.conv.step = None
        return [*replies, ctx.say("offer.company_not_found"), _ask_tip(ctx)]
    if msg.mentions(ctx.keywords("company_markers")):
        # "how do I know a labour-export company is licensed?": how to check, then which company.
        return [*replies, ctx.say("offer.how_to_check", quick=("skip",))]
    return [*replies, ctx.say("offer.ask_company", quick=("skip",))]


def names_a_company(ctx: Context) -> bool:
    """Whether a company word is followed by a name ("cty xkld hoang long"), not only by words
    about companies in general ("mot cong ty xuat khau lao dong co giay phep")."""
    words = ctx.msg.folded.split()
    markers = [m.split() for m in ctx.keywords("company_markers")]
    stops = set(ctx.keywords("company_name_stops"))
    legal = [f.split() for f in (fold(x) for x in LEGAL_FORMS)] + markers
    for i in range(len(words)):
        for marker in markers:
            if words[i : i + len(marker)] != marker:
                continue
            j = i + len(marker)
            stripped = True
            while stripped:
                stripped = False
                for form in legal:
                    if words[j : j + len(form)] == form:
                        j += len(form)
                        stripped = True
            if j < len(words) and words[j] not in stops:
                return True
    return False


def answer(ctx: Context) -> list[BotReply] | None:
    if ctx.conv.step == ASK_COMPANY:
        if ctx.skipped:
            return [_ask_tip(ctx)]
        match = ctx.services.companies.find(ctx.msg.text)
        found = _standing(ctx, match) if match else ctx.say("offer.company_not_found")
        return [found, _ask_tip(ctx)]
    # ASK_TIP: a yes/no question; anything else is a new message, not an answer.
    if ctx.is_yes:
        since = ctx.conv.flow_start
        return tip.start(ctx, since=since, what_known=True)
    if ctx.is_no or ctx.skipped:
        ctx.conv.end_flow()
        return [ctx.say("offer.tip_declined")]
    return None


def ask_again(ctx: Context) -> list[BotReply]:
    """The open question once more (after answering a question the person asked meanwhile)."""
    if ctx.conv.step == ASK_COMPANY:
        return [ctx.say("offer.ask_company", quick=("skip",))]
    if ctx.conv.step == ASK_TIP:
        return [_ask_tip(ctx)]
    return []


def _ask_tip(ctx: Context) -> BotReply:
    ctx.conv.step = ASK_TIP
    return ctx.say("offer.ask_tip", quick=("yes", "no"))


def _standing(ctx: Context, match: CompanyMatch) -> BotReply:
    company = match.company
    today: date = ctx.services.clock().date()
    until = company.licensed_until.strftime("%d/%m/%Y") if company.licensed_until else "-"
    return ctx.say(
        _STANDING_KEYS[company.standing(today)],
        name=company.name,
        licence_no=company.licence_no or "-",
        licensed_until=until,
        province=company.province or "-",
    )

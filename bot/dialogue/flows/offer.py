"""Check an offer: is this job, study or marriage offer, or this company, safe?

The person gets the warning signs of trafficking at once, then the company's standing from the
licensed-company list (asking for the name once, skippable, if none was given; the list shipped
is a sample and every answer says to verify with the labour authority), then the offer to report
it: yes turns into a tip whose "what happened" is the offer already described.
"""

from __future__ import annotations

from datetime import date

from bot.dialogue.companies import CompanyMatch
from bot.dialogue.context import Context
from bot.dialogue.flows import tip
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
    replies = [ctx.say("offer.warning_signs")]
    match = ctx.services.companies.find(ctx.msg.text)
    if match is not None:
        return [*replies, _standing(ctx, match), _ask_tip(ctx)]
    if ctx.msg.mentions(ctx.keywords("company_markers")):
        # A company was named but is not on the list: that is worth saying before anything.
        return [*replies, ctx.say("offer.company_not_found"), _ask_tip(ctx)]
    ctx.conv.step = ASK_COMPANY
    return [*replies, ctx.say("offer.ask_company", quick=("skip",))]


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

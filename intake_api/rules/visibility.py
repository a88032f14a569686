"""Which tickets a caller may see (docs/api.md, Roles): operators and supervisors see every
ticket; police and DOLISA staff see the tickets routed to their agency, and those with a
referral to their agency pending; a service account (the bot, a partner) sees only the tickets
it filed. Anything else answers 404, never 403.

The SQL clause serves queries; `may_see` answers the same question for one ticket in Python
(who may be assigned it). Both read the same three facts, so they cannot disagree."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import false, or_
from sqlmodel import col, select

from intake_api.enums import ReferralState
from intake_api.identity import Caller
from intake_api.models import Referral, Ticket, TicketAgency


def visibility_clause(caller: Caller) -> Any:
    """SQL condition for the tickets a caller works (None: all of them)."""
    if caller.sees_all_tickets:
        return None
    agencies = list(caller.agencies)
    if not caller.works_tickets or not agencies:
        return false()
    routed = select(TicketAgency.ticket_id).where(col(TicketAgency.agency).in_(agencies))
    referred = select(Referral.ticket_id).where(
        col(Referral.to_agency).in_(agencies), Referral.state == ReferralState.pending
    )
    return or_(col(Ticket.id).in_(routed), col(Ticket.id).in_(referred))


def may_see(caller: Caller, routed_to: Iterable[str], pending_referrals_to: Iterable[str]) -> bool:
    """Whether `caller` works a ticket routed to `routed_to` with referrals pending to
    `pending_referrals_to` (the Python twin of `visibility_clause`)."""
    if caller.sees_all_tickets:
        return True
    if not caller.works_tickets:
        return False
    return bool(caller.agencies & (set(routed_to) | set(pending_referrals_to)))


def filed_by_clause(caller: Caller) -> Any:
    """SQL condition for the tickets a service account filed: the only ones it follows up on."""
    return col(Ticket.filed_by_id) == caller.user_id

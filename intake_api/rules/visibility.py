"""Which tickets a caller may see (docs/api.md, Roles): operators and supervisors see every
ticket; police and DOLISA staff see the tickets routed to their agency, and those with a
referral to their agency pending. Anything else answers 404, never 403."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select

from intake_api.enums import ReferralState
from intake_api.identity import Caller
from intake_api.models import Referral, Ticket, TicketAgency


def visibility_clause(caller: Caller) -> Any:
    """SQL condition for the tickets a caller may see (None: all of them)."""
    if caller.sees_all_tickets:
        return None
    agencies = list(caller.agencies)
    routed = select(TicketAgency.ticket_id).where(col(TicketAgency.agency).in_(agencies))
    referred = select(Referral.ticket_id).where(
        col(Referral.to_agency).in_(agencies), Referral.state == ReferralState.pending
    )
    return or_(col(Ticket.id).in_(routed), col(Ticket.id).in_(referred))

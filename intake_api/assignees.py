"""Who a ticket may be assigned to: the active accounts that work tickets and may see it
(intake_api.rules.visibility), so a ticket is never handed to someone who cannot open it."""

from __future__ import annotations

from sqlmodel import Session, col, select

from intake_api.identity import TICKET_ROLES, Caller
from intake_api.models import Ticket, User
from intake_api.rules.visibility import visibility_clause


def assignable_users(session: Session, ticket_id: str) -> list[User]:
    """Active ticket-working accounts that may see the ticket, by username."""
    users = session.exec(
        select(User).where(col(User.active).is_(True)).order_by(User.username)
    ).all()
    # One query per set of agencies, not per person: most police share one agency.
    sees: dict[frozenset[str], bool] = {}
    chosen = []
    for user in users:
        caller = Caller.of(user)
        if not caller.roles & TICKET_ROLES:
            continue
        clause = visibility_clause(caller)
        if clause is None:
            chosen.append(user)
            continue
        if caller.agencies not in sees:
            found = session.exec(select(Ticket.id).where(Ticket.id == ticket_id, clause)).first()
            sees[caller.agencies] = found is not None
        if sees[caller.agencies]:
            chosen.append(user)
    return chosen

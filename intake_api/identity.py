"""Who is acting: the caller of a domain function, whether it came over HTTP, from the
in-process bot or from the command line. Domain code depends on this, never on HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from intake_api.enums import Role
from intake_api.models import User

# Roles that work tickets; `admin` alone sees no ticket contents (docs/api.md).
TICKET_ROLES = frozenset({Role.operator, Role.police, Role.dolisa, Role.supervisor})
ALL_TICKETS_ROLES = frozenset({Role.operator, Role.supervisor})
# Service accounts file tickets and follow up on the ones they filed, nothing else: the
# configured bot (`service`) and outside integrations (`partner`).
FILING_ROLES = frozenset({Role.service, Role.partner})


@dataclass(frozen=True)
class Caller:
    user: User
    roles: frozenset[str]

    @classmethod
    def of(cls, user: User) -> Caller:
        return cls(user=user, roles=user.role_set)

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def user_id(self) -> int:
        assert self.user.id is not None, "a caller is a stored account"
        return self.user.id

    @property
    def sees_all_tickets(self) -> bool:
        return bool(self.roles & ALL_TICKETS_ROLES)

    @property
    def works_tickets(self) -> bool:
        return bool(self.roles & TICKET_ROLES)

    @property
    def agencies(self) -> frozenset[str]:
        """The agencies whose tickets a police/dolisa caller works."""
        own = {r for r in self.roles if r in (Role.police, Role.dolisa)}
        return frozenset({self.user.agency} if self.user.agency else own)

"""The one agency registry: the agencies configured for the deployment (`[[api.agencies]]`)
are the only codes a ticket, an account, a referral or a routing table may name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class UnknownAgency(ValueError):
    """A routing table names an agency the deployment does not have."""


def check_routing(configured: Iterable[str], used: Mapping[str, Iterable[str]]) -> None:
    """Refuses to start when a routing table names an unconfigured agency: every ticket routed
    there would be refused by the API, and a refused ticket is a lost report."""
    known = set(configured)
    for where, codes in used.items():
        for code in codes:
            if code not in known:
                raise UnknownAgency(
                    f"{where} routes to the agency '{code}', which is not configured "
                    f"(configured agencies: {', '.join(sorted(known))}); add it to "
                    "[[api.agencies]] in the settings file or change the routing"
                )


def check_account_agency(configured: Iterable[str], agency: str) -> None:
    """Refuses an account for an agency the deployment does not have: it would see nothing,
    and tickets assigned to it would be silently lost to its agency."""
    known = list(configured)
    if agency not in known:
        raise UnknownAgency(
            f"unknown agency '{agency}'; the configured agencies are {', '.join(known)}"
        )

"""Which status moves are legal (docs/api.md): new → acknowledged → in_progress → closed,
`referred` only through a referral, and a closed ticket may be reopened."""

from __future__ import annotations

from intake_api.enums import CLOSED_STATUSES, Status

_CLOSE = {Status.resolved, Status.unfounded, Status.duplicate}

LEGAL_MOVES: dict[Status, frozenset[Status]] = {
    # A fresh tip can be closed as a duplicate or unfounded without being worked.
    Status.new: frozenset({Status.acknowledged, Status.unfounded, Status.duplicate}),
    Status.acknowledged: frozenset({Status.in_progress, Status.unfounded, Status.duplicate}),
    Status.in_progress: frozenset(_CLOSE),
    # A referred ticket waits for the receiving agency; only accept/return move it on.
    Status.referred: frozenset(),
    Status.resolved: frozenset({Status.in_progress}),
    Status.unfounded: frozenset({Status.in_progress}),
    Status.duplicate: frozenset({Status.in_progress}),
}


def illegal_move_reason(current: str, target: str) -> str | None:
    """Why moving from `current` to `target` is refused, or None when it is allowed."""
    src, dst = Status(current), Status(target)
    if src == dst:
        return None
    if dst == Status.referred:
        return "a ticket becomes 'referred' only through POST /tickets/{id}/referrals"
    if src == Status.referred:
        return "the ticket has a pending referral; the receiving agency must accept or return it"
    if dst not in LEGAL_MOVES[src]:
        allowed = ", ".join(sorted(LEGAL_MOVES[src])) or "none"
        return f"a ticket cannot move from '{src}' to '{dst}' (allowed from '{src}': {allowed})"
    return None


def is_closed(status: str) -> bool:
    return Status(status) in CLOSED_STATUSES

"""Priorities (docs/nlu.md, Triage): their order, the rule that a reporter's further messages
only ever raise a ticket's priority, and the service level each one sets."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from intake_api.enums import Priority

# Most urgent first.
ORDER: tuple[str, ...] = tuple(p.value for p in Priority)
_RANK = {name: i for i, name in enumerate(ORDER)}


def is_priority(value: object) -> bool:
    return isinstance(value, str) and value in _RANK


def raises(current: str | None, proposed: str | None) -> bool:
    """Whether `proposed` is more urgent than `current`. Messages from the reporter, or triage
    of later messages, may raise a ticket's priority; only staff lower it."""
    if not is_priority(proposed):
        return False
    if not is_priority(current):
        return True
    return _RANK[str(proposed)] < _RANK[str(current)]


def due_at(
    service_levels_hours: Mapping[str, float], priority: str, created_at: datetime
) -> datetime:
    """First response due, from the configured service level of the priority."""
    return created_at + timedelta(hours=service_levels_hours[priority])

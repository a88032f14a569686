"""Who answers the hotline when: the on-call rota, the operators' hours and days, all in Vietnam
time (settings `voice_on_call`, `voice_hours`, `voice_days`; README, "Voice hotline").

A settings error (a slot that is not `HH:MM-HH:MM=+E164`, a day name that does not exist)
stops start-up with the setting named: a hotline that forwards nowhere is found at deploy time,
not by a caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from intake_api.phones import is_e164

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class RotaError(ValueError):
    """A voice setting cannot be read; the message names it."""


@dataclass(frozen=True)
class Span:
    """A daily span of clock time, [start, end); an end at or before the start runs past
    midnight, and 00:00-24:00 is the whole day."""

    start: time
    end: time | None  # None: midnight at the end of the day (24:00)

    def holds(self, moment: time) -> bool:
        if self.end is None:
            return moment >= self.start
        if self.end <= self.start:
            return moment >= self.start or moment < self.end
        return self.start <= moment < self.end


def parse_span(text: str, setting: str) -> Span:
    match = _SPAN.match(text)
    if match is None:
        raise RotaError(f"{setting}: {text!r} is not a span of time like 07:00-21:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise RotaError(f"{setting}: {text!r} is not a time of day")
    return Span(time(h1, m1), None if h2 == 24 else time(h2, m2))


def _number(value: str, setting: str) -> str:
    number = value.strip()
    if not is_e164(number):
        raise RotaError(f"{setting}: {number!r} is not a phone number in E.164 (+84…)")
    return number


@dataclass(frozen=True)
class Rota:
    slots: tuple[tuple[Span, str], ...]
    fallback: str | None
    operator: str | None
    hours: Span
    days: frozenset[int]

    @classmethod
    def from_settings(
        cls,
        on_call: str,
        fallback: str | None,
        operator: str | None,
        hours: str,
        days: str,
    ) -> Rota:
        slots: list[tuple[Span, str]] = []
        for entry in (e for e in on_call.split(",") if e.strip()):
            if "=" in entry:
                span, _, number = entry.partition("=")
                slots.append((parse_span(span, "voice_on_call"), _number(number, "voice_on_call")))
            else:
                slots.append((Span(time(0, 0), None), _number(entry, "voice_on_call")))
        if not slots:
            raise RotaError("voice_on_call: no number")
        day_set: set[int] = set()
        for name in (d.strip().lower() for d in days.split(",") if d.strip()):
            if name not in DAYS:
                raise RotaError(f"voice_days: {name!r} is not one of {', '.join(DAYS)}")
            day_set.add(DAYS.index(name))
        return cls(
            slots=tuple(slots),
            fallback=_number(fallback, "voice_fallback_number") if fallback else None,
            operator=_number(operator, "voice_operator_number") if operator else None,
            hours=parse_span(hours, "voice_hours"),
            days=frozenset(day_set),
        )

    def on_call(self, moment: datetime) -> str | None:
        """The number on call at `moment`; None when no slot holds it (the fallback then)."""
        local = moment.astimezone(ZONE).time()
        for span, number in self.slots:
            if span.holds(local):
                return number
        return None

    def operators_in(self, moment: datetime) -> bool:
        """Whether the operators' desk is staffed at `moment`. A span past midnight belongs to
        the day it started on."""
        local = moment.astimezone(ZONE)
        clock = local.time()
        if not self.hours.holds(clock):
            return False
        day = local.weekday()
        overnight = self.hours.end is not None and self.hours.end <= self.hours.start
        if overnight and clock < self.hours.start:
            day = (day - 1) % 7
        return day in self.days

    def first_leg(self, moment: datetime, purpose: str) -> tuple[str, str] | None:
        """(leg, number) to dial first for `purpose` ("danger" or "operator"), or None."""
        if purpose == "operator" and self.operator:
            return "on_call", self.operator
        number = self.on_call(moment)
        if number is not None:
            return "on_call", number
        return ("fallback", self.fallback) if self.fallback else None

    def next_leg(self, leg: str) -> tuple[str, str] | None:
        """The leg after `leg` did not answer: the fallback number once, then nobody."""
        if leg == "on_call" and self.fallback:
            return "fallback", self.fallback
        return None

    def any_number(self, moment: datetime) -> str | None:
        """Some number to forward to when everything else failed (emergency answer)."""
        return self.on_call(moment) or self.fallback or self.operator or self.slots[0][1]

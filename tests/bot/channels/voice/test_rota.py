"""The on-call rota and the operators' hours, in Vietnam time; a bad setting stops start-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.voice.rota import Rota, RotaError

A, B, FALLBACK = "+84901111111", "+84902222222", "+84909999999"


def at(hour: int, minute: int = 0, day: int = 2) -> datetime:
    """2 December 2026 (a Wednesday) at this Vietnam time, as UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


def rota(on_call: str = f"07:00-19:00={A},19:00-07:00={B}", **kw: str) -> Rota:
    return Rota.from_settings(
        on_call,
        kw.get("fallback", FALLBACK),
        kw.get("operator"),
        kw.get("hours", "07:00-21:00"),
        kw.get("days", "mon,tue,wed,thu,fri"),
    )


def test_slots_pick_the_number_on_call_including_past_midnight() -> None:
    r = rota()
    assert r.on_call(at(7)) == A
    assert r.on_call(at(18, 59)) == A
    assert r.on_call(at(19)) == B
    assert r.on_call(at(2)) == B
    assert r.first_leg(at(3), "danger") == ("on_call", B)
    assert r.next_leg("on_call") == ("fallback", FALLBACK)
    assert r.next_leg("fallback") is None


def test_a_time_no_slot_holds_goes_to_the_fallback() -> None:
    r = rota(f"08:00-17:00={A}")
    assert r.on_call(at(20)) is None
    assert r.first_leg(at(20), "danger") == ("fallback", FALLBACK)
    assert rota(f"08:00-17:00={A}", fallback="").first_leg(at(20), "danger") is None


def test_a_bare_number_is_on_call_all_day() -> None:
    assert rota(A).on_call(at(0)) == A
    assert rota(A).on_call(at(23, 59)) == A


def test_operators_hours_and_days() -> None:
    r = rota()
    assert r.operators_in(at(9))
    assert not r.operators_in(at(6, 59))
    assert not r.operators_in(at(21))
    assert not r.operators_in(at(9, day=5))  # Saturday
    night = rota(hours="22:00-06:00", days="fri")
    assert night.operators_in(at(23, day=4))  # Friday night
    assert night.operators_in(at(3, day=5))  # Friday's shift, on Saturday morning
    assert not night.operators_in(at(3, day=4))  # Thursday's night is not staffed
    assert rota(hours="00:00-24:00", days="wed").operators_in(at(23, 59))


def test_key_0_dials_the_desk_when_one_is_set() -> None:
    assert rota(operator="+84903333333").first_leg(at(9), "operator") == ("on_call", "+84903333333")
    assert rota().first_leg(at(9), "operator") == ("on_call", A)


@pytest.mark.parametrize(
    ("on_call", "hours", "days", "named"),
    [
        ("0901111111", "07:00-21:00", "mon", "voice_on_call"),
        (f"7h-19h={A}", "07:00-21:00", "mon", "voice_on_call"),
        (A, "25:00-26:00", "mon", "voice_hours"),
        (A, "07:00-21:00", "monday", "voice_days"),
        ("", "07:00-21:00", "mon", "voice_on_call"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(
    on_call: str, hours: str, days: str, named: str
) -> None:
    with pytest.raises(RotaError, match=named):
        Rota.from_settings(on_call, None, None, hours, days)

"""Phone numbers in the forms people and platforms give them, made E.164 in one place."""

from __future__ import annotations

import pytest

from intake_api.phones import to_e164


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("84912345678", "+84912345678"),
        ("+84912345678", "+84912345678"),
        ("0912 345 678", "+84912345678"),
        ("0084-912-345-678", "+84912345678"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("", None),
        ("123", None),
        ("không có số", None),
    ],
)
def test_to_e164(raw: str, expected: str | None) -> None:
    assert to_e164(raw) == expected

"""The licensed-company look-up: fuzzy, accent-insensitive, on a fictional sample list."""

from __future__ import annotations

from datetime import date

import pytest

from bot.dialogue.companies import CompanyRegistry, CompanyRegistryError, core_name
from tests.bot.dialogue.fakes import NLU_DATA

REGISTRY = CompanyRegistry.load(NLU_DATA / "licensed_companies.csv")


@pytest.mark.parametrize(
    "query",
    [
        "cty xkld hoang long",
        "Công ty CP XKLĐ Hoàng Long",
        "CONG TY CO PHAN XUAT KHAU LAO DONG HOANG LONG",
        "công ty hoàng long có uy tín không",
        "cty hoanglong",
        "cty xkld hoang lonh",  # a typo
        "Công ty CP XKLĐ Hoàng Long".encode().decode("utf-8"),
    ],
)
def test_hoang_long_is_found_however_it_is_typed(query):
    match = REGISTRY.find(query)
    assert match is not None
    assert match.company.name == "Công ty CP XKLĐ Hoàng Long"


def test_nfd_input_matches_too():
    import unicodedata

    assert REGISTRY.find(unicodedata.normalize("NFD", "cty Hoàng Long")) is not None


@pytest.mark.parametrize(
    "query", ["long", "cty", "cong ty tnhh", "xin chao", "", "🙂", "a" * 10_000]
)
def test_vague_text_finds_nothing(query):
    assert REGISTRY.find(query) is None


@pytest.mark.parametrize(
    "query",
    [
        # "khach hang luong" is one character away from "hoang long" twice: not a typo.
        "em duoc moi sang Campuchia lam cham soc khach hang luong 2000 do, co that khong",
        "cty hoang son",
        "cty hong ha",  # the listed name has a third word
        "cong ty hoang",
    ],
)
def test_near_but_different_names_find_nothing(query):
    assert REGISTRY.find(query) is None


def test_core_name_strips_legal_forms():
    assert core_name("Công ty TNHH MTV XKLĐ Hoàng Long") == "hoang long"


def test_the_sample_is_clearly_fictional_and_complete():
    assert 12 <= len(REGISTRY.companies) <= 20
    assert all(c.licence_no.startswith("MAU-") for c in REGISTRY.companies)
    header = (NLU_DATA / "licensed_companies.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "FICTIONAL" in header
    standings = {c.standing(date(2025, 9, 1)) for c in REGISTRY.companies}
    assert standings == {"active", "expired", "suspended", "revoked"}


def test_a_licence_past_its_date_is_expired_whatever_its_status():
    company = REGISTRY.find("hoang long").company
    assert company.standing(date(2031, 1, 1)) == "expired"


def test_a_malformed_list_is_refused_at_load(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("name,licence_no,licensed_until,province,status\nX Y Z,1,2030-01-01,HN,maybe\n")
    with pytest.raises(CompanyRegistryError, match="status"):
        CompanyRegistry.load(path)
    path.write_text("name,licence\nX,1\n")
    with pytest.raises(CompanyRegistryError, match="header"):
        CompanyRegistry.load(path)

from __future__ import annotations

import unicodedata

import pytest

from bot.nlu.engine import EmbeddedNLU
from bot.nlu.entities.codes import extract_phones, extract_reference_codes
from bot.nlu.phone import find_phones


def _ents(engine: EmbeddedNLU, text: str, name: str) -> list[dict]:
    return [e for e in engine.parse(text)["entities"] if e["entity"] == name]


@pytest.mark.parametrize(
    "text",
    [
        "0912 345 678",
        "+84912345678",
        "091.234.5678",
        "84912345678",
        "0912-345-678",
        "+84 912 345 678",
    ],
)
def test_phone_shapes_become_e164(text: str) -> None:
    (found,) = find_phones(f"sdt {text} nhe")
    assert found.e164 == "+84912345678"


def test_phone_does_not_swallow_the_next_number() -> None:
    text = "goi 0912 345 678 2 nguoi"
    (entity,) = extract_phones(text)
    assert entity["text"] == "0912 345 678"
    assert entity["value"] == "+84912345678"


def test_landline() -> None:
    (found,) = find_phones("so 024 3823 4567")
    assert found.e164 == "+842438234567"


@pytest.mark.parametrize("typed", ["TIP-7K3Q9", "tip-7k3q9", "TIP 7K3Q9", "tip7k3q9"])
def test_reference_codes(typed: str) -> None:
    text = f"ma {typed} a"
    (entity,) = extract_reference_codes(text)
    assert entity["value"] == "TIP-7K3Q9"
    assert text[entity["start"] : entity["end"]] == typed


def test_reference_code_alphabet_excludes_o_and_i() -> None:
    assert extract_reference_codes("TIP-O1I00") == []


def test_province_old_name_maps_to_2025_unit_and_keeps_text(engine: EmbeddedNLU) -> None:
    text = "con tôi ở Bến Tre"
    (entity,) = _ents(engine, text, "province")
    assert entity["value"] == "Vĩnh Long"
    assert entity["text"] == "Bến Tre" == text[entity["start"] : entity["end"]]


@pytest.mark.parametrize("text", ["o ben tre", "ở bến tre", "O BEN TRE"])
def test_province_accent_and_case_insensitive(engine: EmbeddedNLU, text: str) -> None:
    (entity,) = _ents(engine, text, "province")
    assert entity["value"] == "Vĩnh Long"


def test_province_typo_is_tolerated(engine: EmbeddedNLU) -> None:
    (entity,) = _ents(engine, "em o binh duongg", "province")
    assert entity["value"] == "Thành phố Hồ Chí Minh"
    assert entity["extractor"] == "gazetteer_fuzzy"


def test_country_shorthand(engine: EmbeddedNLU) -> None:
    text = "em bi lua sang tq"
    (entity,) = _ents(engine, text, "country")
    assert entity["value"] == "Trung Quốc" and entity["text"] == "tq"


def test_ambiguous_short_form_needs_a_place_word(engine: EmbeddedNLU) -> None:
    assert _ents(engine, "em dang o ben cam", "country")[0]["value"] == "Campuchia"
    assert _ents(engine, "cam on nhieu", "country") == []
    assert _ents(engine, "em đi lao động", "country") == []


def test_entities_offsets_point_into_nfd_original(engine: EmbeddedNLU) -> None:
    text = unicodedata.normalize("NFD", "Tôi bị nhốt ở Trung Quốc")
    (entity,) = _ents(engine, text, "country")
    assert text[entity["start"] : entity["end"]] == entity["text"]
    assert unicodedata.normalize("NFC", entity["text"]) == "Trung Quốc"


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("con toi 15 tuoi", "15", "15 tuoi"),
        ("em mới 16t", "16", "16t"),
        ("nó mười lăm tuổi", "15", "mười lăm tuổi"),
    ],
)
def test_age(engine: EmbeddedNLU, text: str, value: str, span: str) -> None:
    (entity,) = _ents(engine, text, "age")
    assert entity["value"] == value and entity["text"] == span


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("có 3 cô gái bị đưa đi", "3", "3"),
        ("hai đứa nhỏ bị bắt", "2", "hai"),
        ("hai mươi người bị nhốt", "20", "hai mươi"),
        ("co nam nguoi bi nhot", "5", "nam"),
    ],
)
def test_person_count(engine: EmbeddedNLU, text: str, value: str, span: str) -> None:
    (entity,) = _ents(engine, text, "person_count")
    assert entity["value"] == value and entity["text"] == span


def test_person_count_not_for_durations_in_accented_text(engine: EmbeddedNLU) -> None:
    assert _ents(engine, "đã 3 tháng, nam thanh niên", "person_count") == []


def test_relation_self_before_bi(engine: EmbeddedNLU) -> None:
    (entity,) = _ents(engine, "cứu với, em bị nhốt", "relation")
    assert entity["value"] == "self" and entity["text"] == "em"


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("con gái tôi mất tích", "child", "con gái"),
        ("em trai tôi đi lao động", "sibling", "em trai"),
    ],
)
def test_relation_with_possessor(engine: EmbeddedNLU, text: str, value: str, span: str) -> None:
    (entity,) = _ents(engine, text, "relation")
    assert entity["value"] == value and entity["text"] == span


def test_platform(engine: EmbeddedNLU) -> None:
    (entity,) = _ents(engine, "có người trên zalo rủ đi làm", "platform")
    assert entity["value"] == "zalo"


def test_entity_shape(engine: EmbeddedNLU) -> None:
    text = "sdt 0912 345 678"
    (entity,) = engine.parse(text)["entities"]
    assert set(entity) == {"entity", "value", "start", "end", "text", "extractor"}
    assert text[entity["start"] : entity["end"]] == entity["text"]


def _real_places(real_engine: EmbeddedNLU, text: str) -> list[tuple[str, str]]:
    return [
        (e["value"], e["text"])
        for e in real_engine.parse(text)["entities"]
        if e["entity"] in ("province", "country")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "em về nước được một tuần",  # "nước được" is not "nước Đức"
        "đưa người qua sông bằng đường mòn",  # "bằng đường" is not "Bằng Tường"
        "mang thai hộ vì mục đích thương mại",  # "thương mại" is not "Thượng Hải"
    ],
)
def test_ordinary_words_are_no_misspelt_place(real_engine: EmbeddedNLU, text: str) -> None:
    assert _real_places(real_engine, text) == []


def test_a_misspelt_place_is_still_found(real_engine: EmbeddedNLU) -> None:
    assert _real_places(real_engine, "em bị bán sang campuchea") == [("Campuchia", "campuchea")]


def test_a_kinship_word_needs_its_possessor_right_after_it(real_engine: EmbeddedNLU) -> None:
    relations = [
        (e["value"], e["text"])
        for e in real_engine.parse("cứu em, em ở Bình Dương")["entities"]
        if e["entity"] == "relation"
    ]
    assert ("sibling", "em") not in relations
    sibling = [
        e["value"]
        for e in real_engine.parse("em tôi bị lừa sang Lào")["entities"]
        if e["entity"] == "relation"
    ]
    assert sibling == ["sibling"]

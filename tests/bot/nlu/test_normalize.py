from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from bot.nlu.normalize import (
    Normalizer,
    Teencode,
    collapse_stretching,
    has_diacritics,
    strip_diacritics,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return Normalizer(Teencode.from_file(REPO / "nlu_data" / "teencode.yml"))


def test_strip_diacritics_handles_d_bar_and_nfd() -> None:
    assert strip_diacritics("Đường đi") == "Duong di"
    assert strip_diacritics(unicodedata.normalize("NFD", "nhốt")) == "nhot"
    assert has_diacritics("bị nhốt") and not has_diacritics("bi nhot")


def test_nfd_input_gives_nfc_tokens_with_offsets_into_the_nfd_original(
    normalizer: Normalizer,
) -> None:
    nfc = "Tôi bị nhốt ở Campuchia"
    nfd = unicodedata.normalize("NFD", nfc)
    a, b = normalizer(nfc), normalizer(nfd)
    assert [t.text for t in a.tokens] == [t.text for t in b.tokens]
    assert len(nfd) > len(nfc)
    for token in b.tokens:
        assert unicodedata.normalize("NFC", nfd[token.start : token.end]).lower() == token.typed
    assert nfd[b.tokens[2].start : b.tokens[2].end] == unicodedata.normalize("NFD", "nhốt")


def test_case_and_plain_view(normalizer: Normalizer) -> None:
    nt = normalizer("TÔI BỊ LỪA")
    assert nt.accented == "tôi bị lừa"
    assert nt.plain == "toi bi lua"


def test_teencode_expansion_keeps_the_typed_span(normalizer: Normalizer) -> None:
    text = "e bi lua sang tq, ko dc ve"
    nt = normalizer(text)
    assert nt.accented == "em bi lua sang trung quốc không được ve"
    trung = next(t for t in nt.tokens if t.text == "trung")
    assert text[trung.start : trung.end] == "tq"


def test_contextual_shorthand_only_after_a_place_word(normalizer: Normalizer) -> None:
    assert "campuchia" in normalizer("em dang o ben cam").plain
    assert normalizer("cam on nhieu").plain == "cam on nhieu"


def test_stretched_letters_collapse() -> None:
    assert collapse_stretching("cứuuuu") == "cứu"
    assert collapse_stretching("cuuuuu") == "cuu"
    assert collapse_stretching("emmm") == "em"
    assert collapse_stretching("xoong") == "xoong"


def test_phone_number_is_one_token(normalizer: Normalizer) -> None:
    text = "goi 0912 345 678 nhe"
    nt = normalizer(text)
    phone = [t for t in nt.tokens if t.text == "sdtphone"]
    assert len(phone) == 1 and text[phone[0].start : phone[0].end] == "0912 345 678"


@pytest.mark.parametrize("text", ["", "   \n\t ", "🙏😭🆘", "!!!???"])
def test_texts_without_words_have_no_tokens(normalizer: Normalizer, text: str) -> None:
    assert normalizer(text).tokens == ()


def test_emoji_and_mixed_scripts_keep_offsets(normalizer: Normalizer) -> None:
    text = "😭 cứu em 救命 help"
    for token in normalizer(text).tokens:
        assert text[token.start : token.end].lower() == token.typed


def test_long_message(normalizer: Normalizer) -> None:
    text = ("cứu em với " * 1000)[:10_000]
    nt = normalizer(text)
    assert len(nt.tokens) > 2000
    assert nt.tokens[-1].end <= len(text)

"""Every word a citizen reads comes from nlu_data/, and the files are checked at start-up."""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

import pytest
import yaml

from bot.dialogue.companies import CompanyRegistry
from bot.dialogue.engine import Dialogue
from bot.dialogue.wording import REQUIRED_TEXTS, Wording, WordingError
from tests.bot.dialogue.fakes import HOTLINES, NLU_DATA, RecordingIntake, ScriptedNLU

DIALOGUE_SRC = Path(__file__).resolve().parents[3] / "bot" / "dialogue"
# SMS: 70 UCS-2 characters in one segment, 67 in each segment of a longer message.
SEGMENT = 67
SAMPLE_FIELDS = {
    **HOTLINES,
    "code": "TIP-7K3Q9",
    "place": "Thành phố Hồ Chí Minh",
    "name": "Công ty CP Đào tạo và Phái cử Lao động Ánh Dương Mẫu",
    "licence_no": "MAU-005/GP-VD",
    "licensed_until": "31/12/2030",
    "province": "Thành phố Hồ Chí Minh",
    # A staff reply's own length is the staff member's; a short one checks the frame around it.
    "text": "Chúng tôi đã nhận tin, cảm ơn bạn.",
    # A flood window is at most a minute by default.
    "seconds": 60,
}


def copy_data(tmp_path: Path) -> Path:
    for name in ("responses.yml", "faq.yml"):
        shutil.copy(NLU_DATA / name, tmp_path / name)
    return tmp_path


def test_the_shipped_wording_loads():
    wording = Wording.load(NLU_DATA)
    wording.check_fields(HOTLINES)


def test_the_loader_fails_clearly_on_a_missing_key(tmp_path):
    data = copy_data(tmp_path)
    raw = yaml.safe_load((data / "responses.yml").read_text(encoding="utf-8"))
    del raw["rescue"]["safety"]
    (data / "responses.yml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(WordingError, match=r"responses\.yml.*rescue\.safety"):
        Wording.load(data)


def test_the_loader_fails_clearly_on_a_missing_keyword_list(tmp_path):
    data = copy_data(tmp_path)
    raw = yaml.safe_load((data / "responses.yml").read_text(encoding="utf-8"))
    del raw["keywords"]["skip"]
    (data / "responses.yml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(WordingError, match=r"keywords\.skip"):
        Wording.load(data)


def test_the_loader_fails_clearly_on_a_missing_file(tmp_path):
    with pytest.raises(WordingError, match=r"responses\.yml"):
        Wording.load(tmp_path)


def test_an_unknown_placeholder_stops_the_bot_at_start_not_mid_conversation(tmp_path):
    data = copy_data(tmp_path)
    text = (data / "responses.yml").read_text(encoding="utf-8")
    text = text.replace("{police_emergency} (Công an)", "{police} (Công an)", 1)
    (data / "responses.yml").write_text(text, encoding="utf-8")
    wording = Wording.load(data)
    with pytest.raises(WordingError, match=r"rescue\.first.*\{police\}"):
        Dialogue(
            nlu=ScriptedNLU(),
            intake=RecordingIntake(),
            wording=wording,
            companies=CompanyRegistry.load(NLU_DATA / "licensed_companies.csv"),
            hotlines=HOTLINES,
        )


def test_asking_for_an_unknown_key_names_it():
    with pytest.raises(WordingError, match="no_such_key"):
        Wording.load(NLU_DATA).text("no_such_key")


def _has_vietnamese_letters(text: str) -> bool:
    decomposed = unicodedata.normalize("NFD", text)
    return "đ" in text.lower() or any(unicodedata.combining(ch) for ch in decomposed)


def test_no_vietnamese_text_is_written_in_the_dialogue_code():
    """Not in strings, not even in comments: the code is English, the words are in nlu_data/."""
    offenders = []
    for path in sorted(DIALOGUE_SRC.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _has_vietnamese_letters(line):
                offenders.append(f"{path.relative_to(DIALOGUE_SRC)}:{number}: {line.strip()}")
    assert offenders == []


def test_every_key_the_code_names_is_required_by_the_loader():
    used = set()
    for path in DIALOGUE_SRC.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        used.update(re.findall(r"say\(\s*\"([a-z_.]+)\"", source))
        used.update(re.findall(r"\"((?:offer|tip|rescue|support|follow_up)\.[a-z_.]+)\"", source))
    used = {k for k in used if not k.endswith(".")}
    assert used, "the scan found the keys"
    assert used <= set(REQUIRED_TEXTS), sorted(used - set(REQUIRED_TEXTS))


@pytest.mark.parametrize("key", sorted(Wording.load(NLU_DATA).all_templates()))
def test_replies_fit_in_three_sms_segments_and_faq_answers_in_four(key):
    wording = Wording.load(NLU_DATA)
    text = wording.all_templates()[key].format(**SAMPLE_FIELDS)
    limit = 4 * SEGMENT if key.startswith("faq.") else 3 * SEGMENT
    assert len(text) <= limit, f"{key}: {len(text)} characters"


def test_questions_ask_one_thing_at_a_time():
    wording = Wording.load(NLU_DATA)
    for key, template in wording.texts.items():
        if ".ask_" in key:
            assert template.count("?") <= 2, key

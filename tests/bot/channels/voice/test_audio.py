"""The hotline's wording and recorded prompts: the committed clips say today's wording, a
stale or missing clip is spoken by <Say>, and a broken voice.yml stops start-up."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest
import yaml

from bot.channels.voice.audio import SHIPPED, AudioLibrary, clip_texts, generate
from bot.channels.voice.wording import VoiceWording
from bot.config import BotSettings
from bot.dialogue.wording import WordingError
from intake_api.config import Settings

DATA = BotSettings().nlu_data_dir
AUDIO = SHIPPED


def shipped() -> VoiceWording:
    return VoiceWording.load(DATA, Settings().hotlines)


def test_every_committed_clip_says_the_current_wording() -> None:
    clips = clip_texts(shipped())
    library = AudioLibrary(AUDIO, clips)
    stale = sorted(set(clips) - library.current)
    assert stale == [], f"run `make voice-audio`: {stale}"
    for name in clips:
        with wave.open(str(AUDIO / f"{name}.wav")) as clip:
            assert (clip.getframerate(), clip.getnchannels(), clip.getsampwidth()) == (8000, 1, 2)


def test_other_hotline_numbers_make_the_clips_that_say_them_stale() -> None:
    wording = VoiceWording.load(DATA, {"trafficking_24_7": "1800 1567", "police_emergency": "113"})
    library = AudioLibrary(AUDIO, clip_texts(wording))
    assert not library.has("prompt-emergency")  # it says the 24/7 number
    assert library.has("prompt-greeting")  # it says no number
    assert "1800 1567" in wording.prompts["emergency"]


def test_no_prompt_is_written_in_code() -> None:
    wording = shipped()
    raw = yaml.safe_load((DATA / "voice.yml").read_text(encoding="utf-8"))
    for key, text in wording.prompts.items():
        assert text == raw["prompts"][key].strip().format(
            trafficking_24_7="111", police_emergency="113"
        )


def test_a_missing_prompt_stops_loading_naming_it(tmp_path: Path) -> None:
    data = tmp_path / "nlu_data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("lookups"))
    raw = yaml.safe_load((data / "voice.yml").read_text(encoding="utf-8"))
    del raw["prompts"]["voicemail"]
    raw["info"]["2"] = {"faq": "no_such_topic"}
    (data / "voice.yml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(WordingError, match="voicemail"):
        VoiceWording.load(data, Settings().hotlines)
    raw["prompts"]["voicemail"] = "Sau tiếng bíp, hãy để lại lời nhắn."
    (data / "voice.yml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(WordingError, match="no_such_topic"):
        VoiceWording.load(data, Settings().hotlines)


def test_an_unknown_placeholder_stops_loading(tmp_path: Path) -> None:
    data = tmp_path / "nlu_data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("lookups"))
    raw = yaml.safe_load((data / "voice.yml").read_text(encoding="utf-8"))
    raw["prompts"]["goodbye"] = "Gọi {women_union}."
    (data / "voice.yml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(WordingError, match="goodbye"):
        VoiceWording.load(data, Settings().hotlines)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_generation_writes_only_what_changed_and_the_library_plays_it(tmp_path: Path) -> None:
    out = tmp_path / "audio"
    shutil.copytree(AUDIO, out)
    wording = shipped()
    assert generate(wording, out) == []  # everything committed is current
    changed = VoiceWording(
        prompts={**wording.prompts, "goodbye": "Tạm biệt."},
        info=wording.info,
        characters=wording.characters,
        transcript=wording.transcript,
    )
    assert AudioLibrary(out, clip_texts(changed)).has("prompt-goodbye") is False
    assert generate(changed, out) == ["prompt-goodbye"]
    assert AudioLibrary(out, clip_texts(changed)).has("prompt-goodbye")
    with wave.open(str(out / "prompt-goodbye.wav")) as clip:
        assert clip.getframerate() == 8000
        assert clip.getnframes() > 2000

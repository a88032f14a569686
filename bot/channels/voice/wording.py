"""What the hotline says, loaded from `nlu_data/voice.yml`, with the information answers taken
from the chat's own wording (`nlu_data/faq.yml`, `nlu_data/responses.yml`).

Everything is rendered once, at start-up, with the configured hotline numbers: a prompt that
cannot be rendered stops the bot with the file and key named, never a caller mid-call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.dialogue.wording import Wording, WordingError, render
from intake_api.refcodes import ALPHABET, PREFIX

VOICE_FILE = "voice.yml"

PROMPTS: tuple[str, ...] = (
    "greeting",
    "after_hours",
    "menu",
    "no_input",
    "wrong_key",
    "danger_filed",
    "code_intro",
    "code_again",
    "connecting",
    "fallback_connecting",
    "voicemail",
    "record_prompt",
    "record_thanks",
    "no_recording",
    "operator_connecting",
    "operator_closed",
    "info_menu",
    "goodbye",
    "emergency",
)
TRANSCRIPT_LINES: tuple[str, ...] = ("danger", "report", "operator", "info", "none", "after_hours")
# Keys of the information menu (key 9 goes back to the main menu).
INFO_KEYS: tuple[str, ...] = ("1", "2", "3")
SPOKEN = frozenset(ALPHABET) | frozenset(PREFIX)


@dataclass(frozen=True)
class VoiceWording:
    """Every text the hotline speaks, rendered: prompts by name, information answers by key,
    the spoken name of each reference-code character, and the ticket transcript lines."""

    prompts: Mapping[str, str]
    info: Mapping[str, str]
    characters: Mapping[str, str]
    transcript: Mapping[str, str]

    @classmethod
    def load(cls, data_dir: Path, hotlines: Mapping[str, str]) -> VoiceWording:
        path = Path(data_dir) / VOICE_FILE
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise WordingError(f"cannot read {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise WordingError(f"{path}: expected a mapping")
        chat = Wording.load(data_dir)
        prompts = _section(raw, "prompts", PROMPTS, path)
        transcript = _section(raw, "transcript", TRANSCRIPT_LINES, path)
        rendered = {
            key: render(text, hotlines, where=f"{path}: prompts.{key}")
            for key, text in prompts.items()
        }
        info: dict[str, str] = {}
        choices = raw.get("info")
        if not isinstance(choices, dict):
            raise WordingError(f"{path}: missing the 'info' mapping")
        for key in INFO_KEYS:
            source = choices.get(key)
            if not isinstance(source, dict) or len(source) != 1:
                raise WordingError(f"{path}: info.{key} must name one 'faq' topic or 'response'")
            [(kind, name)] = source.items()
            if kind == "faq":
                try:
                    template = chat.faq.named(str(name)).answer
                except (KeyError, LookupError, ValueError) as exc:
                    raise WordingError(f"{path}: info.{key}: no FAQ topic {name!r}") from exc
                info[key] = render(template, hotlines, where=f"{path}: info.{key}")
            elif kind == "response":
                info[key] = chat.text(str(name), **hotlines)
            else:
                raise WordingError(f"{path}: info.{key}: {kind!r} is neither 'faq' nor 'response'")
        spoken = raw.get("spoken_characters")
        if not isinstance(spoken, dict):
            raise WordingError(f"{path}: missing the 'spoken_characters' mapping")
        characters = {str(k): str(v).strip() for k, v in spoken.items() if str(v).strip()}
        absent = sorted(SPOKEN - set(characters))
        if absent:
            raise WordingError(f"{path}: spoken_characters lacks {', '.join(absent)}")
        return cls(prompts=rendered, info=info, characters=characters, transcript=transcript)


def _section(raw: dict[object, object], name: str, keys: tuple[str, ...], path: Path) -> dict:
    section = raw.get(name)
    if not isinstance(section, dict):
        raise WordingError(f"{path}: missing the '{name}' mapping")
    texts = {str(k): str(v).strip() for k, v in section.items() if isinstance(v, str)}
    missing = [k for k in keys if not texts.get(k)]
    if missing:
        raise WordingError(f"{path}: missing or empty {name} key(s): {', '.join(missing)}")
    return texts

"""TwiML the hotline answers, built with the twilio library's `VoiceResponse`: each prompt is
`<Play>` of its recorded clip while the clip is current, else `<Say language="vi-VN">` of the
same text (bot/channels/voice/audio.py)."""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse

from bot.channels.voice.audio import AudioLibrary
from bot.channels.voice.wording import VoiceWording

LANGUAGE = "vi-VN"
AUDIO_PATH = "/voice/audio"
# Between the characters of a reference code, so a caller can write each one down.
CHARACTER_PAUSE_SECONDS = 1

Target = VoiceResponse | Gather


class Speaker:
    def __init__(
        self, wording: VoiceWording, library: AudioLibrary, base_url: str, tts_voice: str
    ) -> None:
        self.wording = wording
        self.library = library
        self.base_url = base_url.rstrip("/")
        self.tts_voice = tts_voice

    def _speak(self, target: Target, clip: str, text: str) -> None:
        if self.library.has(clip):
            target.play(f"{self.base_url}{AUDIO_PATH}/{clip}.wav")
        else:
            target.say(text, language=LANGUAGE, voice=self.tts_voice)

    def prompt(self, target: Target, key: str) -> None:
        self._speak(target, f"prompt-{key}", self.wording.prompts[key])

    def info(self, target: Target, key: str) -> None:
        self._speak(target, f"info-{key}", self.wording.info[key])

    def code(self, target: Target, reference_code: str) -> None:
        """The reference code, character by character with a pause after each, twice."""
        characters = [c for c in reference_code.upper() if c in self.wording.characters]
        for intro in ("code_intro", "code_again"):
            self.prompt(target, intro)
            for character in characters:
                self._speak(target, f"char-{character}", self.wording.characters[character])
                target.pause(length=CHARACTER_PAUSE_SECONDS)


def twiml(response: VoiceResponse) -> str:
    return str(response.to_xml(xml_declaration=True))

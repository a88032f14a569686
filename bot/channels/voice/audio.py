"""The hotline's recorded prompts: generated from `nlu_data/voice.yml` with espeak-ng's
Vietnamese voice (`make voice-audio`), committed as small WAV files (8 kHz, mono, 16-bit PCM,
what a telephone carries), and served by the app for Twilio's `<Play>`.

`manifest.json` keeps, for each file, a digest of the text it says. A prompt is played only
while its rendered text (wording and configured hotline numbers) still has that digest: an
edited prompt, or another province's numbers, is spoken by `<Say language="vi-VN">` until the
audio is generated again, so a caller never hears an outdated number.

    python -m bot.channels.voice.audio [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from bot.channels.voice.wording import VoiceWording

MANIFEST = "manifest.json"
# The clips shipped with the code (committed, so no machine needs espeak-ng to serve them).
SHIPPED = Path(__file__).resolve().parent / "audio"
RATE = 8000
# espeak-ng's words per minute: a little slower than its default, for a phone line.
SPEED = 140


def clip_texts(wording: VoiceWording) -> dict[str, str]:
    """Every clip the hotline may play, by file name (without `.wav`), with what it says."""
    clips = {f"prompt-{key}": text for key, text in wording.prompts.items()}
    clips.update({f"info-{key}": text for key, text in wording.info.items()})
    clips.update({f"char-{ch}": name for ch, name in wording.characters.items()})
    return clips


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class AudioLibrary:
    """The committed clips whose text is still current."""

    def __init__(self, directory: Path, clips: Mapping[str, str]) -> None:
        self.directory = Path(directory)
        try:
            manifest = json.loads((self.directory / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {}
        self.current = frozenset(
            name
            for name, text in clips.items()
            if isinstance(manifest, dict)
            and manifest.get(name) == digest(text)
            and (self.directory / f"{name}.wav").is_file()
        )

    def has(self, name: str) -> bool:
        return name in self.current

    def path(self, name: str) -> Path | None:
        return self.directory / f"{name}.wav" if name in self.current else None


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """To 8 kHz: a moving-average low-pass at the new Nyquist frequency, then linear
    interpolation (speech only; no dependency beyond numpy)."""
    if rate == RATE:
        return samples
    width = max(1, round(rate / RATE))
    smoothed = np.convolve(samples.astype(np.float64), np.ones(width) / width, mode="same")
    positions = np.arange(0, len(samples), rate / RATE)
    return np.interp(positions, np.arange(len(samples)), smoothed)


def synthesize(text: str, target: Path, espeak: str = "espeak-ng") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(
            [espeak, "-v", "vi", "-s", str(SPEED), "-w", str(raw), text],
            check=True,
            capture_output=True,
        )
        with wave.open(str(raw), "rb") as source:
            if source.getsampwidth() != 2:
                raise RuntimeError("espeak-ng wrote samples of an unexpected width")
            rate, channels = source.getframerate(), source.getnchannels()
            frames = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
        if channels > 1:
            frames = frames.reshape(-1, channels).mean(axis=1)
        out = np.clip(np.round(_resample(frames, rate)), -32768, 32767).astype("<i2")
    with wave.open(str(target), "wb") as sink:
        sink.setnchannels(1)
        sink.setsampwidth(2)
        sink.setframerate(RATE)
        sink.writeframes(out.tobytes())


def generate(wording: VoiceWording, directory: Path, espeak: str = "espeak-ng") -> list[str]:
    """Writes every clip whose text changed (and the manifest); returns the names written.
    Clips no text names any more are removed."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    clips = clip_texts(wording)
    written = []
    for name, text in sorted(clips.items()):
        wav = directory / f"{name}.wav"
        if manifest.get(name) == digest(text) and wav.is_file():
            continue
        synthesize(text, wav, espeak)
        written.append(name)
    for stale in directory.glob("*.wav"):
        if stale.stem not in clips:
            stale.unlink()
    fresh = {name: digest(text) for name, text in sorted(clips.items())}
    (directory / MANIFEST).write_text(json.dumps(fresh, indent=1) + "\n", encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    from bot.config import get_bot_settings
    from intake_api.config import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="the audio directory")
    args = parser.parse_args(argv)
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        print("espeak-ng is not installed (apt-get install espeak-ng)", file=sys.stderr)
        return 1
    bot = get_bot_settings()
    wording = VoiceWording.load(bot.nlu_data_dir, get_settings().hotlines)
    written = generate(wording, args.out or bot.voice_audio_dir or SHIPPED, espeak)
    print(f"{len(written)} clip(s) written, {len(clip_texts(wording))} in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())

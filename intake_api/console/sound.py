"""The sound of a P1 arrival: a short two-note chime, made here as a WAV file so the console
needs no binary asset and nothing from the internet."""

from __future__ import annotations

import io
import math
import struct
import wave
from functools import lru_cache

RATE = 16_000
# Two rising notes (E6, A6), each with a quick fade so they do not click.
NOTES = ((1318.5, 0.16), (1760.0, 0.26))
GAP_SECONDS = 0.04


@lru_cache
def chime() -> bytes:
    frames = bytearray()
    for frequency, seconds in NOTES:
        count = int(RATE * seconds)
        for i in range(count):
            envelope = min(1.0, i / (0.01 * RATE), (count - i) / (0.06 * RATE))
            sample = 0.5 * envelope * math.sin(2 * math.pi * frequency * i / RATE)
            frames += struct.pack("<h", int(sample * 32767))
        frames += b"\x00\x00" * int(RATE * GAP_SECONDS)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(bytes(frames))
    return out.getvalue()

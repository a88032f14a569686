"""One inbound message as the flows see it: the text, its folded form and its NLU parse."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bot.contract import InboundMessage
from bot.dialogue.folding import contains_phrase, fold


def storable(text: str) -> str:
    """The text as received, minus what storage cannot hold: NUL (PostgreSQL text refuses it)
    and lone UTF-16 surrogates (UTF-8 cannot encode them; some JSON decoders produce them).
    Anything else, emoji included, is kept exactly."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Pairs become the character they encode; a lone half becomes U+FFFD.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


@dataclass(frozen=True)
class Incoming:
    message: InboundMessage
    conversation_id: str
    text: str  # exactly as received; "" when the message had none (a location share)
    folded: str
    parse: dict[str, Any]
    # Stands in the transcript for media the bot cannot read ("[a photo was sent]").
    media_note: str = ""

    @classmethod
    def of(
        cls,
        message: InboundMessage,
        conversation_id: str,
        parse: dict[str, Any],
        media_note: str = "",
    ) -> Incoming:
        text = storable(message.text) if isinstance(message.text, str) else ""
        return cls(message, conversation_id, text, fold(text), parse, media_note)

    @property
    def is_media_only(self) -> bool:
        """A photo, voice note, sticker or file with no words and no location."""
        return bool(self.message.attachment) and not self.text.strip() and self.location is None

    @property
    def intent(self) -> str:
        intent = self.parse.get("intent") or {}
        return str(intent.get("name") or "out_of_scope")

    @property
    def confidence(self) -> float:
        intent = self.parse.get("intent") or {}
        try:
            return float(intent.get("confidence") or 0.0)
        except (TypeError, ValueError):
            return 0.0

    def entity(self, name: str) -> str | None:
        for entity in self.parse.get("entities") or []:
            if entity.get("entity") == name and entity.get("value") is not None:
                return str(entity["value"])
        return None

    @property
    def location(self) -> tuple[float, float] | None:
        """The shared location, if it is a real one (NaN would not survive JSON storage)."""
        shared = self.message.location
        if shared is None:
            return None
        try:
            lat, lon = float(shared[0]), float(shared[1])
        except (TypeError, ValueError, IndexError):
            return None
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return None
        return (lat, lon)

    @property
    def location_text(self) -> str | None:
        """A shared location as a geo URI (RFC 5870): readable by staff, and no prose in code."""
        if self.location is None:
            return None
        lat, lon = self.location
        return f"geo:{lat:.6f},{lon:.6f}"

    @property
    def is_location_only(self) -> bool:
        return self.location is not None and not self.folded

    @property
    def is_blank(self) -> bool:
        """Nothing to read: no text (or only emoji/punctuation) and no location."""
        return not self.folded and self.location is None

    @property
    def record_text(self) -> str:
        """What goes into the transcript and ticket updates for this message."""
        parts = [p for p in (self.text.strip(), self.location_text, self.media_note) if p]
        return "\n".join(parts)

    def says(self, phrases: tuple[str, ...]) -> bool:
        """The whole message is one of the (folded) phrases: a command or a button."""
        return bool(self.folded) and self.folded in phrases

    def mentions(self, phrases: tuple[str, ...]) -> bool:
        return any(contains_phrase(self.folded, p) for p in phrases)

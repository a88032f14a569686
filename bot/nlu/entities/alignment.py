"""Lining up annotated character spans of training examples with normalised tokens."""

from __future__ import annotations

from bot.nlu.normalize import NormalizedText
from bot.nlu.training_data import EntitySpan


def token_range(nt: NormalizedText, span: EntitySpan) -> tuple[int, int] | None:
    """Indices [first, last+1) of the tokens inside the annotated span, or None if none are."""
    inside = [i for i, t in enumerate(nt.tokens) if t.start < span.end and span.start < t.end]
    return (inside[0], inside[-1] + 1) if inside else None


def entity_dict(
    entity: str, value: str, start: int, end: int, text: str, extractor: str
) -> dict[str, object]:
    """One entity in the parse shape of docs/nlu.md."""
    return {
        "entity": entity,
        "value": value,
        "start": start,
        "end": end,
        "text": text[start:end],
        "extractor": extractor,
    }

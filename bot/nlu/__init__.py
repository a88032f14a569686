"""The Vietnamese NLU: `load_nlu()` gives the configured backend; `parse(text)` its reading."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import BotSettings
    from bot.nlu.backend import NLUBackend

__all__ = ["load_nlu"]


def load_nlu(settings: BotSettings | None = None) -> NLUBackend:
    # Imported on call so `import bot.nlu` (and the `hotline` CLI) stays cheap.
    from bot.nlu.loading import load_nlu as _load

    return _load(settings)

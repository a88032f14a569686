"""`load_nlu()`: the configured NLU backend, ready to parse."""

from __future__ import annotations

import logging

from bot.config import BotSettings, get_bot_settings
from bot.nlu.backend import NLUBackend

log = logging.getLogger(__name__)


def load_embedded(settings: BotSettings) -> NLUBackend:
    from bot.nlu.artefact import load_or_train

    return load_or_train(settings.nlu_model_path, settings.nlu_data_dir)


def load_nlu(settings: BotSettings | None = None) -> NLUBackend:
    s = settings or get_bot_settings()
    if s.nlu_backend == "rasa":
        # Imported here: the Rasa client pulls in httpx, which the embedded default never needs.
        from bot.nlu.rasa_client import RasaNLU

        fallback = None
        if s.rasa_fallback_to_embedded:
            try:
                fallback = load_embedded(s)
            except Exception as exc:  # Rasa may still answer; a missing fallback is not fatal
                log.warning("embedded fallback NLU unavailable: %s", exc)
        return RasaNLU(
            url=s.rasa_url,
            token=s.rasa_token,
            timeout=s.rasa_timeout_seconds,
            retries=s.rasa_retries,
            fallback=fallback,
        )
    return load_embedded(s)

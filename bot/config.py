"""Settings of the citizen-facing side: NLU backend, Rasa server, channels.

Read from `HOTLINE_*` environment variables and, optionally, the TOML file named by
`HOTLINE_CONFIG_FILE` (its `[bot]` table), so one file configures a whole deployment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from intake_api.config_sources import toml_table_source

REPO_ROOT = Path(__file__).resolve().parent.parent


class BotSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    nlu_backend: Literal["embedded", "rasa"] = "embedded"
    nlu_data_dir: Path = REPO_ROOT / "nlu_data"
    # Where `hotline nlu train` writes the embedded model; rebuilt when stale.
    nlu_model_path: Path = REPO_ROOT / "var" / "nlu_model.pkl"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str | None = None
    rasa_timeout_seconds: float = 3.0
    rasa_retries: int = 2
    # When Rasa is down, parse with the embedded engine instead of failing the message.
    rasa_fallback_to_embedded: bool = True

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, *args, **kwargs):  # type: ignore[no-untyped-def]
        return (init_settings, env_settings, toml_table_source(settings_cls, "bot"))


@lru_cache
def get_bot_settings() -> BotSettings:
    return BotSettings()

"""Settings of the citizen-facing side: NLU backend, Rasa server, channels.

Read from `HOTLINE_*` environment variables and, optionally, the TOML file named by
`HOTLINE_CONFIG_FILE` (its `[bot]` table), so one file configures a whole deployment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from intake_api.config_sources import TomlTableSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


class BotSettings(TomlTableSettings):
    toml_table = "bot"
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

    # Database for conversations, the inbox and the outbox (defaults to the API's database).
    # Intake API: "inprocess" when bot and API share a process (`make run`), else its base URL.
    intake_transport: Literal["inprocess", "http"] = "inprocess"
    intake_url: str = "http://127.0.0.1:8000"
    intake_token: str | None = None
    intake_timeout_seconds: float = 5.0
    outbox_max_backoff_seconds: float = 300.0
    reply_poll_seconds: float = 3.0
    # Per-sender flood limit: messages per window.
    rate_limit_messages: int = 20
    rate_limit_window_seconds: int = 60
    # An unfinished report (a tip or support request whose questions are not all answered) is
    # filed with what was said after this much silence; a rescue is filed at its first message.
    silence_filing_minutes: float = 10.0
    # Below this intent confidence the bot asks the person to rephrase.
    low_confidence_threshold: float = 0.45
    public_base_url: str = "http://127.0.0.1:8000"

    # Telegram (python-telegram-bot)
    telegram_token: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_api_base: str = "https://api.telegram.org/bot"

    # Zalo Official Account
    zalo_app_id: str | None = None
    zalo_app_secret: str | None = None
    zalo_oa_secret_key: str | None = None
    zalo_access_token: str | None = None
    zalo_refresh_token: str | None = None
    zalo_openapi_base: str = "https://openapi.zalo.me"
    zalo_oauth_base: str = "https://oauth.zaloapp.com"
    # A signed event older than this is refused: a captured webhook cannot be replayed later.
    zalo_max_event_age_seconds: int = 3600

    # SMS through Twilio
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_api_base: str | None = None  # tests point the SDK at a local fake
    # Send SMS replies without diacritics so they fit 160-character GSM-7 segments.
    sms_strip_diacritics: bool = False

    # The voice hotline through Twilio Programmable Voice (README, "Voice hotline"), with the
    # Twilio account above. Switched on by the on-call rota: one number ("+84901234567"), or
    # "HH:MM-HH:MM=+84…" slots in Vietnam time separated by commas (the first slot holding
    # the time wins; a slot may run past midnight).
    voice_on_call: str | None = None
    # Dialled when the on-call number does not answer (busy, no answer, failed).
    voice_fallback_number: str | None = None
    # The operators' desk, dialled for key 0 in the operators' hours (default: the rota).
    voice_operator_number: str | None = None
    # The operators' hours, in Vietnam time, and their days; outside them key 0 takes a
    # voicemail and every call not answered by a person becomes an after-hours call-back.
    voice_hours: str = "07:00-21:00"
    voice_days: str = "mon,tue,wed,thu,fri,sat,sun"
    # The number callers' forwarded legs show (callerId of <Dial>); default: the number called.
    voice_caller_id: str | None = None
    voice_dial_timeout_seconds: int = Field(default=20, ge=5, le=120)
    voice_max_recording_seconds: int = Field(default=180, ge=10, le=3600)
    # Silences or wrong keys before the caller is forwarded to a person anyway: someone in
    # danger may be unable to press a key.
    voice_menu_attempts: int = Field(default=3, ge=1, le=10)
    # The Twilio text-to-speech voice of the <Say> fallback (docs/platforms.md §4).
    voice_tts_voice: str = "Google.vi-VN-Standard-A"
    # The prompts' recordings (`make voice-audio` makes them from nlu_data/voice.yml); empty:
    # the ones shipped with the code.
    voice_audio_dir: Path | None = None


@lru_cache
def get_bot_settings() -> BotSettings:
    return BotSettings()

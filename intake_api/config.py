"""The intake API's settings: one object, read from `HOTLINE_*` variables and the TOML file.

Everything a province changes (agencies, hotlines, service levels, provinces) is configuration
with Vietnamese defaults, so a deployment never edits code for it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from intake_api.config_sources import TomlTableSettings
from intake_api.provinces import ProvinceNames

REPO_ROOT = Path(__file__).resolve().parent.parent


class Agency(BaseModel):
    code: str
    name: str
    hotline: str | None = None


DEFAULT_AGENCIES = [
    Agency(code="police", name="Công an", hotline="113"),
    # The 2025 reorganisation renamed the provincial social-affairs service; the name is
    # configuration so each province can use its own.
    Agency(code="dolisa", name="Sở Y tế (công tác xã hội, hỗ trợ nạn nhân)", hotline="111"),
    Agency(code="border_guard", name="Bộ đội Biên phòng"),
    Agency(code="coast_guard", name="Cảnh sát biển"),
    Agency(code="commune", name="Ủy ban nhân dân xã, phường"),
    Agency(code="womens_union", name="Hội Liên hiệp Phụ nữ"),
]

# The 34 provincial units in force since 1 July 2025 (Resolution 202/2025/QH15).
DEFAULT_PROVINCES = [
    "Hà Nội", "Huế", "Lai Châu", "Điện Biên", "Sơn La", "Lạng Sơn", "Quảng Ninh", "Thanh Hóa",
    "Nghệ An", "Hà Tĩnh", "Cao Bằng", "Tuyên Quang", "Lào Cai", "Thái Nguyên", "Phú Thọ",
    "Bắc Ninh", "Hưng Yên", "Hải Phòng", "Ninh Bình", "Quảng Trị", "Đà Nẵng", "Quảng Ngãi",
    "Gia Lai", "Khánh Hòa", "Lâm Đồng", "Đắk Lắk", "Thành phố Hồ Chí Minh", "Đồng Nai",
    "Tây Ninh", "Cần Thơ", "Vĩnh Long", "Đồng Tháp", "Cà Mau", "An Giang",
]  # fmt: skip


class Settings(TomlTableSettings):
    toml_table = "api"
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'hotline.db'}"
    # Where generated secrets live when none are configured (the embedded `make run` set-up).
    data_dir: Path = REPO_ROOT / "var"
    # Fernet keys, newest first; older keys still decrypt, so rotation is add-then-rewrap.
    encryption_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    blind_index_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    timezone: str = "Asia/Ho_Chi_Minh"
    token_ttl_minutes: int = 12 * 60
    max_body_bytes: int = 64 * 1024
    # Sign-in throttling (docs/api.md): attempts per account and per client address in the
    # window before each further one waits, the wait doubling from login_delay_seconds.
    login_max_failures: int = 5
    login_max_failures_per_address: int = 10
    login_window_seconds: int = 15 * 60
    login_delay_seconds: float = 2.0
    reply_lease_seconds: int = 120
    resolution_target: float = 0.9
    # The staff console (/console): a session ends after this long without a page or an action
    # (the queue's own refreshes do not count as activity).
    console_idle_minutes: float = Field(default=30.0, gt=0)
    # The session cookie's Secure flag: None sets it when the request came over https;
    # true or false force it (true behind a TLS-terminating proxy that forwards plain http).
    console_cookie_secure: bool | None = None
    # How often an open queue asks for new tickets, and a ticket page for delivery states.
    console_poll_seconds: float = Field(default=4.0, ge=1, le=60)
    agencies: list[Agency] = Field(default_factory=lambda: list(DEFAULT_AGENCIES))
    # First-response service levels in hours, per priority (docs/nlu.md: P1 1 h, P2 24 h, P3 72 h).
    service_levels_hours: dict[str, float] = Field(
        default_factory=lambda: {"P1": 1.0, "P2": 24.0, "P3": 72.0}
    )
    hotlines: dict[str, str] = Field(
        default_factory=lambda: {"trafficking_24_7": "111", "police_emergency": "113"}
    )
    provinces: list[str] = Field(default_factory=lambda: list(DEFAULT_PROVINCES))
    # Other names of the provinces (pre-2025 units, unaccented forms), mapped onto `provinces`:
    # the NLU's lookup file, read as data. None accepts only the configured names.
    province_names_file: Path | None = REPO_ROOT / "nlu_data" / "lookups" / "provinces.yml"
    # Twilio credentials, the same `HOTLINE_TWILIO_*` the bot's voice and SMS channels use:
    # staff play a call's recording through the API, which fetches it from Twilio with them,
    # so the credentials never leave the server (docs/api.md, Calls).
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    # Tests point this at a local fake of Twilio's REST API.
    twilio_api_base: str | None = None

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @field_validator("province_names_file", mode="before")
    @classmethod
    def _no_names_file(cls, value: object) -> object:
        # HOTLINE_PROVINCE_NAMES_FILE= (empty) switches the other names off.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _names_file_if_shipped(self) -> Settings:
        # The default is the repository's lookup; an installed package without it maps nothing
        # (only the configured names are accepted), while a path given explicitly must exist.
        default = "province_names_file" not in self.model_fields_set
        if default and self.province_names_file and not self.province_names_file.is_file():
            self.province_names_file = None
        return self

    @property
    def agency_codes(self) -> list[str]:
        return [a.code for a in self.agencies]

    @property
    def province_names(self) -> ProvinceNames:
        return province_names(tuple(self.provinces), self.province_names_file)


@lru_cache(maxsize=16)
def province_names(provinces: tuple[str, ...], names_file: Path | None) -> ProvinceNames:
    return ProvinceNames(provinces, names_file)


@lru_cache
def get_settings() -> Settings:
    return Settings()

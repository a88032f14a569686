"""The optional TOML configuration file shared by the API and the bot."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource


def config_file_path() -> Path | None:
    raw = os.environ.get("HOTLINE_CONFIG_FILE")
    return Path(raw) if raw else None


def read_config_file() -> dict[str, Any]:
    path = config_file_path()
    if path is None:
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise RuntimeError(f"HOTLINE_CONFIG_FILE points at {path}, which does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RuntimeError(f"{path} is not valid TOML: {exc}") from exc


class _TomlTableSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], table: str | None) -> None:
        super().__init__(settings_cls)
        data = read_config_file()
        self._values: dict[str, Any] = data.get(table, {}) if table else data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._values.items() if k in self.settings_cls.model_fields}


def toml_table_source(
    settings_cls: type[BaseSettings], table: str | None
) -> PydanticBaseSettingsSource:
    """Values from one table of the TOML file (or its top level when `table` is None)."""
    return _TomlTableSource(settings_cls, table)


class TomlTableSettings(BaseSettings):
    """Settings read from `HOTLINE_*` variables first, then from one table of the TOML file."""

    toml_table: ClassVar[str | None] = None

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        return (init_settings, env_settings, toml_table_source(settings_cls, cls.toml_table))

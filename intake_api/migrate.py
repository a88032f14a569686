"""Schema migrations with Alembic; the only way tables are created outside tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str, script_location: Path = MIGRATIONS_DIR) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head", script_location: Path = MIGRATIONS_DIR) -> None:
    """Migrates the API's tables (or, given another `script_location`, that history's)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False), script_location)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

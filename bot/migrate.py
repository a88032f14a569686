"""The whole database's schema: the intake API's history first, then the bot's own."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from intake_api.migrate import upgrade as upgrade_api

BOT_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Both histories to `revision` (a revision of the API's history goes to the API only)."""
    upgrade_api(engine, revision)
    if revision == "head":
        upgrade_api(engine, "head", BOT_MIGRATIONS_DIR)

"""Alembic environment of the bot's tables: their own history and version table, beside the
intake API's (`hotline db upgrade` runs the API's first, then this one)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import bot.models  # noqa: F401  (registers the bot's tables on SQLModel.metadata)

VERSION_TABLE = "bot_alembic_version"
config = context.config


def _bot_tables_only(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    # The shared metadata also holds the API's tables; those belong to the API's history.
    return type_ != "table" or str(name).startswith("bot_")


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    # Batch mode lets later migrations alter columns on SQLite too.
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        version_table=VERSION_TABLE,
        include_object=_bot_tables_only,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()

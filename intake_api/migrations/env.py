"""Alembic environment: the URL comes from the caller (`hotline db upgrade`), never from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

import intake_api.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def _api_tables_only(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    # The bot's tables (`bot_*`) have their own history in bot/migrations/.
    return type_ != "table" or not str(name).startswith("bot_")


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = engine_from_config(
            config.get_section(config.config_ini_section, {}),
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    # Batch mode lets later migrations alter columns on SQLite too.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_api_tables_only,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

"""`hotline backup`, `hotline restore` and `hotline verify`: the embedded SQLite database copied
while it runs, put back, and proved readable with the configured keys (PostgreSQL: pg_dump and
pg_restore, then `hotline verify`; README "Running the stack")."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from intake_api.cli import fail

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from intake_api.backup import IndexCheck, Readability
    from intake_api.crypto import PersonalDataCipher


def _configured():  # type: ignore[no-untyped-def]
    from intake_api.config import get_settings
    from intake_api.keyfile import cipher_from_settings

    settings = get_settings()
    return settings, cipher_from_settings(settings)


def _index_checks(engine: Engine, cipher: PersonalDataCipher) -> list[IndexCheck]:
    """The blind indexes the bot keeps, recomputed by the bot's own function."""
    from bot.messaging.conversations import ConversationStore
    from intake_api.backup import IndexCheck

    store = ConversationStore(engine, cipher)
    return [
        IndexCheck("bot_conversations", "sender_hash", ("channel", "sender_id"), store.sender_hash)
    ]


def _readability(
    cipher: PersonalDataCipher, url: str | None = None, file: Path | None = None
) -> Readability:
    """check_readable on the database at `url`, or on a backup `file` opened read-only (checking
    a backup must not change it, not even into a WAL database)."""
    import sqlite3

    from sqlmodel import create_engine

    from intake_api.backup import check_readable
    from intake_api.db import make_engine

    if file is not None:
        uri = f"{file.resolve().as_uri()}?mode=ro"
        engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))
    else:
        engine = make_engine(url or "")
    try:
        return check_readable(engine, cipher, _index_checks(engine, cipher))
    finally:
        engine.dispose()


def _summary(report: Readability) -> str:
    return (
        f"{report.rows.get('tickets', 0)} tickets, "
        f"{report.rows.get('bot_conversations', 0)} conversations: "
        f"{report.values} encrypted values decrypt and {report.indexed} blind indexes match "
        "the configured keys"
    )


def backup(
    target: Annotated[Path, typer.Argument(help="A new file to write the copy to")],
) -> None:
    """Copy the embedded SQLite database into TARGET while the service keeps running."""
    from intake_api.backup import BackupError, backup_sqlite, sqlite_path

    settings, _ = _configured()
    try:
        copied = backup_sqlite(sqlite_path(settings.database_url), target)
    except BackupError as exc:
        fail(f"no backup made: {exc}")
        return
    typer.echo(
        f"backed up {copied.tickets} tickets and {copied.conversations} conversations to {target}"
    )


def restore(
    backup_file: Annotated[Path, typer.Argument(help="A file made by `hotline backup`")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that already holds data")
    ] = False,
) -> None:
    """Put a backup in place of the embedded SQLite database, once it is proved readable with
    the configured keys. Stop the service first."""
    from intake_api.backup import BackupError, restore_sqlite, sqlite_path

    settings, cipher = _configured()
    try:
        database = sqlite_path(settings.database_url)
        copied = restore_sqlite(
            backup_file,
            database,
            lambda path: _readability(cipher, file=path),
            force=force,
        )
    except BackupError as exc:
        fail(str(exc))
        return
    if copied.saved_previous:
        typer.echo(f"the database it replaced is kept at {copied.saved_previous}")
    typer.echo(
        f"restored {copied.tickets} tickets and {copied.conversations} conversations into "
        f"{database}; `hotline db upgrade` (or the next start) brings the schema up to date"
    )


def verify() -> None:
    """Prove the configured database readable with the configured keys: every encrypted value
    decrypts and every blind index matches (after a restore or a change of keys)."""
    settings, cipher = _configured()
    report = _readability(cipher, url=settings.database_url)
    if not report.ok:
        fail(f"the database is not readable with the configured keys: {report.problem()}")
        return
    typer.echo(_summary(report))


def register(app: typer.Typer) -> None:
    for command in (backup, restore, verify):
        app.command()(command)

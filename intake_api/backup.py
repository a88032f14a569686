"""Backups of the embedded SQLite database, restoring one, and proving a database is readable.

SQLite is copied with its online backup API (`sqlite3.Connection.backup`): a consistent
snapshot taken while the service keeps writing (WAL mode lets writers go on while the copy
reads). PostgreSQL is backed up with its own tools (`pg_dump`; README "Running the stack");
after restoring either, `check_readable` proves that every encrypted value decrypts with the
configured keys and that the blind indexes were made with the configured blind-index key, so
a restore with the wrong keys fails with a sentence instead of serving garbage or 500s.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Text, column, func, inspect, select, table
from sqlalchemy.engine import Engine, make_url

from intake_api.crypto import PersonalDataCipher
from intake_api.key_rotation import encrypted_columns


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says what to do."""


@dataclass(frozen=True)
class IndexCheck:
    """A blind index to recompute: `recompute(*values of columns)`, encrypted ones decrypted,
    must equal the stored `hash_column`. The owner of the index passes its own function, so
    the recipe keeps one home."""

    table: str
    hash_column: str
    columns: tuple[str, ...]
    recompute: Callable[..., str]


@dataclass
class Readability:
    values: int = 0
    undecryptable: dict[str, int] = field(default_factory=dict)
    indexed: int = 0
    index_mismatches: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.undecryptable and not self.index_mismatches

    def problem(self) -> str:
        """What is wrong, as a sentence an operator can act on (empty when all is well)."""
        parts = []
        if self.undecryptable:
            failed = sum(self.undecryptable.values())
            where = ", ".join(sorted(self.undecryptable))
            parts.append(
                f"{failed} of {self.values} encrypted values cannot be decrypted with "
                f"HOTLINE_ENCRYPTION_KEYS ({where})"
            )
        if self.index_mismatches:
            failed = sum(self.index_mismatches.values())
            where = ", ".join(sorted(self.index_mismatches))
            parts.append(
                f"{failed} of {self.indexed} blind indexes were not made with "
                f"HOTLINE_BLIND_INDEX_KEY ({where})"
            )
        if not parts:
            return ""
        return (
            "; ".join(parts) + ". Configure the keys that were in force when the data was "
            "written (every old encryption key after the new one, the same blind-index key)."
        )


def check_readable(
    engine: Engine, cipher: PersonalDataCipher, index_checks: Sequence[IndexCheck] = ()
) -> Readability:
    """Decrypts every encrypted value and recomputes the given blind indexes. Tables the
    database does not have (an older schema) are skipped."""
    report = Readability()
    present = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        for table_name in sorted({t for t, _, _ in encrypted_columns()} & present):
            report.rows[table_name] = conn.execute(
                select(func.count()).select_from(table(table_name))
            ).scalar_one()
        for table_name, pk, col in encrypted_columns():
            if table_name not in present:
                continue
            raw = table(table_name, column(pk), column(col, Text))
            tokens = conn.execute(select(raw.c[col]).where(raw.c[col].is_not(None))).scalars()
            for token in tokens:
                report.values += 1
                try:
                    cipher.decrypt(token)
                except RuntimeError:
                    name = f"{table_name}.{col}"
                    report.undecryptable[name] = report.undecryptable.get(name, 0) + 1
        encrypted = {(t, c) for t, _, c in encrypted_columns()}
        for check in index_checks:
            if check.table not in present:
                continue
            names = (check.hash_column, *check.columns)
            raw = table(check.table, *(column(c, Text) for c in names))
            rows = conn.execute(select(*raw.c).where(raw.c[check.hash_column].is_not(None)))
            for stored, *values in rows:
                report.indexed += 1
                try:
                    plain = [
                        cipher.decrypt(v) if v is not None and (check.table, c) in encrypted else v
                        for c, v in zip(check.columns, values, strict=True)
                    ]
                except RuntimeError:
                    continue  # counted above as undecryptable
                if check.recompute(*plain) != stored:
                    name = f"{check.table}.{check.hash_column}"
                    report.index_mismatches[name] = report.index_mismatches.get(name, 0) + 1
    return report


def sqlite_path(url: str) -> Path:
    """The file of a SQLite URL; anything else is refused with what to use instead."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(
            f"HOTLINE_DATABASE_URL is a {parsed.get_backend_name()} database: back it up with "
            "pg_dump and restore it with pg_restore or psql (README, 'Running the stack'), then "
            "run `hotline verify`"
        )
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError(
            "HOTLINE_DATABASE_URL names an in-memory SQLite database: nothing to copy"
        )
    return Path(parsed.database)


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


def _copy(source: Path, target: Path) -> None:
    """An online copy into a new file beside `target`, then renamed over it: a reader never
    sees half a database, and a failed copy leaves nothing behind."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with _connect(source) as src, _connect(partial) as dst:
            # One step (pages=-1): one read transaction gives one consistent snapshot; in WAL
            # mode it does not block the service's writers.
            src.backup(dst)
            # A backup is one self-contained file, without -wal/-shm companions.
            dst.execute("PRAGMA journal_mode=DELETE")
        with partial.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _inspect_file(path: Path) -> dict[str, int]:
    """Checks `path` is a sound SQLite file of this service; its tables' row counts."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    with path.open("rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise BackupError(f"{path} is not a SQLite database")
    try:
        with _connect(path) as conn:
            (result,) = conn.execute("PRAGMA quick_check").fetchone()
            names = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if result != "ok":
                raise BackupError(f"{path} is damaged (SQLite quick_check: {result})")
            if "alembic_version" not in names or "tickets" not in names:
                raise BackupError(f"{path} is a SQLite database, but not one of this service")
            return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} cannot be read as a SQLite database ({exc})") from exc


@dataclass
class Copied:
    target: Path
    tickets: int
    conversations: int
    saved_previous: Path | None = None


def backup_sqlite(database: Path, target: Path) -> Copied:
    """Copies the live database `database` into the new file `target`."""
    if not database.is_file():
        raise BackupError(f"there is no database at {database} to back up")
    if target.exists():
        raise BackupError(
            f"{target} already exists; name a new file (backups are never overwritten)"
        )
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    _copy(database, target)
    counts = _inspect_file(target)
    return Copied(target, counts.get("tickets", 0), counts.get("bot_conversations", 0))


def restore_sqlite(
    backup: Path,
    database: Path,
    readable: Callable[[Path], Readability],
    force: bool = False,
) -> Copied:
    """Puts `backup` in place of `database`, after proving the backup is sound and readable
    with the configured keys (`readable` opens it and runs `check_readable`). A database that
    already holds data is replaced only with `force`, and is first saved beside itself."""
    counts = _inspect_file(backup)
    report = readable(backup)
    if not report.ok:
        raise BackupError(f"{backup} was not restored: {report.problem()}")
    if database.exists() and database.resolve() == backup.resolve():
        raise BackupError(f"{backup} is the configured database itself")
    saved = None
    if database.exists() and database.stat().st_size > 0:
        if not _is_sqlite(database):
            raise BackupError(
                f"{database} is not a SQLite database; move it away before restoring over it"
            )
        held = _inspect_file(database)
        if any(held.get(t, 0) for t in ("tickets", "users", "bot_conversations")) and not force:
            raise BackupError(
                f"{database} already holds data ({held.get('tickets', 0)} tickets, "
                f"{held.get('users', 0)} accounts); stop the service and add --force to replace "
                "it (it is saved beside itself first)"
            )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        saved = database.with_name(f"{database.name}.before-restore-{stamp}")
        _copy(database, saved)
    database.parent.mkdir(parents=True, exist_ok=True)
    with _connect(backup) as src, _connect(database) as dst:
        # Through SQLite, not a file copy: the target's -wal/-shm stay consistent with it.
        src.backup(dst)
    return Copied(database, counts.get("tickets", 0), counts.get("bot_conversations", 0), saved)


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(16) == b"SQLite format 3\x00"

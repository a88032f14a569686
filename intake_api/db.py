"""Engine, sessions and the column types shared by the tables."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from sqlalchemy import DateTime, Text, event, insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

from intake_api.crypto import get_cipher


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every backend, always returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class EncryptedText(TypeDecorator[str]):
    """Personal data: the database only ever sees the Fernet token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return get_cipher().encrypt(value) if value is not None else None

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return get_cipher().decrypt(value) if value is not None else None


class EncryptedJSON(TypeDecorator[Any]):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return get_cipher().encrypt(json.dumps(value, ensure_ascii=False))

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return json.loads(get_cipher().decrypt(value)) if value is not None else None


def _private_sqlite_file(url: str) -> None:
    """Creates the database file readable by its owner only (0600), or narrows an existing
    one: it holds encrypted personal data, and its ciphertexts are no one else's to copy.
    SQLite gives its -wal and -shm files the database file's permissions."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)


# Connections one process may hold on PostgreSQL, kept open once opened. The same ceiling as
# the pool of 10 with 20 "overflow" connections it replaces, which closed every overflow
# connection as it came back: under load that opened 12 new ones a second, each a new process
# on the server.
POOL_SIZE = 30


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets the bot and the API read while one writes; FKs are off by default.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # No ping on every checkout (a round trip per transaction): a connection the server
    # dropped fails once, and SQLAlchemy then replaces the whole pool.
    return create_engine(url, pool_size=POOL_SIZE, max_overflow=0, pool_recycle=1800)


T = TypeVar("T")

# Worker threads that short database work (`run_db`) may hold at once, per event loop. With
# anyio's 40 a process under load had up to 32 threads runnable, each taking the GIL in turn
# between its statements: 4 gave 12% less CPU a message and 16% more first messages a second
# with two processes (README, "Load and fault tests", 2026-12-04). The API's own routes keep
# anyio's threads, so a slow report in the console never holds a message's store back.
DATABASE_THREADS = 4
_database_threads: RunVar[anyio.CapacityLimiter] = RunVar("database_threads")


def database_threads() -> anyio.CapacityLimiter:
    """This event loop's limiter of `run_db`'s threads."""
    try:
        return _database_threads.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(DATABASE_THREADS)
        _database_threads.set(limiter)
        return limiter


async def run_db(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Runs synchronous work that waits on nothing but the database (never on a platform, a
    Rasa server or a remote API, which would hold one of these few threads for its round trip)
    on one of `DATABASE_THREADS` worker threads."""
    return await anyio.to_thread.run_sync(
        functools.partial(work, *args, **kwargs), limiter=database_threads()
    )


@functools.cache
def _insert_returning_id(table: Any) -> Any:
    # Built once per table: a statement built anew is keyed for SQLAlchemy's cache again on
    # every execution (1% of the service's CPU under load), one built once is keyed once.
    return insert(table).returning(table.c.id, sort_by_parameter_order=True)


def insert_rows(session: Session, objects: Sequence[Any]) -> None:
    """Inserts new model objects of one table in one statement and sets their ids, without the
    ORM's unit of work, which costs more than the statement on a path run for every message.
    The objects stay detached from the session."""
    if not objects:
        return
    table = type(objects[0]).__table__  # type: ignore[attr-defined]
    # An id the caller chose (a conversation's) is written; a generated one comes back.
    generated = getattr(objects[0], "id", None) is None
    columns = [c.name for c in table.columns if not (generated and c.name == "id")]
    ids = session.execute(
        _insert_returning_id(table),
        [{name: getattr(obj, name) for name in columns} for obj in objects],
    ).scalars()
    for obj, new_id in zip(objects, ids, strict=True):
        obj.id = new_id

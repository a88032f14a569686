"""Engine, sessions and the column types shared by the tables."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from sqlalchemy import DateTime, Text, event, insert
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.sql.base import Executable
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


@dataclass(frozen=True)
class _Compiled:
    sql: str
    compiled: Any
    # Bound names in the order of the placeholders, for a positional DBAPI (SQLite's).
    positions: tuple[str, ...] | None
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]
    # The names and conversions of the columns the rows carry.
    keys: tuple[str, ...]
    results: tuple[Callable[[Any], Any] | None, ...]


class DirectResult:
    """The rows and row count of a `DirectStatement`, read the way a Result's are."""

    __slots__ = ("keys", "rowcount", "rows")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int, keys: tuple[str, ...]) -> None:
        self.rows = rows
        self.rowcount = rowcount
        self.keys = keys

    def mappings(self) -> list[dict[str, Any]]:
        """Each row as its columns' names and values (a model's keyword arguments)."""
        return [dict(zip(self.keys, row, strict=True)) for row in self.rows]

    def first(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        if len(self.rows) != 1:
            raise ValueError(f"one row expected, {len(self.rows)} found")
        return self.rows[0][0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self.rows]


class DirectStatement:
    """A Core statement compiled once per dialect and run straight on the DBAPI cursor of the
    session's connection, in its transaction, with the columns' own conversions (encryption,
    JSON, UTC times) applied to the values bound and the rows read.

    For the few statements run for every message: SQLAlchemy's execution around a statement
    it has already compiled and cached (the execution context, the parameters' processing,
    the result's metadata) cost about twice the statement's own round trip to PostgreSQL (an
    insert 210-260 µs of CPU against 105-140 µs on the cursor, `bench/hot_path.py`'s machine).
    Only simple statements: no expanding IN, no ORM entities. A DBAPI error goes through the
    connection's own handler, so it is raised as SQLAlchemy's (an IntegrityError is one) and a
    dropped connection invalidates the pool exactly as a statement run by SQLAlchemy would;
    `before_cursor_execute` listeners still see every statement. Relies on SQLAlchemy 2.0's
    `Connection._handle_dbapi_exception` (pinned below 2.1 in pyproject.toml)."""

    def __init__(self, statement: Executable, keys: Sequence[str] | None = None) -> None:
        self._statement = statement
        # The columns an INSERT or UPDATE is given values for, when not bound by name.
        self._keys = list(keys) if keys is not None else None
        self._by_dialect: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled: Any = self._statement.compile(  # type: ignore[attr-defined]
            dialect=dialect, column_keys=self._keys
        )
        if getattr(compiled, "_post_compile_expanded_state", None) or any(
            b.expanding for b in compiled.binds.values()
        ):
            raise ValueError("a direct statement binds no expanding parameters")
        computed = [c.name for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
        if computed:
            # SQLAlchemy's execution computes these; bound here they would be NULL.
            raise ValueError(
                f"a direct statement is given every value: {', '.join(computed)} left to "
                "a default of SQLAlchemy's"
            )
        binds: dict[str, Callable[[Any], Any]] = {}
        for bind, name in compiled.bind_names.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                # Once per name: a parameter bound twice is one value, converted once.
                binds[compiled.escaped_bind_names.get(name, name)] = process
        columns = getattr(self._statement, "selected_columns", None)
        if columns is None:
            columns = getattr(self._statement, "exported_columns", ())
        results = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        )
        positions = tuple(compiled.positiontup) if dialect.positional else None
        keys = tuple(c.key for c in columns)
        made = _Compiled(compiled.string, compiled, positions, tuple(binds.items()), keys, results)
        self._by_dialect[dialect.name] = made
        return made

    def execute(
        self, session: Session, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] = {}
    ) -> DirectResult:
        """Runs the statement once per set of parameters (a list: one after the other, their
        rows together, in order)."""
        connection = session.connection()
        made = self._by_dialect.get(connection.dialect.name) or self._compile(connection.dialect)
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        rows: list[tuple[Any, ...]] = []
        rowcount = 0
        args: Any = None
        try:
            for one in [params] if isinstance(params, Mapping) else params:
                # A value missing is an error, as in SQLAlchemy's own execution, never a NULL.
                values = made.compiled.construct_params(one)
                for name, process in made.binds:
                    values[name] = process(values[name])
                args = [values[n] for n in made.positions] if made.positions else values
                if connection._has_events or connection.engine._has_events:
                    connection.dispatch.before_cursor_execute(
                        connection, cursor, made.sql, args, None, False
                    )
                cursor.execute(made.sql, args)
                if cursor.description is not None:
                    fetched = cursor.fetchall()
                    if any(made.results):
                        fetched = [
                            tuple(p(v) if p else v for p, v in zip(made.results, row, strict=True))
                            for row in fetched
                        ]
                    rows.extend(fetched)
                rowcount += max(cursor.rowcount, 0)
        except Exception as e:
            connection._handle_dbapi_exception(e, made.sql, args, cursor, None)
        finally:
            cursor.close()
        return DirectResult(rows, rowcount, made.keys)


@functools.cache
def _insert_one(table: Any, columns: tuple[str, ...]) -> DirectStatement:
    # Built and compiled once per table and columns.
    return DirectStatement(insert(table).returning(table.c.id), columns)


@functools.cache
def _insert_many(table: Any) -> Any:
    # Built once per table: a statement built anew is keyed for SQLAlchemy's cache again on
    # every execution, one built once is keyed once.
    return insert(table).returning(table.c.id, sort_by_parameter_order=True)


def insert_rows(session: Session, objects: Sequence[Any]) -> None:
    """Inserts new model objects of one table and sets their ids, without the ORM's unit of
    work, which costs more than the statement on a path run for every message. The objects
    stay detached from the session. One row goes straight to the cursor (`DirectStatement`);
    several go through SQLAlchemy's "insertmanyvalues", one statement whose ids come back in
    the rows' order, which costs no more than a statement a row from two rows on."""
    if not objects:
        return
    table = type(objects[0]).__table__  # type: ignore[attr-defined]
    # An id the caller chose (a conversation's) is written; a generated one comes back.
    generated = getattr(objects[0], "id", None) is None
    columns = tuple(c.name for c in table.columns if not (generated and c.name == "id"))
    values = [{name: getattr(obj, name) for name in columns} for obj in objects]
    if len(objects) == 1:
        ids = _insert_one(table, columns).execute(session, values[0]).scalars()
    else:
        ids = list(session.execute(_insert_many(table), values).scalars())
    for obj, new_id in zip(objects, ids, strict=True):
        obj.id = new_id

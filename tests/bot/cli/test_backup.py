"""Backups of a running instance, restored into fresh databases and read with the keys.

A real instance (the combined app of `hotline serve`, served by uvicorn) takes tickets through
the intake API and conversations through the web chat while a writer keeps filing; the backup
is taken during those writes: `hotline backup` for the embedded SQLite database, `pg_dump`
(custom and plain formats) for PostgreSQL. Each backup is restored into a new database and
every ticket and conversation in it must decrypt with the keys, equal to what was stored;
wrong keys must be refused with a sentence, never give garbage.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Text, column, select, table, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func
from sqlmodel import select as sm_select

import bot.models
from bot.config import BotSettings
from bot.migrate import upgrade
from bot.server import combined_app
from intake_api.crypto import PersonalDataCipher, generate_key
from intake_api.db import make_engine
from intake_api.key_rotation import encrypted_columns
from intake_api.models import Ticket, TicketMessage, User
from intake_api.tokens import issue_token
from tests.conftest import POSTGRES_URL, TEST_BLIND_KEY, TEST_KEYS, in_ci
from tests.intake_api.conftest import intake_body, make_settings
from tests.local_http import ServedApp

pytestmark = pytest.mark.slow

HOTLINE = Path(sys.executable).with_name("hotline")
CIPHER = PersonalDataCipher(TEST_KEYS, TEST_BLIND_KEY)
# What a person in danger types in the web chat: a rescue request, where, and a phone number.
WEBCHAT_TURNS = [
    "cuu em voi, em bi nhot o cam, ho thu ho chieu",
    "gần casino ở Bavet",
    "0912 345 678",
]
_numbers = itertools.count(1000)


def hotline(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The `hotline` command in its own process, as an operator runs it."""
    assert HOTLINE.exists(), f"{HOTLINE} is missing: `make test` installs the package"
    return subprocess.run(
        [str(HOTLINE), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The same commands through Typer's runner in this process: the refusals are many, and a
    process start each would make the test slow."""
    from typer.testing import CliRunner

    from bot.cli import app
    from intake_api.config import get_settings

    def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        with monkeypatch.context() as m:
            for name in [k for k in os.environ if k.startswith("HOTLINE_")]:
                m.delenv(name)
            for name, value in env.items():
                if name.startswith("HOTLINE_"):
                    m.setenv(name, value)
            get_settings.cache_clear()
            try:
                result = CliRunner().invoke(app, list(args))
            finally:
                get_settings.cache_clear()
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            stderr += f"\nTraceback: {result.exception!r}"
        return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, stderr)

    return run


def command_env(database_url: str, tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        HOTLINE_DATABASE_URL=database_url,
        HOTLINE_DATA_DIR=str(tmp_path / "cli-data"),
        HOTLINE_ENCRYPTION_KEYS=",".join(TEST_KEYS),
        HOTLINE_BLIND_INDEX_KEY=TEST_BLIND_KEY,
    )
    env.update(overrides)
    return env


# --- the running instance -------------------------------------------------------------------


@dataclass
class Instance:
    url: str
    token: str
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)  # reference code -> what
    sessions: list[str] = field(default_factory=list)

    def intake(self, client: httpx.Client) -> httpx.Response:
        n = next(_numbers)
        phone = f"+849123{n:05d}"
        body = intake_body(phone=phone, text=f"tin báo số {n}: người bị đưa sang Trung Quốc")
        body["reporter"]["name"] = f"Người báo tin {n}"
        answer = client.post(
            f"{self.url}/api/v1/intake",
            json=body,
            headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": f"backup-{n:06d}"},
        )
        if answer.status_code == 201:
            self.sent[answer.json()["reference_code"]] = {
                "phone": phone,
                "name": body["reporter"]["name"],
                "text": body["transcript"][0]["text"],
            }
        return answer

    def webchat(self, client: httpx.Client, session_id: str, turns: list[str]) -> None:
        self.sessions.append(session_id)
        for n, turn in enumerate(turns):
            answer = client.post(
                f"{self.url}/webchat/messages",
                json={
                    "session_id": session_id,
                    "message_id": f"m{n}-{uuid.uuid4().hex[:8]}",
                    "text": turn,
                },
            )
            assert answer.status_code == 200, answer.text


@contextmanager
def running_instance(engine: Engine, tmp_path: Path) -> Iterator[Instance]:
    with Session(engine) as session:
        partner = User(
            username=f"partner-{uuid.uuid4().hex[:8]}", password_hash="x", roles="service"
        )
        session.add(partner)
        session.commit()
        token = issue_token(session, partner, timedelta(hours=1))
    served = ServedApp(combined_app(make_settings(tmp_path), BotSettings(), engine)).start()
    try:
        yield Instance(served.url, token)
    finally:
        served.stop()


def file_reports(instance: Instance) -> None:
    with httpx.Client(timeout=30) as client:
        for _ in range(3):
            answer = instance.intake(client)
            assert answer.status_code == 201, answer.text
            instance.webchat(client, f"backup-session-{uuid.uuid4().hex}", WEBCHAT_TURNS)


class Writer(threading.Thread):
    """Keeps filing (API tickets and web chat rescues) until stopped; bounded in count and
    time. Every answer that is not a success is kept, to show nobody was refused meanwhile."""

    def __init__(self, instance: Instance) -> None:
        super().__init__(daemon=True)
        self.instance = instance
        self.stop_event = threading.Event()
        self.done = 0
        self.failures: list[str] = []

    def run(self) -> None:
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=30) as client:
            while not self.stop_event.is_set() and self.done < 400 and time.monotonic() < deadline:
                try:
                    answer = self.instance.intake(client)
                    if answer.status_code != 201:
                        self.failures.append(f"intake {answer.status_code}: {answer.text[:200]}")
                    self.instance.webchat(client, f"writer-{uuid.uuid4().hex}", WEBCHAT_TURNS[:1])
                except (httpx.HTTPError, AssertionError) as exc:
                    self.failures.append(repr(exc)[:200])
                self.done += 1

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=60)


@contextmanager
def writing(instance: Instance) -> Iterator[Writer]:
    writer = Writer(instance)
    writer.start()
    try:
        while writer.done < 2 and writer.is_alive():  # the writes are under way
            time.sleep(0.01)
        yield writer
    finally:
        writer.stop()


def settle(engine: Engine) -> None:
    """Waits until the bot has handed every outbox item to the API (it does in the background
    when a first attempt was busy), so `before` is a state nothing rewrites."""
    deadline = time.monotonic() + 15
    while True:
        with Session(engine) as session:
            pending = session.exec(
                sm_select(bot.models.OutboxItem).where(bot.models.OutboxItem.state == "pending")
            ).all()
        if not pending:
            return
        if time.monotonic() > deadline:
            stuck = [(i.kind, i.attempts, i.last_error) for i in pending]
            raise AssertionError(f"the outbox did not empty: {stuck}")
        time.sleep(0.1)


# --- what a copy must hold ------------------------------------------------------------------


def decrypted_rows(engine: Engine) -> dict[tuple[str, str], dict[str, Any]]:
    """Every encrypted value of every row, decrypted with the test keys (raises if one fails)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    with engine.connect() as conn:
        for table_name, pk, name in encrypted_columns():
            raw = table(table_name, column(pk), column(name, Text))
            for key, token in conn.execute(select(raw.c[pk], raw.c[name])):
                value = CIPHER.decrypt(token) if token is not None else None
                rows.setdefault((table_name, str(key)), {})[name] = value
    return rows


def assert_readable_copy(
    copy: Engine,
    before: dict[tuple[str, str], dict[str, Any]],
    committed: set[tuple[str, str]],
    after: dict[tuple[str, str], dict[str, Any]],
    instance: Instance,
    filed_before: set[str],
) -> None:
    """`before`: the settled state before the writer started, which must come back unchanged;
    `committed`: rows committed (while the writer ran) before the backup began, which must all
    be there; `after`: the source once the writer stopped, beyond which nothing may appear."""
    restored = decrypted_rows(copy)
    missing = {k for k in committed | set(before) if k not in restored}
    assert not missing, f"rows missing from the copy: {sorted(missing)[:5]}"
    changed = {k for k in before if restored[k] != before[k]}
    assert not changed, f"rows that differ from the source: {sorted(changed)[:5]}"
    invented = {k for k in restored if k not in after}
    assert not invented, f"rows the source never had: {sorted(invented)[:5]}"

    with Session(copy) as session:
        tickets = {t.reference_code: t for t in session.exec(sm_select(Ticket)).all()}
        through_api = filed_before & set(instance.sent)
        assert len(through_api) >= 3
        for code in through_api:
            ticket = tickets[code]
            sent = instance.sent[code]
            assert (ticket.reporter_phone, ticket.reporter_name) == (sent["phone"], sent["name"])
            texts = session.exec(
                sm_select(TicketMessage.text).where(TicketMessage.ticket_id == ticket.id)
            ).all()
            assert sent["text"] in texts
        for ticket in tickets.values():
            # A snapshot never holds a ticket without its transcript.
            assert session.exec(
                sm_select(func.count()).where(TicketMessage.ticket_id == ticket.id)
            ).one(), f"ticket {ticket.reference_code} has no transcript in the copy"
        # Nor an outbox item marked delivered whose ticket is not there (bot and API tables
        # come from one moment).
        delivered = session.exec(
            sm_select(bot.models.OutboxItem.reference_code).where(
                bot.models.OutboxItem.state == "delivered"
            )
        ).all()
        assert delivered and set(delivered) <= set(tickets)
        rescues = [t for t in tickets.values() if t.channel == "webchat"]
        assert rescues and all(t.priority == "P1" for t in rescues)
        conversations = session.exec(sm_select(bot.models.Conversation)).all()
        by_sender = {c.sender_id: c for c in conversations}
        for session_id in instance.sessions[:3]:
            conversation = by_sender[session_id]
            assert isinstance(conversation.state, dict) and conversation.state, session_id
            (ticket,) = [t for t in rescues if t.conversation_id == conversation.id]
            texts = session.exec(
                sm_select(TicketMessage.text).where(TicketMessage.ticket_id == ticket.id)
            ).all()
            assert WEBCHAT_TURNS[0] in texts and WEBCHAT_TURNS[1] in texts


def snapshot_ids(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return set(session.exec(sm_select(Ticket.reference_code)).all())


# --- SQLite: `hotline backup` of the running embedded instance --------------------------------


@pytest.fixture
def sqlite_instance_db(tmp_path: Path, sqlite_template: Path) -> Iterator[Path]:
    path = tmp_path / "live" / "hotline.db"
    path.parent.mkdir()
    shutil.copy(sqlite_template, path)
    yield path


def test_sqlite_backup_of_a_running_instance_restores_readable(
    sqlite_instance_db: Path, tmp_path: Path
) -> None:
    live_url = f"sqlite:///{sqlite_instance_db}"
    engine = make_engine(live_url)
    backup_file = tmp_path / "backups" / "hotline-2026-03-01.db"
    backup_file.parent.mkdir()
    with running_instance(engine, tmp_path) as instance:
        file_reports(instance)
        settle(engine)
        before, filed_before = decrypted_rows(engine), snapshot_ids(engine)
        # A long read (a report being exported) holds back checkpoints: what the writer
        # commits meanwhile lives only in the write-ahead log, which a copy of the database
        # file alone would miss.
        with contextlib.closing(sqlite3.connect(sqlite_instance_db)) as reader:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM tickets").fetchone()
            with writing(instance) as writer:
                committed = set(decrypted_rows(engine))
                done_at_start = writer.done
                made = hotline("backup", str(backup_file), env=command_env(live_url, tmp_path))
                done_during = writer.done - done_at_start
            reader.rollback()
        assert made.returncode == 0, made.stderr
        assert "backed up" in made.stdout
        assert not writer.failures, writer.failures[:3]
        assert done_during > 0, "nothing was written while the backup ran"
        after = decrypted_rows(engine)
        assert len(snapshot_ids(engine)) > len(filed_before)

    # Backups are never overwritten.
    again = hotline("backup", str(backup_file), env=command_env(live_url, tmp_path))
    assert again.returncode == 1 and "already exists" in again.stderr

    fresh = tmp_path / "restored" / "hotline.db"
    fresh.parent.mkdir()
    fresh_url = f"sqlite:///{fresh}"
    restored = hotline("restore", str(backup_file), env=command_env(fresh_url, tmp_path))
    assert restored.returncode == 0, restored.stderr
    checked = hotline("verify", env=command_env(fresh_url, tmp_path))
    assert checked.returncode == 0, checked.stderr
    copy = make_engine(fresh_url)
    assert_readable_copy(copy, before, committed, after, instance, filed_before)

    # The restored database is a working instance: a reporter carries on where they were, in
    # the same conversation and on the same ticket.
    upgrade(copy)
    session_id = instance.sessions[0]
    with Session(copy) as session:
        conversation = session.exec(
            sm_select(bot.models.Conversation).where(bot.models.Conversation.channel == "webchat")
        ).all()
        ticket_count = session.exec(sm_select(func.count()).select_from(Ticket)).one()
    assert session_id in {c.sender_id for c in conversation}

    # (Outbox items the backup caught mid-delivery stay leased to the old process for a
    # minute, then go out again, once: so this waits for its own message only.)
    def appended() -> bool:
        with Session(copy) as session:
            return "có 5 người nữa ở Bavet" in session.exec(sm_select(TicketMessage.text)).all()

    with running_instance(copy, tmp_path) as again, httpx.Client(timeout=30) as client:
        again.webchat(client, session_id, ["có 5 người nữa ở Bavet"])
        deadline = time.monotonic() + 15
        while not appended() and time.monotonic() < deadline:
            time.sleep(0.1)
    assert appended(), "the restored conversation did not carry on onto its ticket"
    with Session(copy) as session:
        assert session.exec(sm_select(func.count()).select_from(Ticket)).one() == ticket_count
    copy.dispose()
    engine.dispose()


def test_sqlite_restore_refuses_wrong_keys_and_damaged_files_and_changes_nothing(
    sqlite_instance_db: Path,
    tmp_path: Path,
    in_process,  # type: ignore[no-untyped-def]
) -> None:
    hotline = in_process
    live_url = f"sqlite:///{sqlite_instance_db}"
    engine = make_engine(live_url)
    with running_instance(engine, tmp_path) as instance:
        file_reports(instance)
        settle(engine)
    backup_file = tmp_path / "backup.db"
    assert hotline("backup", str(backup_file), env=command_env(live_url, tmp_path)).returncode == 0
    backup_bytes = backup_file.read_bytes()
    target = tmp_path / "target" / "hotline.db"
    target_url = f"sqlite:///{target}"

    wrong_keys = hotline(
        "restore",
        str(backup_file),
        env=command_env(target_url, tmp_path, HOTLINE_ENCRYPTION_KEYS=generate_key()),
    )
    assert wrong_keys.returncode == 1
    assert "cannot be decrypted with HOTLINE_ENCRYPTION_KEYS" in wrong_keys.stderr
    assert "was not restored" in wrong_keys.stderr
    wrong_index = hotline(
        "restore",
        str(backup_file),
        env=command_env(target_url, tmp_path, HOTLINE_BLIND_INDEX_KEY="another-blind-key"),
    )
    assert wrong_index.returncode == 1
    assert "not made with HOTLINE_BLIND_INDEX_KEY" in wrong_index.stderr
    for answer in (wrong_keys, wrong_index):
        assert "Traceback" not in answer.stderr
        assert "+849" not in answer.stdout + answer.stderr  # no personal data in the refusal
    assert not target.exists(), "a refused restore created the database"
    assert backup_file.read_bytes() == backup_bytes, "checking the backup changed it"

    # The keys rotated since the backup: the old key after the new one still reads it.
    rotated = hotline(
        "restore",
        str(backup_file),
        env=command_env(
            target_url, tmp_path, HOTLINE_ENCRYPTION_KEYS=f"{generate_key()},{TEST_KEYS[0]}"
        ),
    )
    assert rotated.returncode == 0, rotated.stderr

    # A database that holds data is replaced only with --force, and kept beside itself.
    refused = hotline("restore", str(backup_file), env=command_env(target_url, tmp_path))
    assert refused.returncode == 1 and "--force" in refused.stderr
    forced = hotline("restore", str(backup_file), "--force", env=command_env(target_url, tmp_path))
    assert forced.returncode == 0, forced.stderr
    (kept,) = target.parent.glob("hotline.db.before-restore-*")
    assert "kept at" in forced.stdout and str(kept) in forced.stdout

    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(backup_bytes[: len(backup_bytes) // 3])
    other = tmp_path / "other" / "hotline.db"
    for bad, says in (
        (damaged, "damaged"),
        (tmp_path / "nope.db", "does not exist"),
        (Path(__file__), "not a SQLite database"),
    ):
        answer = hotline("restore", str(bad), env=command_env(f"sqlite:///{other}", tmp_path))
        assert answer.returncode == 1 and says in answer.stderr, answer.stderr
        assert "Traceback" not in answer.stderr
    assert not other.exists()
    engine.dispose()


def test_backup_of_a_postgresql_url_points_to_pg_dump(tmp_path: Path, in_process) -> None:  # type: ignore[no-untyped-def]
    hotline = in_process
    answer = hotline(
        "backup",
        str(tmp_path / "x.db"),
        env=command_env("postgresql+psycopg://hotline@db/hotline", tmp_path),
    )
    assert answer.returncode == 1 and "pg_dump" in answer.stderr
    assert not (tmp_path / "x.db").exists()


# --- PostgreSQL: pg_dump of a running instance, pg_restore / psql into fresh databases --------


PG_TOOLS = ("createdb", "dropdb", "pg_dump", "pg_restore", "psql")


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason}; CI requires it (.ci/run installs postgresql-client)")
    pytest.skip(reason)


@dataclass
class PgServer:
    base: Any  # sqlalchemy URL of the server's `test` database
    created: list[str] = field(default_factory=list)

    def args(self) -> list[str]:
        return [
            "-h",
            self.base.host or "127.0.0.1",
            "-p",
            str(self.base.port or 5432),
            "-U",
            self.base.username or "postgres",
        ]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.base.password:
            env["PGPASSWORD"] = self.base.password
        return env

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tool, *self.args(), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def createdb(self, purpose: str) -> str:
        name = f"hotline_{purpose}_{uuid.uuid4().hex[:10]}"
        made = self.run("createdb", name)
        assert made.returncode == 0, made.stderr
        self.created.append(name)
        return name

    def url(self, name: str) -> str:
        return self.base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def pg() -> Iterator[PgServer]:
    missing = [tool for tool in PG_TOOLS if shutil.which(tool) is None]
    if missing:
        _unavailable(f"PostgreSQL client programs missing: {', '.join(missing)}")
    base = make_url(POSTGRES_URL)
    probe = make_engine(POSTGRES_URL)
    try:
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        _unavailable(f"PostgreSQL at {POSTGRES_URL} does not answer ({type(exc).__name__})")
    finally:
        probe.dispose()
    server = PgServer(base)
    yield server
    for name in server.created:
        server.run("dropdb", "--if-exists", "--force", name)


def test_postgresql_dump_of_a_running_instance_restores_readable(
    pg: PgServer,
    tmp_path: Path,
    in_process,  # type: ignore[no-untyped-def]
) -> None:
    live = pg.createdb("live")
    engine = make_engine(pg.url(live))
    upgrade(engine)
    custom, plain = tmp_path / "hotline.dump", tmp_path / "hotline.sql"
    with running_instance(engine, tmp_path) as instance:
        file_reports(instance)
        settle(engine)
        before, filed_before = decrypted_rows(engine), snapshot_ids(engine)
        with writing(instance) as writer:
            committed = set(decrypted_rows(engine))
            done_at_start = writer.done
            dumped = pg.run("pg_dump", "--format=custom", "--file", str(custom), live)
            dumped_plain = pg.run("pg_dump", "--format=plain", "--file", str(plain), live)
            done_during = writer.done - done_at_start
        assert dumped.returncode == 0, dumped.stderr
        assert dumped_plain.returncode == 0, dumped_plain.stderr
        assert not writer.failures, writer.failures[:3]
        assert done_during > 0, "nothing was written while pg_dump ran"
        after = decrypted_rows(engine)
    engine.dispose()

    from_custom = pg.createdb("restored")
    answer = pg.run("pg_restore", "--exit-on-error", "--no-owner", "-d", from_custom, str(custom))
    assert answer.returncode == 0, answer.stderr
    from_plain = pg.createdb("restored")
    answer = pg.run("psql", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(plain), "-d", from_plain)
    assert answer.returncode == 0, answer.stderr

    for name in (from_custom, from_plain):
        copy = make_engine(pg.url(name))
        try:
            assert_readable_copy(copy, before, committed, after, instance, filed_before)
        finally:
            copy.dispose()
        checked = in_process("verify", env=command_env(pg.url(name), tmp_path))
        assert checked.returncode == 0, checked.stderr
        assert "blind indexes match" in checked.stdout

    wrong = in_process(
        "verify",
        env=command_env(pg.url(from_custom), tmp_path, HOTLINE_ENCRYPTION_KEYS=generate_key()),
    )
    assert wrong.returncode == 1
    assert "cannot be decrypted with HOTLINE_ENCRYPTION_KEYS" in wrong.stderr
    assert "Traceback" not in wrong.stderr and "+849" not in wrong.stderr
    wrong_index = in_process(
        "verify",
        env=command_env(pg.url(from_plain), tmp_path, HOTLINE_BLIND_INDEX_KEY="another-key"),
    )
    assert wrong_index.returncode == 1
    assert "not made with HOTLINE_BLIND_INDEX_KEY" in wrong_index.stderr

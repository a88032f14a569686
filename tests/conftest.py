"""Shared fixtures: the database backends every API test runs on.

PostgreSQL is part of the product's contract, so the same tests run on it. Its URL comes from
HOTLINE_TEST_POSTGRES_URL (default: the local server). Without a server the PostgreSQL variants
are skipped with the reason shown, except under CI=true, where a missing server fails the run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from bot.migrate import upgrade
from intake_api.crypto import PersonalDataCipher, configure_cipher, generate_key
from intake_api.db import make_engine

POSTGRES_URL = os.environ.get(
    "HOTLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEST_KEYS = [generate_key()]
TEST_BLIND_KEY = "test-blind-index-key"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session", autouse=True)
def _cipher() -> PersonalDataCipher:
    cipher = PersonalDataCipher(TEST_KEYS, TEST_BLIND_KEY)
    configure_cipher(cipher)
    return cipher


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied per test: Alembic runs once, tests start clean."""
    path = tmp_path_factory.mktemp("template") / "hotline.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """A private schema on the PostgreSQL server, migrated once for the session."""
    schema = f"hotline_test_{uuid.uuid4().hex[:8]}"
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL at {POSTGRES_URL} does not answer ({type(exc).__name__})"
        if in_ci():
            pytest.fail(f"{message}; CI requires it")
        pytest.skip(message)
    sep = "&" if "?" in POSTGRES_URL else "?"
    engine = make_engine(f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}")
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _truncate(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path / "hotline.db"
        shutil.copy(sqlite_template, path)
        eng = make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
    else:
        eng = request.getfixturevalue("postgres_engine")
        _truncate(eng)
        yield eng

"""Real processes on one PostgreSQL: `hotline api` and `hotline bot` started as a deployment
starts them, on a database of the test's own (created and dropped here)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import in_ci

HOTLINE = Path(sys.executable).with_name("hotline")
ADMIN_DSN = os.environ.get("HOTLINE_TEST_POSTGRES_DSN", "host=127.0.0.1 user=postgres dbname=test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Deployment:
    """Settings shared by every process of one deployment, and the processes running."""

    env: dict[str, str]
    database: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    logs: Path | None = None

    def hotline(self, *args: str) -> str:
        done = subprocess.run(
            [str(HOTLINE), *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def start(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> str:
        port = free_port()
        assert self.logs is not None
        log = (self.logs / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [str(HOTLINE), *args, "--port", str(port)],
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        self.urls[name] = url
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            if self.processes[name].poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{name} did not start; see {self.logs / (name + '.log')}")
            time.sleep(0.2)

    def kill(self, name: str) -> None:
        """`kill -9`: no shutdown hook runs, as when a machine or a process dies."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.processes):
            process = self.processes.pop(name)
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def sql(self, query: str, *params: object) -> list[tuple[object, ...]]:
        with psycopg.connect(
            f"{ADMIN_DSN.replace('dbname=test', '')} dbname={self.database}"
        ) as conn:
            return list(conn.execute(query, params).fetchall())  # type: ignore[arg-type]


@contextmanager
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    database = f"hotline_mp_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(ADMIN_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        if in_ci():
            pytest.fail(f"PostgreSQL does not answer ({exc}); CI requires it")
        pytest.skip(f"PostgreSQL does not answer ({type(exc).__name__})")
    admin.execute(f'CREATE DATABASE "{database}"')
    env = {
        **os.environ,
        "HOTLINE_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_REPLY_POLL_SECONDS": "0.3",
    }
    for name in ("HOTLINE_ENCRYPTION_KEYS", "HOTLINE_BLIND_INDEX_KEY", "HOTLINE_CONFIG_FILE"):
        env.pop(name, None)
    logs = tmp_path / "logs"
    logs.mkdir()
    found = Deployment(env=env, database=database, logs=logs)
    try:
        found.hotline("db", "upgrade")  # once, before any process starts (they would race)
        # Every process of a deployment shares the keys (generated once into the data dir).
        found.hotline("users", "create", "bot", "--role", "service", "--random")
        token = found.hotline("tokens", "issue", "bot").strip().splitlines()[-1]
        found.env["HOTLINE_INTAKE_TOKEN"] = token
        found.hotline(
            "users", "create", "lan", "--role", "operator", "--password", "mat-khau-du-dai-1"
        )
        yield found
    finally:
        found.stop_all()
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


def staff_token(url: str) -> str:
    answer = httpx.post(
        f"{url}/api/v1/auth/token", data={"username": "lan", "password": "mat-khau-du-dai-1"}
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])

"""Real processes for the fault tests and the load bench: `hotline serve` as a subprocess (killed
with SIGKILL and started again on the same port), a scratch database on the shared PostgreSQL
(created and dropped with `createdb`/`dropdb`), and a PostgreSQL of one's own (`initdb` and
`pg_ctl` in a temporary folder on a free port) that may be restarted without touching the
machine's shared server.

Every wait here is bounded; every process started here is stopped by its own pid.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from intake_api.crypto import PersonalDataCipher, generate_key

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOTLINE = BIN / "hotline"
SHARED_POSTGRES = os.environ.get(
    "HOTLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment() -> dict[str, str]:
    """This process's environment without any HOTLINE_* setting (a developer's own settings
    must not leak into a test's server)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}


@dataclass
class Keys:
    """The keys a test's server runs with, so the test can read what it stored."""

    encryption_key: str = field(default_factory=generate_key)
    blind_index_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def cipher(self) -> PersonalDataCipher:
        return PersonalDataCipher([self.encryption_key], self.blind_index_key)

    def env(self) -> dict[str, str]:
        return {
            "HOTLINE_ENCRYPTION_KEYS": self.encryption_key,
            "HOTLINE_BLIND_INDEX_KEY": self.blind_index_key,
        }


def server_env(
    database_url: str, data_dir: Path, keys: Keys, platforms: Mapping[str, str], **extra: str
) -> dict[str, str]:
    """The environment of one `hotline serve`: its database, keys and channels."""
    return {
        **clean_environment(),
        **keys.env(),
        **platforms,
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_DATA_DIR": str(data_dir),
        **extra,
    }


class ServerFailed(RuntimeError):
    pass


class HotlineServer:
    """`hotline serve --port N` in its own process, on a port that survives restarts."""

    def __init__(self, env: Mapping[str, str], log_path: Path, port: int | None = None) -> None:
        self.env = dict(env)
        self.port = port or free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts: list[float] = []  # time.time() of each moment it answered /healthz

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> float:
        """Starts it and waits until /healthz answers; returns the seconds that took."""
        if self.proc is not None and self.proc.poll() is None:
            raise ServerFailed("already running")
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(HOTLINE), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerFailed(f"hotline serve exited ({self.proc.returncode}):\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2.0).status_code == 200:
                    self.starts.append(time.time())
                    return time.monotonic() - began
            time.sleep(0.05)
        self.kill()
        raise ServerFailed(f"hotline serve did not answer within {timeout:.0f} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, whatever was in flight is cut off."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, grace: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _pg_cli_args(url: str) -> list[str]:
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    return [
        "-h",
        parts.hostname or "127.0.0.1",
        "-p",
        str(parts.port or 5432),
        "-U",
        parts.username or "postgres",
    ]


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return parts._replace(path=f"/{name}", query="").geturl()


class PostgresUnavailable(RuntimeError):
    pass


@contextlib.contextmanager
def scratch_database(prefix: str, server_url: str = SHARED_POSTGRES) -> Iterator[str]:
    """A new, empty database on the shared server for one run; dropped afterwards. Yields its
    SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    args = _pg_cli_args(server_url)
    created = subprocess.run(
        ["createdb", *args, name], capture_output=True, text=True, timeout=60, check=False
    )
    if created.returncode != 0:
        raise PostgresUnavailable(
            f"createdb on {server_url} failed: {created.stderr.strip() or created.stdout.strip()}"
        )
    try:
        yield database_url(server_url, name)
    finally:
        subprocess.run(
            ["dropdb", *args, "--if-exists", "--force", name],
            capture_output=True,
            timeout=60,
            check=False,
        )


@contextlib.contextmanager
def scratch_database_of(kind: str, prefix: str) -> Iterator[str]:
    """A new, empty database for one run: on the shared PostgreSQL (`kind` "postgres") or in a
    temporary SQLite file; gone afterwards. Yields its SQLAlchemy URL."""
    if kind == "postgres":
        with scratch_database(prefix) as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as tmp:
        yield f"sqlite:///{tmp}/hotline.db"


class OwnPostgres:
    """A PostgreSQL server of one's own in a temporary folder, on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        # initdb refuses to run as root; the folder then belongs to the postgres account.
        self._as: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PostgresUnavailable("running as root without runuser to drop privileges")
            self._as = [runuser, "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        done = subprocess.run(
            [*self._as, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise PostgresUnavailable(
                f"{args[0]} failed ({done.returncode}): {done.stderr.strip()[-500:]}"
            )

    def init(self) -> OwnPostgres:
        for tool in ("initdb", "pg_ctl"):
            if shutil.which(tool) is None:
                raise PostgresUnavailable(f"{tool} is not on PATH (apt-get install postgresql)")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
            "start",
        )  # fmt: skip

    def restart(self) -> float:
        """`pg_ctl restart -m fast`: every connection cut, the server back; returns seconds."""
        began = time.monotonic()
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "-t", "60",
            "restart",
        )  # fmt: skip
        return time.monotonic() - began

    def stop(self) -> None:
        with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

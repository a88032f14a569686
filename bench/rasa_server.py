"""Run a real Rasa 3.6 server on nlu_data/: build its environment, train, serve, test.

    python bench/rasa_server.py test [--epochs N] [-- PYTEST_ARGS...]   # `make test-rasa`
    python bench/rasa_server.py serve [--epochs N] [--port P] [--token T]
    python bench/rasa_server.py train [--epochs N]

Rasa 3.6 needs Python 3.10 (its wheel says `<3.11`) and TensorFlow 2.12, so it cannot live in
the project's Python 3.11 venv. This script finds a Python 3.10 (`python3.10` on PATH, else
pyenv's), builds a separate venv with `rasa==3.6.21` in the user's cache folder (outside the
repo, reused across runs and work trees), trains an NLU model on the Rasa training files of
nlu_data/ (cached by a hash of those files, the config and the epochs), starts
`rasa run --enable-api` on 127.0.0.1 and, for `test`, runs `pytest tests/rasa -m rasa` against it.
Without a Python 3.10 the tests are skipped with a message and the exit status is 0.

Environment:
    HOTLINE_CACHE_DIR    cache folder (default: $XDG_CACHE_HOME/hotline or ~/.cache/hotline)
    HOTLINE_PYTHON310    a Python 3.10 interpreter to use instead of searching for one
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
NLU_DATA = REPO_ROOT / "nlu_data"
RASA_VERSION = "3.6.21"
# Exact versions of everything rasa pulled in when this harness was last checked (pip freeze
# of a working environment). Rasa 3.6 leaves many dependencies open; pinning them keeps a
# fresh machine from resolving a newer release that breaks it. A change rebuilds the venv.
CONSTRAINTS = Path(__file__).resolve().parent / "rasa_constraints.txt"
PIP_REQUIREMENT = "pip>=23.3,<27"
# Enough for the clear messages of tests/rasa; the shipped config (100 epochs) is for
# serving and for bench/nlu_vs_rasa.py.
TEST_EPOCHS = 25
READY_TIMEOUT_SECONDS = 240.0
KEEP_MODELS = 6

RASA_ENV = {
    # Rasa would otherwise try to send usage data out (and ask about it on first run).
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "PYTHONWARNINGS": "ignore",
}


def say(message: str) -> None:
    print(f"[rasa] {message}", flush=True)


def cache_dir() -> Path:
    if os.environ.get("HOTLINE_CACHE_DIR"):
        return Path(os.environ["HOTLINE_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "hotline"


def venv_dir() -> Path:
    return cache_dir() / f"rasa-{RASA_VERSION}-py310"


def models_dir() -> Path:
    return cache_dir() / "rasa-models"


@contextlib.contextmanager
def cache_lock() -> Iterator[None]:
    """One build or training at a time across concurrent runs (two work trees, CI + dev)."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / "rasa.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- Python 3.10 -------------------------------------------------------------------------


def _is_python310(candidate: str | Path) -> bool:
    # Running it is the only reliable check: pyenv puts a `python3.10` shim on PATH that fails
    # ("command not found") unless 3.10 is an active pyenv version.
    try:
        result = subprocess.run(
            [str(candidate), "-c", "import sys; print(sys.version_info[:2] == (3, 10))"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip() == "True"


def _pyenv_root() -> Path:
    if shutil.which("pyenv"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30)
            if out.returncode == 0 and out.stdout.strip():
                return Path(out.stdout.strip())
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.parent.parent.name))


def find_python310() -> Path | None:
    candidates: list[Path] = []
    if os.environ.get("HOTLINE_PYTHON310"):
        candidates.append(Path(os.environ["HOTLINE_PYTHON310"]))
    on_path = shutil.which("python3.10")
    if on_path:
        candidates.append(Path(on_path))
    pyenv_versions = _pyenv_root() / "versions"
    candidates += sorted(
        pyenv_versions.glob("3.10.*/bin/python3.10"), key=_version_key, reverse=True
    )
    candidates += [Path("/usr/bin/python3.10"), Path("/usr/local/bin/python3.10")]
    for candidate in candidates:
        if _is_python310(candidate):
            return candidate
    return None


# --- The Rasa venv -----------------------------------------------------------------------


def _stamp_text() -> str:
    constraints = CONSTRAINTS.read_bytes() if CONSTRAINTS.exists() else b""
    return f"rasa=={RASA_VERSION}\nconstraints={hashlib.sha256(constraints).hexdigest()}\n"


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (Linux VmHWM), 0 where /proc has none."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else 0.0


@dataclass
class RunStats:
    seconds: float
    peak_rss_mb: float


def _run_logged(command: list[str], log_path: Path, what: str, **kwargs: Any) -> RunStats:
    """Run a long command with its output in a log file, printing a heartbeat."""
    started = time.monotonic()
    peak = 0.0
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs
        )
        next_beat = started + 30
        while process.poll() is None:
            peak = max(peak, _peak_rss_mb(process.pid))
            time.sleep(0.25)
            if time.monotonic() >= next_beat:
                say(f"  ... still {what} ({time.monotonic() - started:.0f} s)")
                next_beat += 30
    if process.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-25:]
        raise SystemExit(
            f"[rasa] {what} failed (exit {process.returncode}); last lines of {log_path}:\n"
            + "\n".join(tail)
        )
    return RunStats(time.monotonic() - started, peak)


def ensure_rasa_env(python310: Path) -> Path:
    """The venv's `rasa` executable, building the venv first if needed."""
    venv = venv_dir()
    stamp = venv / ".hotline-installed"
    rasa = venv / "bin" / "rasa"
    if stamp.exists() and stamp.read_text() == _stamp_text() and rasa.exists():
        return rasa
    with cache_lock():
        if stamp.exists() and stamp.read_text() == _stamp_text() and rasa.exists():
            return rasa
        # A venv is not relocatable (scripts name their interpreter's path), so it is built in
        # place; the stamp, written last, is what marks it complete.
        if venv.exists():
            say(f"removing incomplete or outdated Rasa environment {venv}")
            shutil.rmtree(venv)
        log_path = cache_dir() / "rasa-install.log"
        log_path.unlink(missing_ok=True)
        say(f"building the Rasa {RASA_VERSION} environment with {python310} in {venv}")
        say(f"  (a few minutes on a cold cache: TensorFlow and friends; log: {log_path})")
        started = time.monotonic()
        _run_logged([str(python310), "-m", "venv", str(venv)], log_path, "creating venv")
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        _run_logged([*pip, "install", "--upgrade", PIP_REQUIREMENT], log_path, "upgrading pip")
        install = [*pip, "install", f"rasa=={RASA_VERSION}"]
        if CONSTRAINTS.exists():
            install += ["--constraint", str(CONSTRAINTS)]
        _run_logged(install, log_path, "installing rasa")
        seconds = time.monotonic() - started
        stamp.write_text(_stamp_text())
        say(f"Rasa environment ready in {seconds:.0f} s")
    return rasa


# --- Training ----------------------------------------------------------------------------


def _is_rasa_nlu_file(path: Path) -> bool:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(document, dict) and "nlu" in document


def rasa_nlu_files(data_dir: Path = NLU_DATA) -> list[Path]:
    """The Rasa NLU training files: YAML under data_dir with a top-level `nlu:` key.

    Only these go to Rasa. Given the whole folder, Rasa also reads every YAML file with a
    top-level `responses:` key as NLU data and stops on the bot's wording files, which use
    that key in their own format [rasa/shared/nlu/training_data/formats/rasa_yaml.py,
    is_yaml_nlu_file]; the engine's side files (teencode.yml...) are skipped either way.
    """
    files = [*data_dir.rglob("*.yml"), *data_dir.rglob("*.yaml")]
    return sorted(p for p in files if p.is_file() and _is_rasa_nlu_file(p))


def training_config(epochs: int | None, data_dir: Path = NLU_DATA) -> str:
    """config.yml as shipped, or with DIETClassifier's epochs replaced."""
    text = (data_dir / "config.yml").read_text(encoding="utf-8")
    if epochs is None:
        return text
    config = yaml.safe_load(text)
    diet = [c for c in config.get("pipeline", []) if c.get("name") == "DIETClassifier"]
    if not diet:
        raise SystemExit("[rasa] nlu_data/config.yml has no DIETClassifier to set epochs on")
    for component in diet:
        component["epochs"] = epochs
    return yaml.safe_dump(config, allow_unicode=True, sort_keys=False)


@dataclass
class TrainedModel:
    path: Path
    cached: bool
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    training_files: int = 0


def train_model(rasa: Path, epochs: int | None = None, *, force: bool = False) -> TrainedModel:
    """Train (or reuse) an NLU model on nlu_data/; `epochs=None` keeps the shipped config."""
    files = rasa_nlu_files()
    if not files:
        raise SystemExit(f"[rasa] no Rasa NLU training files (top-level `nlu:`) in {NLU_DATA}")
    config = training_config(epochs)
    digest = hashlib.sha256(f"rasa=={RASA_VERSION}\nepochs={epochs}\n".encode())
    digest.update(config.encode())
    digest.update((NLU_DATA / "domain.yml").read_bytes())
    for path in files:
        digest.update(b"\0" + str(path.relative_to(NLU_DATA)).encode() + b"\0")
        digest.update(path.read_bytes())
    name = f"nlu-{digest.hexdigest()[:16]}"
    model = models_dir() / f"{name}.tar.gz"
    if model.exists() and not force:
        say(f"using cached model {model} (nlu_data/ and config unchanged)")
        return TrainedModel(model, cached=True, training_files=len(files))

    with cache_lock(), tempfile.TemporaryDirectory(prefix="hotline-rasa-train-") as tmp:
        work = Path(tmp)
        data = work / "data"
        for path in files:
            target = data / path.relative_to(NLU_DATA)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        (work / "config.yml").write_text(config, encoding="utf-8")
        shutil.copy2(NLU_DATA / "domain.yml", work / "domain.yml")
        models_dir().mkdir(parents=True, exist_ok=True)
        log_path = cache_dir() / "rasa-train.log"
        log_path.unlink(missing_ok=True)
        label = "as shipped" if epochs is None else f"DIET epochs {epochs}"
        say(f"training Rasa NLU on {len(files)} file(s) of nlu_data/ ({label}); log: {log_path}")
        stats = _run_logged(
            [
                str(rasa),
                "train",
                "nlu",
                "--nlu",
                str(data),
                "--config",
                str(work / "config.yml"),
                "--domain",
                str(work / "domain.yml"),
                "--out",
                str(work / "out"),
                "--fixed-model-name",
                name,
            ],
            log_path,
            "training",
            # cwd: Rasa keeps a training cache in ./.rasa; it must not land in the repo.
            cwd=work,
            env={**os.environ, **RASA_ENV},
        )
        trained = next((work / "out").glob(f"{name}*.tar.gz"))
        shutil.move(str(trained), model)
    _prune_models(keep=model)
    say(f"trained in {stats.seconds:.0f} s (peak memory {stats.peak_rss_mb:.0f} MB): {model}")
    return TrainedModel(
        model,
        cached=False,
        seconds=stats.seconds,
        peak_rss_mb=stats.peak_rss_mb,
        training_files=len(files),
    )


def _prune_models(keep: Path) -> None:
    models = sorted(models_dir().glob("nlu-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    for old in models[:-KEEP_MODELS]:
        if old != keep:
            old.unlink(missing_ok=True)


# --- Serving -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: on Linux, get SIGTERM if this script dies without stopping it.

    The finally blocks stop the server on errors, Ctrl-C and SIGTERM; this covers SIGKILL
    (a CI time-out), which would otherwise leave Rasa running in its own session.
    """
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class RasaServer:
    """`rasa run --enable-api` on 127.0.0.1 in its own process group, stopped by its PID."""

    def __init__(self, rasa: Path, model: Path, port: int = 0, token: str | None = None) -> None:
        self.rasa, self.model = rasa, model
        self.port = port or free_port()
        self.token = token
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = cache_dir() / f"rasa-server-{self.port}.log"
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> RasaServer:
        command = [
            str(self.rasa),
            "run",
            "--enable-api",
            "--model",
            str(self.model),
            "--interface",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        if self.token:
            # One argument with `=`: a token may start with "-" (token_urlsafe draws it one
            # time in 64), which argparse would take for an option and refuse.
            command.append(f"--auth-token={self.token}")
        # Logs of earlier runs (one per port, so concurrent runs do not mix) are kept a day.
        for old_log in cache_dir().glob("rasa-server-*.log"):
            if time.time() - old_log.stat().st_mtime > 86400:
                old_log.unlink(missing_ok=True)
        self._workdir = tempfile.TemporaryDirectory(prefix="hotline-rasa-run-")
        say(f"starting Rasa on {self.url} (log: {self.log_path})")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self._workdir.name,
                env={**os.environ, **RASA_ENV},
                # Its own process group, so that stop() ends Rasa and any worker it forked,
                # and nothing else.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> float:
        assert self.process is not None
        started = time.monotonic()
        params = {"token": self.token} if self.token else {}
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace").splitlines()[-25:]
                raise SystemExit(
                    f"[rasa] the server exited with {self.process.returncode} before it was "
                    f"ready; last lines of {self.log_path}:\n" + "\n".join(tail)
                )
            with contextlib.suppress(httpx.HTTPError, ValueError):
                answer = httpx.get(f"{self.url}/status", params=params, timeout=2.0)
                if answer.status_code == 200 and answer.json().get("model_file"):
                    seconds = time.monotonic() - started
                    say(f"Rasa ready after {seconds:.0f} s")
                    return seconds
            time.sleep(0.5)
        raise SystemExit(f"[rasa] the server at {self.url} was not ready after {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self._cleanup()
            return
        say(f"stopping Rasa (pid {self.process.pid})")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> RasaServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- Commands ----------------------------------------------------------------------------


def _prepare(epochs: int | None) -> tuple[Path, TrainedModel] | None:
    python310 = find_python310()
    if python310 is None:
        return None
    say(f"Python 3.10: {python310}")
    rasa = ensure_rasa_env(python310)
    return rasa, train_model(rasa, epochs)


def _no_python310(what: str) -> int:
    say(
        f"SKIPPED {what}: no Python 3.10 found (Rasa {RASA_VERSION} supports Python 3.8-3.10). "
        "Put python3.10 on PATH, install one with pyenv (`pyenv install 3.10`), or set "
        "HOTLINE_PYTHON310=/path/to/python3.10."
    )
    return 0


def command_test(epochs: int, pytest_args: list[str]) -> int:
    started = time.monotonic()
    prepared = _prepare(epochs)
    if prepared is None:
        return _no_python310("the Rasa backend tests")
    rasa, model = prepared
    # A token the server requires, so the tests also cover `?token=` against real Rasa.
    token = secrets.token_urlsafe(16)
    server = RasaServer(rasa, model.path, token=token)
    try:
        server.start()
        server.wait_ready()
        env = {
            **os.environ,
            "HOTLINE_RASA_URL": server.url,
            "HOTLINE_RASA_TOKEN": token,
            # The server was just checked: a test that cannot reach it must fail, not skip.
            "HOTLINE_RASA_REQUIRED": "1",
        }
        command = [sys.executable, "-m", "pytest", "tests/rasa", "-m", "rasa", *pytest_args]
        say("running " + " ".join(command[1:]))
        result = subprocess.run(command, cwd=REPO_ROOT, env=env)
    finally:
        server.stop()
    say(f"done in {time.monotonic() - started:.0f} s (pytest exit {result.returncode})")
    return result.returncode


def command_serve(epochs: int | None, port: int, token: str | None) -> int:
    prepared = _prepare(epochs)
    if prepared is None:
        return _no_python310("serving Rasa")
    rasa, model = prepared
    server = RasaServer(rasa, model.path, port=port, token=token)
    try:
        server.start()
        server.wait_ready()
        say(f"serving; use HOTLINE_NLU_BACKEND=rasa HOTLINE_RASA_URL={server.url}")
        if token:
            say("and HOTLINE_RASA_TOKEN set to the same token")
        say("Ctrl-C to stop")
        assert server.process is not None
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def command_train(epochs: int | None, force: bool) -> int:
    python310 = find_python310()
    if python310 is None:
        return _no_python310("training")
    model = train_model(ensure_rasa_env(python310), epochs, force=force)
    print(model.path)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    test = commands.add_parser("test", help="train (cached), serve and run pytest tests/rasa")
    test.add_argument("--epochs", type=int, default=TEST_EPOCHS)
    test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --, for pytest")
    serve = commands.add_parser("serve", help="train (cached) and serve until Ctrl-C")
    serve.add_argument("--epochs", type=int, default=None, help="default: as in config.yml")
    serve.add_argument("--port", type=int, default=5005)
    serve.add_argument("--token", default=os.environ.get("HOTLINE_RASA_TOKEN"))
    train = commands.add_parser("train", help="train (cached) and print the model's path")
    train.add_argument("--epochs", type=int, default=None, help="default: as in config.yml")
    train.add_argument("--force", action="store_true", help="train even if cached")
    args = parser.parse_args(argv)
    # SIGTERM (make interrupted, CI stopping) becomes SystemExit, so the finally blocks that
    # stop the Rasa server run as they do for Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if args.command == "test":
        extra = [a for a in args.pytest_args if a != "--"] if args.pytest_args else []
        return command_test(args.epochs, extra)
    if args.command == "serve":
        return command_serve(args.epochs, args.port, args.token)
    return command_train(args.epochs, args.force)


if __name__ == "__main__":
    sys.exit(main())

"""The bot's hot path in one process, without HTTP: the CPU and the database work of a message.

`bench/load.py` measures the whole service through its webhooks, on a machine it shares with
its clients, the platform fakes and PostgreSQL, so its figures move with the machine's load.
This one drives `BotService.converse` directly (the in-process transport to the API, a
recording channel in place of a platform) on a fresh PostgreSQL database, one message at a
time, and prints what a message costs: CPU and wall time, commits, statements and inserts, for
a rescue request, a question and a greeting, each the first message of its conversation.

    .venv/bin/python bench/hot_path.py [--messages 400] [--db postgres|sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import structlog  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bot.config import BotSettings  # noqa: E402
from bot.contract import ChannelBase, InboundMessage, OutboundText, TextLimit  # noqa: E402
from bot.intake.inprocess import InProcessTransport  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.runtime import BotRuntime, build_runtime  # noqa: E402
from intake_api.config import Settings  # noqa: E402
from intake_api.crypto import PersonalDataCipher, configure_cipher, generate_key  # noqa: E402
from intake_api.db import make_engine  # noqa: E402
from intake_api.models import User  # noqa: E402
from intake_api.state import AppState  # noqa: E402
from tests.faults.processes import scratch_database_of  # noqa: E402

KINDS = {
    "rescue request": "cứu em với, em bị nhốt ở Campuchia, họ đánh em",
    "question": "cho hỏi số đường dây nóng",
    "greeting": "xin chào",
}


class Recording(ChannelBase):
    """Stands for a platform: takes every message at once, as a platform answering in no time
    would."""

    name = "telegram"
    limit = TextLimit(4096, "utf16")

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, message: OutboundText) -> str | None:
        self.sent += 1
        return str(self.sent)

    async def send_all(self, messages: Sequence[OutboundText]) -> list[str | None]:
        return [await self.send(m) for m in messages]


class Work:
    """Counts what the database was asked to do."""

    def __init__(self, engine: Engine) -> None:
        self.counts: Counter[str] = Counter()
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "before_cursor_execute", self._statement)

    def _commit(self, _conn: Any) -> None:
        self.counts["commits"] += 1

    def _statement(self, _c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        self.counts["statements"] += 1
        if statement.lstrip().upper().startswith("INSERT"):
            self.counts["inserts"] += 1


def runtime_on(engine: Engine, data_dir: Path) -> BotRuntime:
    keys, blind_key = [generate_key()], "hot-path-bench-blind-index-key"
    cipher = PersonalDataCipher(keys, blind_key)
    configure_cipher(cipher)
    settings = Settings(
        database_url="sqlite://",  # unused: the engine is passed in
        data_dir=data_dir,
        encryption_keys=keys,
        blind_index_key=blind_key,
    )
    with Session(engine) as session:
        session.add(User(username="bot", password_hash="x", roles="service"))
        session.commit()
    state = AppState(settings=settings, engine=engine, cipher=cipher)
    return build_runtime(
        BotSettings(),
        engine,
        cipher,
        settings.hotlines,
        transport=InProcessTransport(state, "bot"),
        extra_channels={"telegram": Recording()},
    )


def message(text: str) -> InboundMessage:
    return InboundMessage(
        channel="telegram",
        sender_id=f"bench-{uuid.uuid4().hex[:12]}",
        message_id=uuid.uuid4().hex,
        text=text,
    )


async def measure(runtime: BotRuntime, work: Work, text: str, count: int) -> dict[str, float]:
    for _ in range(20):  # warm: caches, prepared statements, the pool
        await runtime.service.converse(message(text))
    work.counts.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await runtime.service.converse(message(text))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    figures = {name: work.counts[name] / count for name in ("commits", "statements", "inserts")}
    return {"cpu_ms": 1000 * cpu / count, "wall_ms": 1000 * wall / count, **figures}


async def main_async(args: argparse.Namespace) -> None:
    # The figures, not a log line per message.
    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with (
        scratch_database_of(args.db, "hotline_hot_path") as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        engine = make_engine(url)
        try:
            upgrade(engine)
            runtime = runtime_on(engine, Path(tmp))
            work = Work(engine)
            print(f"{args.db}, {args.messages} first messages of each kind, one at a time\n")
            print(f"{'':16}{'CPU ms':>8}{'wall ms':>9}{'commits':>9}{'stmts':>7}{'inserts':>9}")
            for kind, text in KINDS.items():
                f = await measure(runtime, work, text, args.messages)
                print(
                    f"{kind:16}{f['cpu_ms']:8.2f}{f['wall_ms']:9.2f}{f['commits']:9.1f}"
                    f"{f['statements']:7.1f}{f['inserts']:9.1f}"
                )
            await runtime.service.drain()
        finally:
            engine.dispose()


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=400, help="per kind of message")
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    args = parser.parse_args()
    if not 1 <= args.messages <= 100_000:
        parser.error("--messages 1-100000")
    return args


if __name__ == "__main__":
    asyncio.run(main_async(parse()))

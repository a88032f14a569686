"""What a reply's send to a platform costs the service: CPU per Telegram `sendMessage`, through
python-telegram-bot as the Telegram channel builds it, with httpx's own connection pool
(httpcore) and with the transport the channels use (aiohttp's pool, bot/channels/http.py), at
several sends in flight.

The fake Telegram runs in a process of its own, so the CPU counted is the sender's alone. It
answers over HTTP/1.1 with keep-alive, as the Bot API does, or over HTTP/1.0 (a connection per
request), as the fakes of the load bench and the fault tests do.

    .venv/bin/python bench/platform_send.py [--sends 1500] [--in-flight 16,64]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from telegram.ext import Application  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

from bot.channels.telegram.channel import SEND_POOL, send_request  # noqa: E402
from tests.bot.channels.fake_telegram import TOKEN  # noqa: E402

TEXT = "Hãy gọi ngay 113 (Công an) hoặc 111 (Tổng đài bảo vệ trẻ em). Mã của bạn: TIP-7KQ2M9"

SERVE_FAKE = """
import sys, time
sys.path.insert(0, sys.argv[2])
from tests.bot.channels.fake_telegram import FakeTelegram
fake = FakeTelegram(keep_alive=sys.argv[1] == "1.1").start()
print(fake.base_url, flush=True)
time.sleep(3600)
"""


def request_of(pool: str) -> HTTPXRequest:
    if pool == "httpcore":
        return HTTPXRequest(connection_pool_size=SEND_POOL)  # PTB's own default
    return send_request()


async def measure(base: str, pool: str, in_flight: int, sends: int) -> tuple[float, float]:
    application = (
        Application.builder()
        .token(TOKEN)
        .base_url(base)
        .request(request_of(pool))
        .updater(None)
        .build()
    )
    await application.initialize()
    gate = asyncio.Semaphore(in_flight)

    async def send(chat: int) -> None:
        async with gate:
            await application.bot.send_message(chat_id=chat, text=TEXT)

    try:
        await asyncio.gather(*(send(n) for n in range(200)))  # connections open, code warm
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(send(n) for n in range(sends)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await application.shutdown()
    return 1000 * cpu / sends, sends / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=1500)
    parser.add_argument(
        "--in-flight", type=lambda v: [int(n) for n in v.split(",")], default=[16, 64]
    )
    args = parser.parse_args()
    if not 1 <= args.sends <= 100_000 or min(args.in_flight) < 1:
        parser.error("--sends 1-100000, --in-flight at least 1")
    print("CPU of the sender per sendMessage (ms), and sends/s; the fake in its own process\n")
    print(f"{'fake speaks':14}{'in flight':>10}{'httpcore pool':>16}{'aiohttp pool':>15}")
    for version in ("1.1", "1.0"):
        fake = subprocess.Popen(
            [sys.executable, "-c", SERVE_FAKE, version, str(REPO)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert fake.stdout is not None
            base = fake.stdout.readline().strip()
            for in_flight in args.in_flight:
                cells = []
                for pool in ("httpcore", "aiohttp"):
                    cpu_ms, rate = asyncio.run(measure(base, pool, in_flight, args.sends))
                    cells.append(f"{cpu_ms:6.2f} ({rate:5.0f}/s)")
                print(f"{'HTTP/' + version:14}{in_flight:>10}{cells[0]:>16}{cells[1]:>15}")
        finally:
            fake.kill()
            fake.wait()


if __name__ == "__main__":
    main()

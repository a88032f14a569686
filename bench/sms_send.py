"""What an SMS reply's send costs the service: CPU per `SmsChannel.send`, through the Twilio SDK's
async side on the event loop (bot/channels/sms/transport.py, the default) and through the SDK's
requests client in a worker thread (what the channel uses when a proxy is named), against a
fake Twilio in a process of its own (the CPU counted is the sender's alone), keeping
connections alive as Twilio's servers do.

    .venv/bin/python bench/sms_send.py [--sends 600] [--in-flight 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.channels.sms.channel import SmsChannel  # noqa: E402
from bot.config import BotSettings  # noqa: E402
from bot.contract import OutboundText  # noqa: E402

ACCOUNT_SID = "AC" + "0" * 32
TEXT = "Hãy gọi ngay 113 (Công an) hoặc 111 (Tổng đài). Mã tin báo của bạn: TIP-7KQ2M"

SERVE_FAKE = f"""
import sys, time
sys.path.insert(0, sys.argv[1])
from tests.bot.channels.fake_twilio import FakeTwilio
fake = FakeTwilio({ACCOUNT_SID!r}, keep_alive=True).start()
print(fake.url, flush=True)
time.sleep(3600)
"""


def channel_to(url: str, behind_proxy: bool) -> SmsChannel:
    saved = {k: os.environ.get(k) for k in ("HTTPS_PROXY", "NO_PROXY")}
    if behind_proxy:
        # A proxy named, the fake exempt: the channel takes the SDK's requests client.
        os.environ.update(HTTPS_PROXY="http://proxy.invalid:3128", NO_PROXY="127.0.0.1")
    try:
        settings = BotSettings(
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token="bench-token",
            twilio_from_number="+15005550006",
            twilio_api_base=url,
        )
        return SmsChannel(settings)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def measure(channel: SmsChannel, sends: int, in_flight: int) -> tuple[float, float]:
    gate = asyncio.Semaphore(in_flight)

    async def one(n: int) -> None:
        async with gate:
            await channel.send(OutboundText("sms", f"+8491{n % 10_000_000:07d}", TEXT))

    await asyncio.gather(*(one(n) for n in range(50)))  # warm: connections, caches
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(sends)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await channel.stop()
    return 1000 * cpu / sends, sends / wall


async def main_async(args: argparse.Namespace) -> None:
    fake = subprocess.Popen(
        [sys.executable, "-c", SERVE_FAKE, str(REPO)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert fake.stdout is not None
        url = fake.stdout.readline().strip()
        print(f"{args.sends} sends, {args.in_flight} in flight\n")
        print(f"{'':44}{'CPU ms a send':>14}{'sends/s':>9}")
        for _ in range(args.rounds):
            for label, behind_proxy in (
                ("async SDK on the event loop (the default)", False),
                ("requests client in a thread (behind a proxy)", True),
            ):
                cpu, rate = await measure(channel_to(url, behind_proxy), args.sends, args.in_flight)
                print(f"{label:44}{cpu:14.2f}{rate:9.0f}")
    finally:
        fake.kill()


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=600)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not (1 <= args.sends <= 100_000 and 1 <= args.in_flight <= 256 and 1 <= args.rounds <= 10):
        parser.error("--sends 1-100000, --in-flight 1-256, --rounds 1-10")
    return args


if __name__ == "__main__":
    asyncio.run(main_async(parse()))

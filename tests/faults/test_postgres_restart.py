"""PostgreSQL restarted (`pg_ctl restart -m fast`: every connection cut) while twenty-four
people write to `hotline serve` on Telegram, Zalo and SMS.

The server is a PostgreSQL of the test's own (initdb in a temporary folder, a free port), so
the machine's shared server is never restarted. The run happens once for the module; each
test checks one promise: nothing acknowledged is lost (a webhook that could not be stored is
refused with 503 and stored on the platform's retry, never acknowledged and dropped), every
message is answered, every rescue and tip is one ticket, and the service answers again within
seconds once the database is back.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from tests.faults.checks import Examination, at_rest, examine, reply_waits, until, waits_after
from tests.faults.conftest import require_fault_run, unavailable
from tests.faults.drive import Inbox, Key, Said, finished, talk
from tests.faults.evidence import Stored, snapshot
from tests.faults.platforms import (
    Delivery,
    Phones,
    RecordingTelegram,
    RecordingTwilio,
    RecordingZalo,
)
from tests.faults.processes import (
    HotlineServer,
    Keys,
    OwnPostgres,
    PostgresUnavailable,
    server_env,
)
from tests.faults.reporters import TWILIO_SID, Reporter, Signer, make_reporter, platform_env

pytestmark = pytest.mark.slow

CHANNELS = ("telegram", "zalo", "sms")
KINDS = ["rescue"] * 8 + ["tip"] * 8 + ["question"] * 4 + ["greeting"] * 4
RESTART_AT = 0.4  # share of the stream written when PostgreSQL restarts
RESUME_BOUND = 15.0


@dataclass
class Run:
    reporters: list[Reporter]
    said: list[Said]
    phones: dict[Key, list[Delivery]]
    stored: Stored
    restarted_at: float
    back_at: float
    talking: int
    found: Examination
    at_rest: bool


async def _stream(tmp: Path, postgres: OwnPostgres) -> Run:
    phones = Phones()
    fakes = (
        RecordingTelegram(phones).start(),
        RecordingZalo(phones).start(),
        RecordingTwilio(phones, account_sid=TWILIO_SID).start(),
    )
    keys = Keys()
    env = server_env(
        postgres.url,
        tmp,
        keys,
        platform_env(*fakes),
        HOTLINE_SILENCE_FILING_MINUTES="0.15",
    )
    server = HotlineServer(env, tmp / "server.log")
    engine = create_engine(postgres.url)
    rng = random.Random(11)
    reporters = [
        make_reporter(n, rng, CHANNELS, kind=kind, lengths=(7, 9)) for n, kind in enumerate(KINDS)
    ]
    total = sum(len(r.texts) for r in reporters)
    inbox = Inbox(phones, asyncio.get_running_loop())
    signer = Signer()
    progress: list[Said] = []
    try:
        await asyncio.to_thread(server.start)
        async with httpx.AsyncClient() as client:
            people = [
                asyncio.create_task(
                    talk(r, client, lambda: server.url, signer, inbox, pause=0.8, progress=progress)
                )
                for r in reporters
            ]
            await until(lambda: len(progress) >= RESTART_AT * total, timeout=60)
            talking = len(reporters) - len(finished(progress, reporters))
            restarted_at = time.time()
            await asyncio.to_thread(postgres.restart)
            back_at = time.time()
            said = [s for done in await asyncio.gather(*people) for s in done]
        rested = await until(
            lambda: at_rest(snapshot(engine, keys.cipher()), reporters, tips_filed=True),
            timeout=45,
        )
        stored = snapshot(engine, keys.cipher())
    finally:
        server.stop()
        engine.dispose()
        for fake in fakes:
            fake.stop()
    received = dict(inbox.got)
    found = examine(reporters, said, received, stored, tips_filed=True)
    return Run(reporters, said, received, stored, restarted_at, back_at, talking, found, rested)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    require_fault_run()
    postgres = OwnPostgres()
    try:
        postgres.init().start()
        result = asyncio.run(_stream(tmp_path_factory.mktemp("pgrestart"), postgres))
    except PostgresUnavailable as exc:
        unavailable(str(exc))
    finally:
        postgres.stop()
    refused = Counter(e for s in result.said for e in s.posted.errors)
    print(
        f"\nPostgreSQL restart: {result.found.summary()}; restart took "
        f"{result.back_at - result.restarted_at:.1f} s with {result.talking} people talking; "
        f"webhook refusals {dict(refused)}; longest wait after it {longest(result):.1f} s"
    )
    return result


def waits(run: Run) -> list[tuple[float, str]]:
    messages = [
        (wait, f"message {s.index} of {s.reporter.kind} #{s.reporter.number}")
        for wait, s in waits_after(run.said, run.back_at, run.restarted_at, float("inf"))
    ]
    replies = reply_waits(
        run.stored, run.phones, run.reporters, run.back_at, run.restarted_at, float("inf")
    )
    return messages + replies


def longest(run: Run) -> float:
    return max((w for w, _ in waits(run)), default=0.0)


def test_the_database_restarted_in_the_middle_of_the_stream(run: Run) -> None:
    assert run.talking >= 10, "PostgreSQL restarted after most people had finished"
    assert len(run.said) == sum(len(r.texts) for r in run.reporters)
    assert run.at_rest, "the service never finished its work after the restart"


def test_a_webhook_that_could_not_be_stored_is_refused_with_503_never_dropped(run: Run) -> None:
    refusals = Counter(e for s in run.said for e in s.posted.errors)
    assert set(refusals) <= {"503"}, f"refusals other than 503: {dict(refusals)}"
    lost = [s for s in run.said if s.posted.accepted_at is None]
    assert not lost, f"{len(lost)} messages never acknowledged"


def test_nothing_acknowledged_is_lost_and_every_message_is_answered(run: Run) -> None:
    problems = run.found.unanswered + run.found.unsent
    assert not problems, "\n".join(problems)


def test_every_rescue_and_every_tip_is_exactly_one_ticket(run: Run) -> None:
    assert not run.found.ticket_problems, "\n".join(run.found.ticket_problems)


def test_no_reply_the_platform_confirmed_is_sent_again(run: Run) -> None:
    assert not run.found.duplicates, "\n".join(run.found.duplicates)


def test_the_service_answers_within_seconds_once_the_database_is_back(run: Run) -> None:
    slow = [f"{wait:.1f} s: {what}" for wait, what in waits(run) if wait > RESUME_BOUND]
    assert not slow, "\n".join(slow)

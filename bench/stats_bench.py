"""How long statistics and reports take over a realistic year of tickets.

Fills a temporary SQLite database with ~20,000 tickets (inserted in bulk, not through the API),
then times GET /api/v1/stats and the quarterly .xlsx report through the real application.

    .venv/bin/python bench/stats_bench.py [--tickets 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlmodel import Session

from intake_api.app import create_app
from intake_api.config import DEFAULT_AGENCIES, DEFAULT_PROVINCES, Settings
from intake_api.crypto import generate_key
from intake_api.db import make_engine
from intake_api.enums import Channel, Intent, Status
from intake_api.migrate import upgrade
from intake_api.models import Ticket, TicketAgency, User
from intake_api.tokens import issue_token

SLA_HOURS = {"P1": 1.0, "P2": 24.0, "P3": 72.0}
STATUSES = [s.value for s in Status]
# Weighted toward what a hotline sees: most tickets worked to an end, a few still open.
STATUS_WEIGHTS = [5, 5, 10, 2, 60, 10, 8]


def ticket_rows(count: int, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    span = (datetime(2026, 7, 1, tzinfo=UTC) - start).total_seconds()
    agencies = [a.code for a in DEFAULT_AGENCIES]
    tickets, routes = [], []
    for n in range(count):
        created = start + timedelta(seconds=rng.random() * span)
        priority = rng.choices(["P1", "P2", "P3"], [1, 6, 3])[0]
        status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
        due = created + timedelta(hours=SLA_HOURS[priority])
        answered = None
        if status != Status.new:
            # Mostly within the service level, with a long tail past it.
            answered = created + timedelta(hours=rng.expovariate(1.0) * SLA_HOURS[priority] / 2)
        ticket_id = uuid.uuid4().hex
        tickets.append(
            {
                "id": ticket_id,
                "reference_code": f"TIP-{n:07d}",
                "status": status,
                "priority": priority,
                "category": rng.choice(list(Intent)).value,
                "channel": rng.choice(list(Channel)).value,
                "province": rng.choice([*DEFAULT_PROVINCES, None]),
                "country": None,
                "anonymous": False,
                "consent_to_contact": False,
                "triage_reasons": [],
                "idempotency_key": f"bench-{n}",
                "request_fingerprint": "bench",
                "due_at": due,
                "first_response_at": answered,
                "closed_at": answered if status in ("resolved", "unfounded", "duplicate") else None,
                "created_at": created,
                "updated_at": answered or created,
                "version": 1,
            }
        )
        for agency in rng.sample(agencies, rng.choice([1, 1, 1, 2])):
            routes.append({"ticket_id": ticket_id, "agency": agency})
    return tickets, routes


def timed(label: str, call: Callable[[], Any], repeat: int) -> Any:
    durations, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        durations.append((time.perf_counter() - started) * 1000)
    print(
        f"{label:<34} median {statistics.median(durations):8.1f} ms"
        f"   min {min(durations):8.1f} ms   max {max(durations):8.1f} ms"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        settings = Settings(
            database_url="sqlite://",  # unused: the engine is passed in
            data_dir=Path(tmp),
            encryption_keys=[generate_key()],
            blind_index_key="bench-blind-index-key",
        )
        app = create_app(settings, engine)

        started = time.perf_counter()
        tickets, routes = ticket_rows(args.tickets)
        with Session(engine) as session:
            session.execute(insert(Ticket), tickets)
            session.execute(insert(TicketAgency), routes)
            # A password hash is never checked: the bench signs in with an issued token.
            user = User(username="bench_supervisor", password_hash="-", roles="supervisor")
            session.add(user)
            session.commit()
            token = issue_token(session, user, timedelta(hours=1))
        print(
            f"inserted {len(tickets)} tickets, {len(routes)} routings "
            f"in {time.perf_counter() - started:.1f} s"
        )

        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(app) as client:

            def get(url: str, **params: Any) -> Any:
                response = client.get(url, headers=headers, params=params)
                response.raise_for_status()
                return response

            stats = timed("GET /stats (month)", lambda: get("/api/v1/stats").json(), args.repeat)
            timed(
                "GET /stats (quarter, P1, police)",
                lambda: get("/api/v1/stats", period="quarter", priority="P1", agency="police"),
                args.repeat,
            )
            xlsx = timed(
                "GET /reports/2026/Q1 (xlsx)", lambda: get("/api/v1/reports/2026/Q1"), args.repeat
            )
            timed(
                "GET /reports/2025/year (csv)",
                lambda: get("/api/v1/reports/2025/year", format="csv"),
                args.repeat,
            )

    resolution, first, sla = stats["resolution"], stats["first_response"], stats["sla"]
    print()
    print(f"tips received        {stats['total']}")
    print(f"classified           {stats['classified']}")
    rate = resolution["rate"]
    print(
        f"resolution rate      {rate:.1%} of {resolution['counted']} "
        f"(target {resolution['target']:.0%}, met: {resolution['target_met']})"
    )
    print(
        f"first response       median {first['median_minutes']} min, "
        f"p90 {first['p90_minutes']} min over {first['responded']}"
    )
    print(f"SLA breaches         {sla['breaches']}")
    print(f"periods              {len(stats['by_period'])} months")
    print(f"Q1 2026 xlsx         {len(xlsx.content) / 1024:.1f} KiB")


if __name__ == "__main__":
    main()

"""The PostgreSQL pool under concurrency: connections are reused, never opened anew for each
burst (each new connection is a new process on the server)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from intake_api.db import POOL_SIZE, make_engine
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.postgres


def _burst(engine: Engine, workers: int) -> set[int]:
    """`workers` transactions at once, each holding its connection until all have one; the
    server process ids that served them."""
    barrier = threading.Barrier(workers, timeout=20)
    pids: set[int] = set()
    lock = threading.Lock()

    def work() -> None:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            barrier.wait()
        with lock:
            pids.add(pid)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return pids


def test_bursts_of_concurrent_transactions_reuse_the_same_connections(
    postgres_engine: Engine,  # the server is there (skipped, or failed in CI, where not)
) -> None:
    # An engine of the test's own: its pool starts empty, whatever other tests left open.
    engine = make_engine(POSTGRES_URL)
    try:
        first = _burst(engine, POOL_SIZE)
        assert len(first) == POOL_SIZE
        # The same number at once again, twice: every one comes back from the pool. (A pool
        # of 10 with 20 overflow connections closed 20 of them after each burst.)
        assert _burst(engine, POOL_SIZE) == first
        assert _burst(engine, POOL_SIZE) == first
    finally:
        engine.dispose()

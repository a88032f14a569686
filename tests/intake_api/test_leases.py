"""The lease every worker takes (intake_api/leases.py), attacked with a second taker: a lease
its holder keeps renewing is never taken from it, one its holder stopped renewing (killed, or
forgot it) is free within one lease, and a renewal never locks a row again once it is settled.

Run on a real queue table (the bot's outgoing messages) on SQLite and PostgreSQL, with leases
of a fraction of a second so the test waits for several of them."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.models import OutgoingMessage
from intake_api.leases import LeaseKeeper, lease_pending_row

LEASE = timedelta(seconds=0.6)


def _row(engine: Engine) -> int:
    with Session(engine) as session:
        row = OutgoingMessage(channel="telegram", recipient="1", text="x")
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def _keeper(engine: Engine, **kwargs: timedelta) -> LeaseKeeper:
    return LeaseKeeper(
        engine,
        OutgoingMessage,
        col(OutgoingMessage.leased_until),
        LEASE,
        col(OutgoingMessage.state) == "pending",
        **kwargs,
    )


def _another_worker_takes(engine: Engine, row_id: int) -> bool:
    return lease_pending_row(engine, OutgoingMessage, row_id, LEASE)


def test_a_held_lease_outlives_many_leases_and_is_free_one_lease_after_the_holder_stops(
    engine: Engine,
) -> None:
    keeper = _keeper(engine)
    row_id = _row(engine)
    assert lease_pending_row(engine, OutgoingMessage, row_id, LEASE)
    keeper.hold(row_id)
    deadline = time.monotonic() + 4 * LEASE.total_seconds()
    while time.monotonic() < deadline:
        assert not _another_worker_takes(engine, row_id), "taken from a live holder"
        time.sleep(0.1)
    # The holder dies (its renewals stop): the row is anyone's within about one lease.
    keeper.drop(row_id)
    deadline = time.monotonic() + 3 * LEASE.total_seconds()
    while not _another_worker_takes(engine, row_id):
        assert time.monotonic() < deadline, "a dead holder's lease was never freed"
        time.sleep(0.05)


def test_a_forgotten_hold_ends_after_max_hold(engine: Engine) -> None:
    keeper = _keeper(engine, max_hold=timedelta(seconds=1.0))
    row_id = _row(engine)
    assert lease_pending_row(engine, OutgoingMessage, row_id, LEASE)
    keeper.hold(row_id)  # and never dropped
    deadline = time.monotonic() + 1.0 + 4 * LEASE.total_seconds()
    while not _another_worker_takes(engine, row_id):
        assert time.monotonic() < deadline, "a forgotten hold kept the row for good"
        time.sleep(0.05)
    assert row_id not in keeper.held()


def test_a_renewal_never_locks_a_settled_or_released_row_again(engine: Engine) -> None:
    keeper = _keeper(engine)
    sent, released = _row(engine), _row(engine)
    for row_id in (sent, released):
        assert lease_pending_row(engine, OutgoingMessage, row_id, LEASE)
    keeper.hold(sent, released)
    with Session(engine) as session:
        row = session.get(OutgoingMessage, sent)
        other = session.get(OutgoingMessage, released)
        assert row is not None and other is not None
        row.state, row.leased_until = "sent", None
        other.leased_until = None  # handed back, still pending
        session.add_all([row, other])
        session.commit()
    time.sleep(3 * LEASE.total_seconds())  # several renewal rounds, the hold still on
    with Session(engine) as session:
        assert session.get(OutgoingMessage, sent).leased_until is None  # type: ignore[union-attr]
        assert session.get(OutgoingMessage, released).leased_until is None  # type: ignore[union-attr]
    assert _another_worker_takes(engine, released)
    keeper.drop(sent, released)

"""The durable outbox between the bot and the intake API.

A ticket or a further message is written here first, in the bot's own transaction, and then
delivered; when the API is down it waits and is retried with exponential back-off. Items for
one reference code go out in order (a message never reaches the API before its ticket), and
the API's idempotency keys make a retry after an unclear failure harmless.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from bot.intake.transport import IntakeTransport, Rejected, Unavailable
from bot.models import OutboxItem
from intake_api.db import utcnow
from intake_api.leases import LeaseKeeper, free_pending_rows, lease_pending_row

log = structlog.get_logger("bot.outbox")

# Renewed while this process delivers the item (through the transport's own timeout), so a
# killed process's items are anyone's within seconds.
LEASE = timedelta(seconds=8)


def enqueue(
    session: Session, kind: str, reference_code: str, key: str, payload: dict[str, Any]
) -> OutboxItem:
    item = OutboxItem(
        kind=kind, reference_code=reference_code, idempotency_key=key, payload=payload
    )
    session.add(item)
    return item


def backoff(attempts: int, ceiling: float) -> timedelta:
    # Full jitter, so many bots coming back together do not hit the API in lock-step.
    return timedelta(seconds=random.uniform(0, min(ceiling, 2.0 ** min(attempts, 16))))


class Outbox:
    def __init__(self, engine: Engine, transport: IntakeTransport, max_backoff: float) -> None:
        self._engine = engine
        self._transport = transport
        self._max_backoff = max_backoff
        self.leases = LeaseKeeper(
            engine,
            OutboxItem,
            col(OutboxItem.leased_until),
            LEASE,
            col(OutboxItem.state) == "pending",
        )

    def pending_count(self) -> int:
        with Session(self._engine) as session:
            return session.exec(
                select(func.count()).select_from(OutboxItem).where(OutboxItem.state == "pending")
            ).one()

    def deliver_pending(self, reference_code: str | None = None, limit: int = 100) -> int:
        """Delivers what is due; returns how many items reached the API."""
        now = utcnow()
        with Session(self._engine, expire_on_commit=False) as session:
            stmt = select(OutboxItem).where(OutboxItem.state == "pending")
            if reference_code is not None:
                stmt = stmt.where(OutboxItem.reference_code == reference_code)
            items = session.exec(stmt.order_by(col(OutboxItem.id)).limit(limit)).all()
        delivered = 0
        blocked: set[str] = set()
        for item in items:
            if item.reference_code in blocked:
                continue
            if item.next_attempt_at > now and reference_code is None:
                blocked.add(item.reference_code)  # keep this code's later items in order
                continue
            outcome = self._deliver_one(item)
            if outcome == "delivered":
                delivered += 1
            elif outcome == "down":
                break  # the API is down: the rest would fail the same way
            else:
                blocked.add(item.reference_code)
        return delivered

    def deliver_held(self, items: list[OutboxItem]) -> int:
        """Delivers items this process wrote leased to itself (a turn's filings), in order,
        without taking the lease again.

        Behind an earlier item of the same code still undelivered (the ticket itself, on its
        way in another task or process), an item is let go instead: the API does not know the
        code yet and would refuse it for good. Whoever delivers that ticket sends the items
        waiting behind it at once (else the next background round does, in order)."""
        delivered = 0
        waiting: set[str] = set()
        created: list[str] = []
        try:
            waiting = self._behind_earlier(items)
            for item in items:
                if item.reference_code in waiting:
                    continue
                outcome = self._deliver_one(item, held=True)
                if outcome == "delivered":
                    delivered += 1
                    if item.kind == "create":
                        created.append(item.reference_code)
                elif outcome == "down":
                    break
        finally:
            self.leases.drop(*[item.id for item in items])
        if waiting:
            ids = [item.id for item in items if item.reference_code in waiting]
            free_pending_rows(self._engine, OutboxItem, ids)
        for code in created:
            delivered += self.deliver_pending(reference_code=code)
        return delivered

    def _behind_earlier(self, items: list[OutboxItem]) -> set[str]:
        """The codes of these items that an earlier undelivered item of theirs, not among
        them, goes before."""
        # A ticket is the first item of its code: only what adds to a ticket can be behind.
        first: dict[str, int] = {}
        for item in items:
            if item.kind != "create":
                first.setdefault(item.reference_code, int(item.id or 0))
        if not first:
            return set()
        with Session(self._engine) as session:
            earliest = session.exec(
                select(OutboxItem.reference_code, func.min(OutboxItem.id))
                .where(
                    OutboxItem.state == "pending",
                    col(OutboxItem.reference_code).in_(list(first)),
                    col(OutboxItem.id).not_in([item.id for item in items]),
                )
                .group_by(col(OutboxItem.reference_code))
            ).all()
        return {code for code, lowest in earliest if lowest < first[code]}

    def _lease(self, item: OutboxItem) -> bool:
        return lease_pending_row(self._engine, OutboxItem, item.id, LEASE)

    def _deliver_one(self, item: OutboxItem, held: bool = False) -> str:
        if not held:
            if not self._lease(item):
                return "busy"  # another process has it
            self.leases.hold(item.id)
        try:
            return self._deliver_leased(item)
        finally:
            self.leases.drop(item.id)

    def _deliver_leased(self, item: OutboxItem) -> str:
        try:
            if item.kind == "create":
                self._transport.create(item.payload, item.idempotency_key)
            elif item.kind == "call":
                self._transport.call(item.reference_code, item.payload)
            else:
                self._transport.append(item.reference_code, item.payload)
        except Unavailable as exc:
            self._retry_later(item, str(exc))
            return "down"
        except Rejected as exc:
            if exc.status in (401, 403):
                # The bot's token or account is wrong: a configuration fault, not the tip's.
                # Keep retrying so nothing is lost once an operator fixes it.
                log.error("intake_api_refuses_the_bot", status=exc.status, outbox_id=item.id)
                self._retry_later(item, f"{exc.status}: {exc.detail}")
                return "down"
            # Kept, not dropped: a tip the API refuses is a bug to fix, never data to lose.
            self._finish(item, "failed", f"{exc.status}: {exc.detail}"[:500])
            log.error(
                "outbox_item_rejected",
                outbox_id=item.id,
                kind=item.kind,
                status=exc.status,
            )
            return "rejected"
        self._finish(item, "delivered", None)
        return "delivered"

    def _retry_later(self, item: OutboxItem, error: str) -> None:
        with Session(self._engine) as session:
            row = session.get(OutboxItem, item.id)
            assert row is not None
            row.attempts += 1
            row.next_attempt_at = utcnow() + backoff(row.attempts, self._max_backoff)
            row.leased_until = None
            row.last_error = error[:500]
            session.add(row)
            session.commit()
            log.warning("intake_api_unavailable", outbox_id=row.id, attempts=row.attempts)

    def _finish(self, item: OutboxItem, state: str, error: str | None) -> None:
        # One UPDATE, without loading the row: loading it would decrypt the whole payload
        # (the ticket as filed) for nothing, on every filing.
        table = OutboxItem.__table__  # type: ignore[attr-defined]
        values: dict[str, Any] = {"state": state, "leased_until": None, "last_error": error}
        if state == "delivered":
            values["delivered_at"] = utcnow()
        with Session(self._engine) as session:
            session.execute(update(table).where(table.c.id == item.id).values(**values))
            session.commit()


def stuck_items(engine: Engine) -> list[OutboxItem]:
    """Items the API refused or that still wait, oldest first, for an operator to look at."""
    with Session(engine, expire_on_commit=False) as session:
        return list(
            session.exec(
                select(OutboxItem)
                .where(col(OutboxItem.state) != "delivered")
                .order_by(col(OutboxItem.id))
            ).all()
        )


def requeue(engine: Engine, ids: list[int] | None) -> int:
    """Puts refused items back in line (after the cause was fixed); all of them when ids is None."""
    with Session(engine) as session:
        stmt = select(OutboxItem).where(OutboxItem.state == "failed")
        if ids is not None:
            stmt = stmt.where(col(OutboxItem.id).in_(ids))
        rows = session.exec(stmt).all()
        for row in rows:
            row.state = "pending"
            row.attempts = 0
            row.next_attempt_at = utcnow()
            row.leased_until = None
            session.add(row)
        session.commit()
        return len(rows)

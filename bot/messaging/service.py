"""The flow of one message on the bot's side (docs/architecture.md, steps 2–6):

channel → `accept` (rate limit, store before acknowledging) → `process` (one conversation at a
time: NLU, dialogue; the turn's state, filed intake items and replies saved in one transaction)
→ replies out through `send_pending`, at least once, in order, retried with back-off.

What was stored is always worked: a flooding sender's messages wait out their window (a
message that reads as danger does not wait), a crashed process's messages are picked up by the
background rounds, and a conversation left silent in the middle of a report is filed.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import bindparam, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from bot.contract import Channel, DeliveryError, InboundMessage, OutboundText
from bot.dialogue.engine import Dialogue
from bot.intake.client import IntakeClient
from bot.messaging.conversations import (
    LEASE_POLL_SECONDS,
    ConversationBusy,
    ConversationStore,
    TurnStart,
)
from bot.messaging.grouped import GroupCommit
from bot.messaging.ratelimit import RateLimiter
from bot.models import InboundRecord, OutboxItem, OutgoingMessage
from bot.models import outgoing_table as _outgoing
from intake_api.db import DirectStatement, run_db, utcnow
from intake_api.leases import LeaseKeeper, free_pending_rows, lease_pending_row
from intake_api.metrics import DELIVERY_FAILURES, MESSAGES_IN

log = structlog.get_logger("bot.service")

# A message being sent is not offered to another worker for this long. The lease is renewed
# while this process holds it (through the slowest platform call: Twilio's client gives up
# after 10 s), so it only has to outlast a missed renewal: a killed process's replies go out
# within seconds of a restart.
SEND_LEASE = timedelta(seconds=8)
# The longest wait between two tries of one message (a platform down for hours is retried
# every few minutes, and the first tries come quickly).
MAX_SEND_BACKOFF_SECONDS = 300.0
# After this many tries a message is marked failed, visible in `hotline outbox list`.
MAX_SEND_ATTEMPTS = 50
# The longest a turn's replies wait for an earlier reply this process is sending before they
# are left to the background round.
SEND_BEHIND_WAIT_SECONDS = 3.0

_WAITING = DeliveryError("waiting for an earlier message")
# A send's outcome: the row, the platform's id for it when sent, the error when not.
Outcome = tuple[OutgoingMessage, str | None, Exception | None]
_MARK_SENT = DirectStatement(
    update(_outgoing)
    .where(_outgoing.c.id == bindparam("row_id"))
    .values(
        state="sent",
        sent_at=bindparam("now"),
        platform_message_id=bindparam("sent_id"),
        attempts=_outgoing.c.attempts + 1,
        leased_until=None,
        last_error=None,
    )
)


@dataclass
class Worked:
    """What working a conversation left to do outside its transaction."""

    conversation_id: str
    erased: bool = False
    to_delete: list[str] = field(default_factory=list)
    recipient: str | None = None
    channel: str | None = None
    # Written leased to this process: sent and delivered right after the turn.
    replies: list[OutgoingMessage] = field(default_factory=list)
    filed: list[OutboxItem] = field(default_factory=list)
    # An earlier reply of the conversation was unsent when these were written: they go after.
    waits_behind: bool = False


class BotService:
    def __init__(
        self,
        engine: Engine,
        store: ConversationStore,
        dialogue: Dialogue,
        channels: Mapping[str, Channel],
        rate_limiter: RateLimiter,
        intake: IntakeClient,
        *,
        is_urgent: Callable[[str], bool],
        flood_notice: Callable[[int], str],
        silence: timedelta,
        turns_wait_on_network: bool = False,
        filings_wait_on_network: bool = False,
    ) -> None:
        """A turn may wait on the network (a Rasa server, a remote API asked for a code's
        status), a filing too (a remote API): those then run on anyio's worker threads rather
        than on the few that the bot's database work shares (intake_api.db.run_db), which such
        a wait would hold. In one process with the embedded NLU, all of it is database work."""
        self._engine = engine
        self._run_turn = run_in_threadpool if turns_wait_on_network else run_db
        # For a person who waits in the same request for the answer (the web chat, the
        # terminal), a turn that waits on no network runs in the transaction that stores the
        # message: one commit for the message, its state and its replies, instead of two, and
        # no later answer for it. Not for a platform's webhook, whose acknowledgement would
        # then wait for the turn too (open loop, 80/s: its p50 doubled, README "Load"). Not on
        # SQLite, whose one write lock the turn would then hold through the dialogue, and wait
        # on itself when the turn writes through another connection (the API's audit of a
        # status look-up); nor for a turn that waits on a Rasa server or a remote API, which
        # would keep a transaction open for its round trip.
        self._turn_in_store = not turns_wait_on_network and engine.dialect.name != "sqlite"
        self._run_filing = run_in_threadpool if filings_wait_on_network else run_db
        self.store = store
        self.dialogue = dialogue
        self.channels = dict(channels)
        self.rate_limiter = rate_limiter
        self.intake = intake
        # Whether a text reads as danger now: such a message is worked at once, flood or not.
        self._is_urgent = is_urgent
        self._flood_notice = flood_notice
        self._silence = silence
        self._tasks: set[asyncio.Task[Any]] = set()
        self.sending = LeaseKeeper(
            engine,
            OutgoingMessage,
            col(OutgoingMessage.leased_until),
            SEND_LEASE,
            col(OutgoingMessage.state) == "pending",
        )
        # The outcomes of sends running at the same time are recorded together: one
        # transaction for every reply that came back while the previous record was written.
        self._record_sends: GroupCommit[Outcome] = GroupCommit(self._settle, run_db)
        # Told when a message carrying a staff reply is sent or has failed for good (the staff
        # reply delivery reports it to the ticket).
        self.on_staff_reply: Callable[[int, bool, str | None], Awaitable[None]] | None = None

    # -- step 2: store before acknowledging -------------------------------------------------

    async def accept(self, message: InboundMessage) -> bool:
        """The one inbound handler every channel is given: returns once the message is stored
        (True) or known (False). The answer is worked out and sent in the background, or before
        returning for a channel whose person waits for it in the same request.

        A flooding sender's message is stored and answered after its window; the channel still
        acknowledges it (a 429 would stall a platform's whole queue, every other person's
        messages with it). A message that reads as danger is answered at once."""
        channel = self.channels.get(message.channel)
        waits = channel is not None and channel.waits_for_replies
        stored = await run_db(
            functools.partial(
                self.store.store_inbound,
                message,
                self.rate_limiter,
                self._is_urgent,
                lease=True,
                turn=self._turn_in if self._turn_in_store and waits else None,
            )
        )
        if stored is None:
            log.info("duplicate_inbound", channel=message.channel)
            return False
        MESSAGES_IN.labels(message.channel).inc()
        conversation_id, verdict, not_before = (
            stored.conversation_id,
            stored.verdict,
            stored.not_before,
        )
        urgent = verdict.retry_after is not None and not_before is None
        if not_before is not None:
            log.warning("sender_throttled", channel=message.channel)
            if verdict.first_over and verdict.retry_after is not None:
                notice = OutboundText(
                    message.channel, message.sender_id, self._flood_notice(verdict.retry_after)
                )
                await run_db(self.queue, notice, conversation_id)
                await self._run(self.send_pending(conversation_id), waits)
            return True
        if stored.turned is not None:
            worked: Worked = stored.turned
            self._hold(worked.replies, worked.filed)
            await self._run(self._finish_or_leave(worked, waits), waits)
            return True
        await self._run(
            self._work(
                conversation_id, include_deferred=urgent, start=stored.start, answer_first=waits
            ),
            waits,
        )
        return True

    def _turn_in(self, session: Session, start: TurnStart) -> Worked:
        return self.process(start.conversation.id, start=start, session=session)

    async def converse(self, message: InboundMessage) -> bool:
        """Stores, works, sends and files before returning, whatever the channel (tests and
        benches). False for a duplicate."""
        stored = await self.accept(message)
        await self.drain()
        return stored

    async def _run(self, work: Any, inline: bool) -> None:
        if inline:
            await work
            return
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Waits for background work (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- steps 3–5: one conversation at a time ---------------------------------------------

    def process(
        self,
        conversation_id: str,
        include_deferred: bool = False,
        wait_seconds: float = 20.0,
        start: TurnStart | None = None,
        session: Session | None = None,
    ) -> Worked:
        """Answers every stored, unanswered message of the conversation in order, each turn in
        one transaction with its state, the intake items it filed and its replies. `start` is
        the conversation already leased to this process (by the message's own store).

        Given the `session` that leased it, every turn is written in that transaction instead,
        which the caller commits (or rolls back: nothing of the turns is then left), and then
        holds the replies and filings for sending (`_hold`)."""
        if start is None:
            start = self.store.begin_turn(
                conversation_id, include_deferred=include_deferred, wait_seconds=wait_seconds
            )
        conversation = start.conversation
        worked = Worked(conversation_id, recipient=conversation.sender_id)
        worked.channel = conversation.channel
        released = False
        state: dict[str, Any] = conversation.state or {}
        try:
            for index, record in enumerate(start.pending):
                message = _message_from(record, conversation.sender_id)
                with self.intake.turn() as filed:
                    turn = self.dialogue.respond(state, message, conversation_id)
                if turn.erase:
                    worked.erased = True
                    worked.to_delete.extend(self.store.erase(conversation_id, session))
                    # Answers of earlier messages in this batch were erased with the rest:
                    # none of them may still go out. (What they filed stays filed.)
                    self.sending.drop(*[row.id for row in worked.replies])
                    worked.replies.clear()
                state = turn.state
                last = index == len(start.pending) - 1
                saved = self.store.save_turn(
                    conversation,
                    record.id,
                    state,
                    [
                        self._reply(conversation.channel, conversation.sender_id, r)
                        for r in turn.replies
                    ],
                    filed,
                    file_after=self._file_after(state),
                    release=last,
                    send_lease=SEND_LEASE,
                    session=session,
                    # In the transaction that made the conversation, nothing else of it can
                    # have been written (a flood notice is written after this commits).
                    nothing_earlier=start.new and index == 0 and session is not None,
                )
                if session is None:
                    self._hold(saved.replies, filed)
                if not worked.replies:
                    # Earlier turns of this batch wrote no replies: what is older is not ours.
                    worked.waits_behind = saved.waits_behind
                worked.replies += saved.replies
                released = last
                worked.filed += filed
        except BaseException:
            # What earlier turns of the batch wrote is stored: left to the background rounds
            # once its lease runs out, not kept by this process that will never send it.
            self._let_go(worked.replies, worked.filed)
            raise
        finally:
            if not released and session is None:
                self.store.release(conversation_id)
        return worked

    def _hold(self, rows: list[OutgoingMessage], filed: list[OutboxItem]) -> None:
        self.sending.hold(*[row.id for row in rows])
        self.intake.outbox.leases.hold(*[item.id for item in filed])

    def _let_go(self, rows: list[OutgoingMessage], filed: list[OutboxItem]) -> None:
        self.sending.drop(*[row.id for row in rows])
        self.intake.outbox.leases.drop(*[item.id for item in filed])

    def process_silence(self, conversation_id: str) -> Worked | None:
        """Files the unfinished report of a conversation silent since its `file_after`."""
        start = self.store.begin_turn(conversation_id, wait_seconds=0.0)  # busy: next round
        conversation = start.conversation
        if start.pending or conversation.file_after is None or conversation.file_after > utcnow():
            self.store.release(conversation_id)
            return None  # it spoke again meanwhile: its messages are worked first
        state: dict[str, Any] = conversation.state or {}
        try:
            with self.intake.turn() as filed:
                turn = self.dialogue.on_silence(
                    state, conversation_id, conversation.channel, conversation.sender_id
                )
        except Exception:
            self.store.release(conversation_id)
            raise
        if turn is None:
            self.store.save_turn(conversation, None, state, [], release=True)
            return None
        saved = self.store.save_turn(
            conversation,
            None,
            turn.state,
            [self._reply(conversation.channel, conversation.sender_id, r) for r in turn.replies],
            filed,
            file_after=self._file_after(turn.state),
            release=True,
            send_lease=SEND_LEASE,
        )
        self._hold(saved.replies, filed)
        return Worked(
            conversation_id, replies=saved.replies, filed=filed, waits_behind=saved.waits_behind
        )

    @staticmethod
    def _reply(channel: str, recipient: str, reply: Any) -> OutboundText:
        return OutboundText(
            channel=channel,
            recipient_id=recipient,
            text=reply.text,
            quick_replies=tuple(reply.quick_replies),
        )

    def _file_after(self, state: dict[str, Any]) -> datetime | None:
        if not self.dialogue.waits_for_filing(state):
            return None
        return utcnow() + self._silence

    async def _work(
        self,
        conversation_id: str,
        include_deferred: bool = False,
        wait_seconds: float = 20.0,
        start: TurnStart | None = None,
        answer_first: bool = False,
    ) -> None:
        """`answer_first`: the person waits in this same request (the web chat), which then
        returns once the answer is out, before the turn's filings are delivered.

        A conversation another worker holds is waited for here, between tries, up to
        `wait_seconds`: not asleep in a database thread, where each waiting message would
        hold one of the threads every other person's message needs to be stored and worked
        (a dead process's lease held them for seconds)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            try:
                worked = await self._run_turn(
                    self.process, conversation_id, include_deferred, 0.0, start
                )
                break
            except ConversationBusy:
                if loop.time() >= deadline:
                    return  # another worker holds it and will answer these messages too
                await asyncio.sleep(LEASE_POLL_SECONDS)
            except Exception:
                # Stays stored as unprocessed; the background rounds try again.
                log.exception("processing_failed", conversation_id=conversation_id)
                return
        await self._finish_or_leave(worked, answer_first)

    async def _finish_or_leave(self, worked: Worked, answer_first: bool = False) -> None:
        try:
            await self._finish(worked, answer_first)
        except Exception as exc:
            # The turn's replies and filings are stored: the background rounds send and
            # deliver what this could not (the database went away between the two).
            log.warning(
                "sending_left_to_rounds",
                conversation_id=worked.conversation_id,
                error=type(exc).__name__,
            )

    async def _finish(self, worked: Worked, answer_first: bool = False) -> None:
        try:
            await self._send_and_deliver(worked, answer_first)
        except BaseException:
            # Whatever this left unsettled goes to the background rounds within one lease.
            # (Settled rows were let go as they settled: a round of this same process may be
            # holding one of them again by now, and must keep its hold.)
            self._let_go(worked.replies, worked.filed)
            raise

    async def _send_and_deliver(self, worked: Worked, answer_first: bool = False) -> None:
        if worked.erased and worked.channel and worked.recipient:
            await self._delete(worked.channel, worked.recipient, worked.to_delete)
        # The reply first: it carries the reference code, and the person is waiting. An earlier
        # reply of the conversation still waiting (for the platform's next try, or under a dead
        # worker's lease) goes first: this turn's replies then take their turn behind it.
        if worked.replies and worked.waits_behind:
            await run_db(self._unlease, worked.replies)
            await self._send_behind_earlier(worked.conversation_id, worked.replies)
        else:
            await self._send_rows(worked.replies)
        if worked.filed:
            # A person waiting in this same request has the answer, the ticket's code in it,
            # without waiting for the filing as well: it goes on in a task of its own. The
            # filings are stored and held by this process; one that adds to a ticket still on
            # its way waits for it (Outbox.deliver_held).
            await self._run(self._deliver(worked.filed), inline=not answer_first)

    async def _deliver(self, filed: list[OutboxItem]) -> None:
        try:
            await self._run_filing(self.intake.outbox.deliver_held, filed)
        except Exception:
            # Still stored: the background rounds deliver it once its lease runs out.
            log.exception("filing_failed", items=len(filed))
        finally:
            self.intake.outbox.leases.drop(*[item.id for item in filed])

    async def _send_behind_earlier(self, conversation_id: str, rows: list[OutgoingMessage]) -> None:
        """Sends these after the conversation's earlier unsent messages. One this process is
        sending right now settles in a moment (a person writing in bursts: the second answer
        is ready while the first is on its way), so it is waited for, briefly, rather than
        leaving these to the next background round; one failing or held elsewhere is not."""
        first = min(int(row.id or 0) for row in rows)
        due = await run_db(self._due, conversation_id)
        on_its_way = {r.id for r in due if int(r.id or 0) < first} & self.sending.held()
        deadline = time.monotonic() + SEND_BEHIND_WAIT_SECONDS
        while on_its_way and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            on_its_way &= self.sending.held()  # let go of once its outcome is recorded
        await self.send_pending(conversation_id)

    async def _delete(self, channel_name: str, recipient: str, ids: list[str]) -> None:
        channel = self.channels.get(channel_name)
        if channel is None:
            return
        try:
            await channel.delete(recipient, ids)
        except Exception:
            log.warning("delete_failed", channel=channel_name, count=len(ids))

    # -- step 6: out through the same channel -----------------------------------------------

    def queue(
        self,
        message: OutboundText,
        conversation_id: str | None,
        staff_reply_id: int | None = None,
    ) -> int | None:
        """Writes one message to send outside a turn (a staff reply, a notice); None when the
        staff reply is already queued."""
        with Session(self._engine) as session:
            row = OutgoingMessage(
                conversation_id=conversation_id,
                channel=message.channel,
                recipient=message.recipient_id,
                text=message.text,
                quick_replies=list(message.quick_replies) or None,
                staff_reply_id=staff_reply_id,
            )
            session.add(row)
            try:
                session.commit()
            except Exception:
                session.rollback()
                if staff_reply_id is None:
                    raise
                return None
            return row.id

    def outgoing_state(self, staff_reply_id: int) -> tuple[str, str | None] | None:
        """The state (and last error) of the message carrying a staff reply, if queued."""
        with Session(self._engine) as session:
            row = session.exec(
                select(OutgoingMessage).where(OutgoingMessage.staff_reply_id == staff_reply_id)
            ).first()
            return (row.state, row.last_error) if row is not None else None

    def _due(self, conversation_id: str | None, limit: int = 200) -> list[OutgoingMessage]:
        with Session(self._engine, expire_on_commit=False) as session:
            stmt = select(OutgoingMessage).where(OutgoingMessage.state == "pending")
            if conversation_id is not None:
                stmt = stmt.where(OutgoingMessage.conversation_id == conversation_id)
            # Leased rows too: a conversation whose earlier reply is in flight (or stranded under
            # a dead worker's lease) must hold its later replies back, never send them first.
            return list(session.exec(stmt.order_by(col(OutgoingMessage.id)).limit(limit)).all())

    def _unlease(self, rows: list[OutgoingMessage]) -> None:
        self.sending.drop(*[row.id for row in rows])
        free_pending_rows(self._engine, OutgoingMessage, [row.id for row in rows])

    def _lease(self, row: OutgoingMessage) -> bool:
        taken = lease_pending_row(self._engine, OutgoingMessage, row.id, SEND_LEASE)
        if taken:
            self.sending.hold(row.id)
        return taken

    def _settle(self, outcomes: list[Outcome]) -> None:
        """Records the tries of several messages in one transaction: sent (with the
        platform's id), or failed and when to try again, or failed for good."""
        now = utcnow()
        sent = [(row, sent_id) for row, sent_id, error in outcomes if error is None]
        failed = [(row, error) for row, _, error in outcomes if error is not None]
        try:
            self._record(now, sent, failed)
        finally:
            # After the record, not before: a later reply of the conversation waiting for
            # these goes once they are let go of, and must then find them settled.
            self.sending.drop(*[row.id for row, _, _ in outcomes])

    def _record(
        self,
        now: datetime,
        sent: list[tuple[OutgoingMessage, str | None]],
        failed: list[tuple[OutgoingMessage, Exception]],
    ) -> None:
        with Session(self._engine) as session:
            if sent:
                # The common case, written without loading the rows: a row erased meanwhile
                # (/xoa) is simply not there to update.
                _MARK_SENT.execute(
                    session,
                    [{"row_id": row.id, "sent_id": sent_id, "now": now} for row, sent_id in sent],
                )
                for row, _ in sent:
                    row.state, row.last_error = "sent", None
            for row, error in failed:
                stored = session.get(OutgoingMessage, row.id)
                if stored is None:
                    continue  # erased meanwhile (/xoa)
                stored.attempts += 1
                stored.leased_until = None
                permanent = isinstance(error, DeliveryError) and error.permanent
                stored.last_error = f"{type(error).__name__}: {error}"[:500]
                if permanent or stored.attempts >= MAX_SEND_ATTEMPTS:
                    stored.state = "failed"
                else:
                    wait = getattr(error, "retry_after", None) or random.uniform(
                        0, min(MAX_SEND_BACKOFF_SECONDS, 2.0 ** min(stored.attempts, 16))
                    )
                    stored.next_attempt_at = now + timedelta(seconds=float(wait))
                row.state, row.last_error = stored.state, stored.last_error
                session.add(stored)
            session.commit()

    async def send_pending(self, conversation_id: str | None = None) -> int:
        """Sends what waits (a crashed process's replies, the next try of a failed one), each
        conversation's messages in order. Returns how many went out."""
        rows = await run_db(self._due, conversation_id)
        now = utcnow()
        held: set[str | None] = set()
        leased: list[OutgoingMessage] = []
        for row in rows:
            if row.conversation_id in held:
                continue
            if row.next_attempt_at > now or not await run_db(self._lease, row):
                held.add(row.conversation_id)  # keep this conversation's later messages in order
                continue
            leased.append(row)
        return await self._send_rows(leased)

    async def _send_rows(self, rows: list[OutgoingMessage]) -> int:
        """Sends messages this process holds, in order within each conversation: a message
        that failed for now holds back the ones after it. One transaction records them all."""
        outcomes: list[Outcome] = []
        held: set[str | None] = set()
        for (channel_name, conversation_id), group in itertools.groupby(
            rows, key=lambda row: (row.channel, row.conversation_id)
        ):
            run = list(group)
            if conversation_id in held:
                outcomes += [(r, None, _WAITING) for r in run]
                continue
            channel = self.channels.get(channel_name)
            together = None
            if channel is not None and len(run) > 1:
                # A turn's replies to one person in one call where the channel has one (the
                # web chat: one transaction instead of one per reply).
                try:
                    together = await channel.send_all([_outbound(r) for r in run])
                except Exception as exc:
                    if self._send_failed(channel_name, exc):
                        held.add(conversation_id)
                    outcomes += [(r, None, exc) for r in run]
                    continue
            if together is not None:
                outcomes += [(r, pid, None) for r, pid in zip(run, together, strict=True)]
                continue
            for row in run:
                if conversation_id in held:
                    outcomes.append((row, None, _WAITING))
                    continue
                try:
                    if channel is None:
                        raise DeliveryError(f"channel {row.channel} is not connected")
                    platform_id = await channel.send(_outbound(row))
                except Exception as exc:
                    if self._send_failed(channel_name, exc):
                        held.add(conversation_id)
                    outcomes.append((row, None, exc))
                    continue
                outcomes.append((row, platform_id, None))
        if outcomes:
            await self._record_sends(outcomes)
        for row, _, error in outcomes:
            if row.state != "pending":
                await self._staff_reply_settled(
                    row, error is None, None if error is None else str(error)[:200]
                )
        return sum(1 for _, _, error in outcomes if error is None)

    @staticmethod
    def _send_failed(channel: str, exc: Exception) -> bool:
        """Logs and counts a failed send; True when it may succeed later (the conversation's
        next messages then wait behind it)."""
        if not isinstance(exc, DeliveryError):
            log.exception("send_crashed", channel=channel)
        permanent = isinstance(exc, DeliveryError) and exc.permanent
        log.warning("send_failed", channel=channel, permanent=permanent)
        DELIVERY_FAILURES.labels(channel, "permanent" if permanent else type(exc).__name__).inc()
        return not permanent

    async def _staff_reply_settled(
        self, row: OutgoingMessage, delivered: bool, error: str | None
    ) -> None:
        if row.staff_reply_id is not None and self.on_staff_reply is not None:
            await self.on_staff_reply(row.staff_reply_id, delivered, error)

    # -- the background rounds ----------------------------------------------------------------

    async def recover(self, older_than: timedelta = timedelta(seconds=5)) -> int:
        """Works messages nobody answered: a crashed process's, and a flooding sender's whose
        wait is over."""
        due = await run_db(self.store.due_conversations, older_than)
        for conversation_id in due:
            # A conversation leased elsewhere is skipped, not waited for: its holder answers
            # it, or its lease runs out by the next round. Waiting would hold every other
            # person's answer (and every reply due to be sent) behind it.
            await self._work(conversation_id, wait_seconds=0.0)
        return len(due)

    async def file_silent(self) -> int:
        """Files the unfinished reports of conversations silent for the configured time."""
        filed = 0
        for conversation_id in await run_db(self.store.silent_conversations):
            try:
                worked = await self._run_turn(self.process_silence, conversation_id)
            except ConversationBusy:
                continue
            except Exception:
                log.exception("silence_filing_failed", conversation_id=conversation_id)
                continue
            if worked is not None:
                filed += 1
                await self._finish(worked)
        return filed


def _outbound(row: OutgoingMessage) -> OutboundText:
    return OutboundText(
        row.channel, str(row.recipient), row.text or "", tuple(row.quick_replies or ())
    )


def _message_from(record: InboundRecord, sender_id: str) -> InboundMessage:
    extra = record.extra or {}
    location = extra.get("location")
    received = record.received_at or datetime.now(UTC)
    return InboundMessage(
        channel=record.channel,
        sender_id=sender_id,
        # The keyed hash of the platform's id: stable across retries and crashes, and what
        # the ticket is de-duplicated on, without the platform's id (on Telegram it carries
        # the person's chat id) leaving the bot.
        message_id=record.message_key,
        text=record.text,
        location=(float(location[0]), float(location[1])) if location else None,
        phone=extra.get("phone"),
        attachment=extra.get("attachment"),
        received_at=received,
    )

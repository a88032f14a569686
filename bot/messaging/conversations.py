"""Where conversations, inbound messages and outgoing messages are kept, and the lease that
serialises one conversation across processes.

A message costs one transaction here when its turn runs inside the one that stores it
(`store_inbound(turn=...)`: the message service asks for it where the person waits for the
answer in the same request, the conversation is free and the turn waits on no network), and two
otherwise: one to store it before the platform is acknowledged, and one for its turn (the
conversation's new state, the message marked processed, what the turn filed in the intake
outbox and the replies to send), which also frees the conversation. Either way the message is
stored before it is acknowledged, and its replies with the state that produced them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import bindparam, func, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from bot.contract import InboundMessage, OutboundText
from bot.messaging.ratelimit import RateLimiter, Verdict
from bot.models import Conversation, InboundRecord, OutboxItem, OutgoingMessage, WebchatMessage
from bot.models import conversations_table as _conversations
from bot.models import inbound_table as _inbound
from bot.models import outgoing_table as _outgoing
from intake_api.crypto import PersonalDataCipher
from intake_api.db import DirectStatement, insert_rows, utcnow
from intake_api.leases import LeaseKeeper, take_lease

log = structlog.get_logger("bot.conversations")

# Renewed while the turn runs (a slow NLU call to a remote Rasa keeps it), so it only has to
# outlast a missed renewal: a conversation whose process died is worked again within seconds.
LEASE = timedelta(seconds=8)
# How often a turn waiting for a conversation another worker holds tries its lease again.
LEASE_POLL_SECONDS = 0.02


# The statements of every message, built and compiled once and run on the cursor
# (intake_api.db.DirectStatement): constructing a statement and its cache key again per message
# cost more than running it, and SQLAlchemy's execution around a compiled one about as much
# again (the values are bound, the types are the columns').
_SAVE_STATE_STATEMENT = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation_id"))
    .values(state=bindparam("new_state"), updated_at=bindparam("at"), file_after=bindparam("fa"))
)
_FIND_CONVERSATION = DirectStatement(
    select(_conversations.c.id).where(_conversations.c.sender_hash == bindparam("digest"))
)
_SAVE_STATE = DirectStatement(_SAVE_STATE_STATEMENT)
_SAVE_STATE_AND_RELEASE = DirectStatement(_SAVE_STATE_STATEMENT.values(locked_until=None))
_MARK_PROCESSED = DirectStatement(
    update(_inbound)
    .where(_inbound.c.id == bindparam("inbound_id"))
    .values(state="processed", processed_at=bindparam("at"))
)
_EARLIER_UNSENT = DirectStatement(
    select(_outgoing.c.id)
    .where(
        _outgoing.c.conversation_id == bindparam("conversation_id"),
        _outgoing.c.state == "pending",
    )
    .limit(1)
)

_CONVERSATION = DirectStatement(
    select(*_conversations.columns).where(_conversations.c.id == bindparam("conversation_id"))
)
_UNANSWERED = DirectStatement(
    select(*_inbound.columns)
    .where(
        _inbound.c.conversation_id == bindparam("conversation_id"),
        _inbound.c.state == "received",
    )
    .order_by(_inbound.c.id)
)


class ConversationBusy(Exception):
    pass


@dataclass(frozen=True)
class TurnStart:
    """A leased conversation and the messages it has to answer, oldest first."""

    conversation: Conversation
    pending: list[InboundRecord]
    # Made by the transaction that leased it: no reply of it can be waiting to go out yet.
    new: bool = False


@dataclass(frozen=True)
class Stored:
    conversation_id: str
    verdict: Verdict
    # Set when the sender floods: the message is worked after this time.
    not_before: datetime | None
    # The conversation leased to this process with what it has to answer, taken in the same
    # transaction as the message (None when asked not to, when throttled, or when another
    # worker holds the conversation: `begin_turn` then waits for it).
    start: TurnStart | None = None
    # What the turn given to `store_inbound` returned, when it ran in the same transaction
    # (`start` is then worked and its conversation free again).
    turned: Any = None


@dataclass(frozen=True)
class SavedTurn:
    # Written leased to the process that saved them, ids set.
    replies: list[OutgoingMessage]
    # Whether an earlier reply of the conversation was still unsent when these were written.
    waits_behind: bool


class ConversationStore:
    def __init__(self, engine: Engine, cipher: PersonalDataCipher) -> None:
        self._engine = engine
        self._cipher = cipher
        self.leases = LeaseKeeper(engine, Conversation, col(Conversation.locked_until), LEASE)

    def address_key(self, address: str) -> str:
        """The keyed hash a web-chat session's messages wait under."""
        return self._cipher.blind_index("webchat-session", address)

    def sender_hash(self, channel: str, sender_id: str) -> str:
        return self._cipher.blind_index("conversation", channel, sender_id)

    # -- storing before acknowledging ---------------------------------------------------------

    def store_inbound(
        self,
        message: InboundMessage,
        limiter: RateLimiter | None = None,
        is_urgent: Callable[[str], bool] = lambda text: False,
        *,
        lease: bool = False,
        turn: Callable[[Session, TurnStart], Any] | None = None,
    ) -> Stored | None:
        """Stores the message (and its conversation, if new) and counts it against the
        sender's flood limit, in one transaction; None for a platform's retry of a message
        already stored. A flooding sender's message waits out the window unless it reads as
        danger. With `lease`, a message due now also leases its conversation and loads the
        turn in that transaction (a message then costs two: this one and its turn).

        With `turn` as well, and this message the conversation's only unanswered one, that
        turn runs in this same transaction, given the session and the leased start, and must
        leave the conversation free: one commit for the message, its state and its replies.
        A turn that raises is rolled back and the message stored alone, leased, as without
        `turn`: stored before acknowledged, whatever the turn does."""
        digest = self.sender_hash(message.channel, message.sender_id)
        extra: dict[str, Any] = {}
        if message.location is not None:
            extra["location"] = list(message.location)
        if message.phone is not None:
            extra["phone"] = message.phone
        if message.attachment is not None:
            extra["attachment"] = message.attachment
        attempt = 0
        while attempt < 2:
            with Session(self._engine, expire_on_commit=False) as session:
                verdict = limiter.hit(session, digest) if limiter else Verdict(None, False)
                not_before = None
                if verdict.retry_after is not None and not is_urgent(message.text or ""):
                    not_before = utcnow() + timedelta(seconds=verdict.retry_after)
                found = _FIND_CONVERSATION.execute(session, {"digest": digest}).scalar()
                conversation_id = found or uuid.uuid4().hex
                now = utcnow()
                lease_now = lease and not_before is None
                conversation: Conversation | None = None
                if found is None:
                    conversation = Conversation(
                        id=conversation_id,
                        sender_hash=digest,
                        channel=message.channel,
                        sender_id=message.sender_id,
                        state={},
                        locked_until=now + LEASE if lease_now else None,
                    )
                record = InboundRecord(
                    message_key=self._message_key(message),
                    channel=message.channel,
                    conversation_id=conversation_id,
                    text=message.text,
                    extra=extra or None,
                    received_at=message.received_at,
                    not_before=not_before,
                )
                start: TurnStart | None = None
                try:
                    if conversation is not None:
                        insert_rows(session, [conversation])
                    insert_rows(session, [record])
                    if lease_now and conversation is not None:
                        start = TurnStart(conversation, [record], new=True)
                    elif lease_now:
                        start = self._lease_turn(
                            session, conversation_id, now, verdict.retry_after is not None
                        )
                    # The turn runs here for the conversation's only unanswered message: the
                    # turns of a batch each see what the one before committed (a code filed
                    # by the first, asked about in the second).
                    turn_here = turn is not None and start is not None and len(start.pending) == 1
                    if not turn_here:
                        session.commit()
                except IntegrityError:
                    session.rollback()
                    if found is None and attempt == 0:
                        attempt += 1
                        continue  # a concurrent first message of the same sender made it
                    return None
                turned = None
                if turn_here and turn is not None and start is not None:
                    try:
                        turned = turn(session, start)
                        session.commit()
                    except Exception:
                        session.rollback()
                        # Stored alone on the next pass, its turn left to the usual path (which
                        # retries it, and logs it if it fails again).
                        log.warning("turn_in_store_failed", channel=message.channel)
                        turn = None
                        continue
                    start = None  # worked, and its conversation released by the turn
                if start is not None:
                    self.leases.hold(conversation_id)
                return Stored(conversation_id, verdict, not_before, start, turned)
        return None

    def _message_key(self, message: InboundMessage) -> str:
        # Keyed, so the platform's ids (a Telegram message id carries the person's chat id)
        # are never stored in clear.
        return self._cipher.blind_index("inbound", message.channel, message.message_id)

    # -- a turn -------------------------------------------------------------------------------

    def begin_turn(
        self, conversation_id: str, *, include_deferred: bool = False, wait_seconds: float = 20.0
    ) -> TurnStart:
        """Leases the conversation and loads what it has to answer, in one transaction."""
        deadline = time.monotonic() + wait_seconds
        while True:
            now = utcnow()
            with Session(self._engine, expire_on_commit=False) as session:
                start = self._lease_turn(session, conversation_id, now, include_deferred)
                if start is not None:
                    session.commit()
                    self.leases.hold(conversation_id)
                    return start
                session.rollback()
            if time.monotonic() > deadline:
                raise ConversationBusy(conversation_id)
            time.sleep(LEASE_POLL_SECONDS)

    def _lease_turn(
        self, session: Session, conversation_id: str, now: datetime, include_deferred: bool
    ) -> TurnStart | None:
        """Leases the conversation in the caller's transaction and loads its unanswered
        messages; None when another worker holds it."""
        taken = take_lease(
            session, Conversation, "locked_until", now + LEASE, {"id": conversation_id}, now=now
        )
        if not taken:
            return None
        # Read on the cursor and built as plain (detached) model objects: the ORM's loading
        # of the two cost about twice the statements (README, "Load and fault tests").
        key = {"conversation_id": conversation_id}
        (found,) = _CONVERSATION.execute(session, key).mappings()
        conversation = Conversation(**found)
        pending = [InboundRecord(**row) for row in _UNANSWERED.execute(session, key).mappings()]
        if not include_deferred:
            # Up to the newest message due now: a deferred message before it goes with it
            # (answers keep the order of the messages); later ones wait.
            due = [i for i, r in enumerate(pending) if r.not_before is None or r.not_before <= now]
            pending = pending[: due[-1] + 1] if due else []
        return TurnStart(conversation, pending)

    def save_turn(
        self,
        conversation: Conversation,
        inbound_id: int | None,
        state: dict[str, Any],
        replies: Sequence[OutboundText],
        outbox: Sequence[OutboxItem] = (),
        *,
        file_after: datetime | None = None,
        release: bool = False,
        send_lease: timedelta = timedelta(0),
        session: Session | None = None,
        nothing_earlier: bool = False,
    ) -> SavedTurn:
        """The turn in one transaction: the conversation's new state, the message marked
        processed, the intake items it filed and its replies. The replies and items come
        leased to this process for `send_lease`, which sends and delivers them right after;
        if it dies first, they are anyone's once the lease runs out. Given a `session`, the
        turn is written in the caller's transaction, which the caller commits.
        `nothing_earlier`: the caller knows no earlier reply can be unsent (the first turn of
        a conversation made by its store), and the check is left out."""
        now = utcnow()
        leased_until = now + send_lease if send_lease else None
        with self._transaction(session) as txn:
            # Core statements on the tables: the ORM's bulk-update machinery costs more than
            # the statements themselves on this path, run for every message.
            (_SAVE_STATE_AND_RELEASE if release else _SAVE_STATE).execute(
                txn,
                {
                    "conversation_id": conversation.id,
                    "new_state": state,
                    "at": now,
                    "fa": file_after,
                },
            )
            if inbound_id is not None:
                _MARK_PROCESSED.execute(txn, {"inbound_id": inbound_id, "at": now})
            for item in outbox:
                item.leased_until = leased_until
            insert_rows(txn, list(outbox))
            rows = [
                OutgoingMessage(
                    conversation_id=conversation.id,
                    channel=reply.channel,
                    recipient=reply.recipient_id,
                    text=reply.text,
                    quick_replies=list(reply.quick_replies) or None,
                    next_attempt_at=now,
                    leased_until=leased_until,
                    created_at=now,
                )
                for reply in replies
            ]
            # Asked here rather than in a transaction of its own: an earlier reply of the
            # conversation still unsent (waiting for a retry, or under a dead worker's lease)
            # must go before these.
            waits_behind = (
                bool(rows)
                and not nothing_earlier
                and (
                    _EARLIER_UNSENT.execute(txn, {"conversation_id": conversation.id}).first()
                    is not None
                )
            )
            insert_rows(txn, rows)
            if session is None:
                try:
                    txn.commit()
                finally:
                    if release:
                        # Committed, the lease is gone; failed, it runs out in one lease.
                        self.leases.drop(conversation.id)
            return SavedTurn(rows, waits_behind)

    @contextmanager
    def _transaction(self, session: Session | None) -> Iterator[Session]:
        """The caller's transaction when given one (it commits), else one of this call's."""
        if session is not None:
            yield session
            return
        with Session(self._engine, expire_on_commit=False) as own:
            yield own

    def release(self, conversation_id: str) -> None:
        self.leases.drop(conversation_id)
        with Session(self._engine) as session:
            session.execute(
                update(Conversation)
                .where(col(Conversation.id) == conversation_id)
                .values(locked_until=None)
            )
            session.commit()

    # -- what the background rounds look for --------------------------------------------------

    def due_conversations(self, older_than: timedelta) -> list[str]:
        """Conversations with messages stored but not answered: a process died mid-way, or a
        flooding sender's message whose wait is over."""
        now = utcnow()
        cutoff = now - older_than
        with Session(self._engine) as session:
            rows = session.exec(
                select(InboundRecord.conversation_id)
                .where(InboundRecord.state == "received")
                .where(
                    or_(
                        (col(InboundRecord.not_before).is_(None))
                        & (col(InboundRecord.received_at) < cutoff),
                        col(InboundRecord.not_before) <= now,
                    )
                )
                .distinct()
            ).all()
            return list(rows)

    def silent_conversations(self, limit: int = 50) -> list[str]:
        """Conversations whose unfinished report has waited out its silence."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(Conversation.id)
                .where(col(Conversation.file_after).is_not(None))
                .where(col(Conversation.file_after) <= utcnow())
                .limit(limit)
            ).all()
            return list(rows)

    def reply_target(
        self, conversation_id: str | None, channel: str, address: str | None
    ) -> tuple[str | None, str] | None:
        """The conversation a staff reply belongs to and the address to send it to: by the
        ticket's conversation id (anonymous reporters' addresses never reached the API), else by
        the reporter's channel address. None when there is nowhere to send it."""
        with Session(self._engine) as session:
            if conversation_id:
                conversation = session.get(Conversation, conversation_id[:32])
                if conversation is not None:
                    return conversation.id, conversation.sender_id
            if not address:
                return None
            digest = self.sender_hash(channel, address)
            found = session.exec(
                select(Conversation.id).where(Conversation.sender_hash == digest)
            ).first()
            return found, address

    # -- /xoa ---------------------------------------------------------------------------------

    def erase(self, conversation_id: str, session: Session | None = None) -> list[str]:
        """Forgets what the conversation said (for people whose phone may be checked); returns
        the platform ids of the messages sent to the person, to delete where the platform lets
        us. Staff replies are among them: they took the same path. Given a `session`, in the
        caller's transaction, which the caller commits."""
        with self._transaction(session) as txn:
            conversation = txn.get(Conversation, conversation_id)
            assert conversation is not None
            sent = txn.exec(
                select(OutgoingMessage.platform_message_id).where(
                    OutgoingMessage.conversation_id == conversation_id,
                    col(OutgoingMessage.platform_message_id).is_not(None),
                )
            ).all()
            txn.execute(
                update(InboundRecord)
                .where(col(InboundRecord.conversation_id) == conversation_id)
                .values(text=None, extra=None)
            )
            # Sent or not: nothing the conversation said or was told stays behind.
            txn.exec(
                delete(OutgoingMessage).where(
                    col(OutgoingMessage.conversation_id) == conversation_id
                )
            )  # type: ignore[call-overload]
            if conversation.channel == "webchat":
                txn.exec(
                    delete(WebchatMessage).where(
                        col(WebchatMessage.session_id) == self.address_key(conversation.sender_id)
                    )
                )  # type: ignore[call-overload]
            conversation.state = {}
            conversation.file_after = None
            txn.add(conversation)
            if session is None:
                txn.commit()
            else:
                txn.flush()
            return [str(s) for s in sent]


def unsent_replies(engine: Engine) -> list[OutgoingMessage]:
    """Replies to people still waiting for a try, or failed for good, oldest first."""
    with Session(engine, expire_on_commit=False) as session:
        return list(
            session.exec(
                select(OutgoingMessage)
                .where(col(OutgoingMessage.state) != "sent")
                .order_by(col(OutgoingMessage.id))
            ).all()
        )


def queue_gauges(engine: Engine) -> dict[str, tuple[str, Callable[[], float]]]:
    """The bot's queues as gauges (name → help, query), read at scrape time."""

    def count(model: Any, state: str) -> Callable[[], float]:
        def query() -> float:
            with Session(engine) as session:
                return float(
                    session.exec(
                        select(func.count()).select_from(model).where(model.state == state)
                    ).one()
                )

        return query

    def oldest(model: Any, state: str) -> Callable[[], float]:
        def query() -> float:
            with Session(engine) as session:
                first = session.exec(
                    select(func.min(model.created_at)).where(model.state == state)
                ).one()
            return (utcnow() - first).total_seconds() if first is not None else 0.0

        return query

    return {
        "hotline_outbox_depth": (
            "Tickets and messages waiting for the intake API",
            count(OutboxItem, "pending"),
        ),
        "hotline_outbox_oldest_age_seconds": (
            "Age of the oldest item waiting for the API",
            oldest(OutboxItem, "pending"),
        ),
        "hotline_replies_waiting": (
            "Replies to people waiting to be sent",
            count(OutgoingMessage, "pending"),
        ),
        "hotline_replies_oldest_age_seconds": (
            "Age of the oldest reply waiting to be sent",
            oldest(OutgoingMessage, "pending"),
        ),
        "hotline_replies_failed": (
            "Replies to people that failed for good",
            count(OutgoingMessage, "failed"),
        ),
    }

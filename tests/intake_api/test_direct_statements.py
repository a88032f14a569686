"""Statements run on the DBAPI cursor (`intake_api.db.DirectStatement`) keep every promise a
statement run by SQLAlchemy keeps: personal data encrypted at rest and read back in clear, times
in UTC, a constraint's violation raised as SQLAlchemy's IntegrityError with the transaction
rolled back and nothing stored, and every statement seen by the engine's listeners."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import bindparam, event, insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session

from bot.models import Conversation, conversations_table, inbound_table
from intake_api.db import DirectStatement, insert_rows, utcnow


def _conversation(sender_hash: str = "h1", sender_id: str = "84901234567") -> Conversation:
    now = utcnow()
    return Conversation(
        id=uuid.uuid4().hex,
        sender_hash=sender_hash,
        channel="telegram",
        sender_id=sender_id,
        state={"flow": "báo tin", "answers": ["Campuchia"]},
        created_at=now,
        updated_at=now,
    )


def test_values_are_converted_as_the_columns_say_and_read_back_in_clear(engine: Engine) -> None:
    made = _conversation()
    with Session(engine) as session:
        insert_rows(session, [made])
        session.commit()
    with engine.connect() as conn:
        raw = conn.execute(
            text("SELECT sender_id, state FROM bot_conversations WHERE id = :id"), {"id": made.id}
        ).one()
    # At rest the database holds ciphertext only.
    assert "84901234567" not in raw.sender_id and "Campuchia" not in raw.state
    find = DirectStatement(
        select(conversations_table.c.sender_id, conversations_table.c.state).where(
            conversations_table.c.id == bindparam("cid")
        )
    )
    with Session(engine) as session:
        row = find.execute(session, {"cid": made.id}).first()
        got = session.get(Conversation, made.id)
    assert row == ("84901234567", {"flow": "báo tin", "answers": ["Campuchia"]})
    assert got is not None and got.sender_id == "84901234567"


def test_a_time_is_stored_in_utc_and_read_back_aware(engine: Engine) -> None:
    made = _conversation()
    hanoi = datetime(2026, 12, 4, 9, 30, tzinfo=timezone(timedelta(hours=7)))
    touch = DirectStatement(
        update(conversations_table)
        .where(conversations_table.c.id == bindparam("cid"))
        .values(updated_at=bindparam("at"))
        .returning(conversations_table.c.updated_at)
    )
    with Session(engine) as session:
        insert_rows(session, [made])
        result = touch.execute(session, {"cid": made.id, "at": hanoi})
        session.commit()
    assert result.rowcount == 1
    assert result.scalar() == datetime(2026, 12, 4, 2, 30, tzinfo=UTC)


def test_a_violated_constraint_is_sqlalchemys_integrity_error_and_stores_nothing(
    engine: Engine,
) -> None:
    first, clash = _conversation("same"), _conversation("same", sender_id="84909999999")
    with Session(engine) as session:
        insert_rows(session, [first])
        session.commit()
    with Session(engine) as session:
        with pytest.raises(IntegrityError):
            insert_rows(session, [_conversation("other"), clash])
        session.rollback()
    with Session(engine) as session:
        hashes = session.execute(select(conversations_table.c.sender_hash)).scalars().all()
        # The session still works after the error, and the row before the clash was rolled
        # back with it.
        assert hashes == ["same"]


def test_several_rows_get_their_ids_in_order(engine: Engine) -> None:
    add = DirectStatement(
        insert(inbound_table).returning(inbound_table.c.id, inbound_table.c.message_key),
        ["message_key", "channel", "conversation_id", "received_at", "state"],
    )
    keys = [f"k{i}" for i in range(5)]
    rows = [
        {
            "message_key": k,
            "channel": "sms",
            "conversation_id": "c",
            "received_at": utcnow(),
            "state": "received",
        }
        for k in keys
    ]
    with Session(engine) as session:
        result = add.execute(session, rows)
        session.commit()
    assert [key for _, key in result.rows] == keys
    assert [m["message_key"] for m in result.mappings()] == keys
    assert [i for i, _ in result.rows] == sorted(i for i, _ in result.rows)


def test_every_statement_reaches_the_engines_listeners(engine: Engine) -> None:
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        with Session(engine) as session:
            insert_rows(session, [_conversation()])
            session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert any(s.startswith("INSERT INTO bot_conversations") for s in seen)


def test_a_parameter_bound_twice_is_converted_once(engine: Engine) -> None:
    # A time converted twice would reach its column's conversion naive the second time, and be
    # refused as ambiguous.
    made = _conversation()
    later = made.updated_at + timedelta(minutes=10)
    touch = DirectStatement(
        update(conversations_table)
        .where(conversations_table.c.id == bindparam("cid"))
        .where(conversations_table.c.updated_at < bindparam("at"))
        .values(updated_at=bindparam("at"))
    )
    with Session(engine) as session:
        insert_rows(session, [made])
        assert touch.execute(session, {"cid": made.id, "at": later}).rowcount == 1
        session.commit()
    with Session(engine) as session:
        got = session.get(Conversation, made.id)
    assert got is not None and got.updated_at == later


def test_an_expanding_parameter_is_refused_when_compiled(engine: Engine) -> None:
    statement = DirectStatement(
        select(conversations_table.c.id).where(
            conversations_table.c.id.in_(bindparam("ids", expanding=True))
        )
    )
    with Session(engine) as session, pytest.raises(ValueError, match="expanding"):
        statement.execute(session, {"ids": ["a"]})


def test_a_value_left_to_a_default_of_sqlalchemys_is_refused_not_stored_as_null(
    engine: Engine,
) -> None:
    # `state` defaults to "received" in Python: only SQLAlchemy's own execution fills it in.
    partial = DirectStatement(
        insert(inbound_table), ["message_key", "channel", "conversation_id", "received_at"]
    )
    row = {"message_key": "k", "channel": "sms", "conversation_id": "c", "received_at": utcnow()}
    with Session(engine) as session, pytest.raises(ValueError, match="state"):
        partial.execute(session, row)


def test_a_parameter_not_given_is_an_error_not_a_null(engine: Engine) -> None:
    made = _conversation()
    clear = DirectStatement(
        update(conversations_table)
        .where(conversations_table.c.id == bindparam("cid"))
        .values(state=bindparam("new_state"))
    )
    with Session(engine) as session:
        insert_rows(session, [made])
        session.commit()
    with Session(engine) as session, pytest.raises(StatementError, match="new_state"):
        clear.execute(session, {"cid": made.id})
    with Session(engine) as session:
        kept = session.get(Conversation, made.id)
    assert kept is not None and kept.state == made.state

"""The API's Alembic history builds exactly the tables the models describe, and 0004 gives
existing tickets their filer (who may follow up on them) from the audit trail."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

import bot.models  # noqa: F401  (the bot's tables are on the metadata; they are left out below)
from intake_api.db import make_engine
from intake_api.migrate import upgrade


def _api_only(diff: object) -> bool:
    return "bot_" not in repr(diff)


def test_the_migrations_build_what_the_models_describe(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(engine)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert [d for d in diffs if _api_only(d)] == []


def test_0004_gives_existing_tickets_the_account_that_filed_them(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, password_hash, roles, active, created_at) "
                "VALUES (1, 'bot', 'x', 'service', 1, '2026-01-01 00:00:00'), "
                "(2, 'lan', 'x', 'operator', 1, '2026-01-01 00:00:00')"
            )
        )
        for tid, code in (("t1", "TIP-22222"), ("t2", "TIP-33333")):
            conn.execute(
                text(
                    "INSERT INTO tickets (id, reference_code, status, priority, category, "
                    "channel, anonymous, consent_to_contact, idempotency_key, "
                    "request_fingerprint, due_at, created_at, updated_at, version) VALUES "
                    "(:id, :code, 'new', 'P2', 'report_trafficking', 'telegram', 0, 0, :id, "
                    "'f', '2026-01-02 00:00:00', '2026-01-01 00:00:00', "
                    "'2026-01-01 00:00:00', 1)"
                ),
                {"id": tid, "code": code},
            )
        conn.execute(
            text(
                "INSERT INTO audit_records (at, actor, action, ticket_id) VALUES "
                "('2026-01-01 00:00:00', 'bot', 'intake', 't1'), "
                "('2026-01-01 00:05:00', 'lan', 'view', 't1'), "
                "('2026-01-01 00:06:00', 'lan', 'view', 't2')"
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, filed_by_id FROM tickets")).all())
        flags = {r[0] for r in conn.execute(text("SELECT other_sender FROM tickets"))}
    # t2 has no intake record: nobody may follow up on it as its filer.
    assert rows == {"t1": 1, "t2": None} and flags == {0}

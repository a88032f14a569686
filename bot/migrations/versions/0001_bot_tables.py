"""bot tables

Revision ID: bot_0001
Revises:
Create Date: 2026-11-25 12:24:34.543398

Databases created before the bot had its own history got these tables from the API's revision
0002; there they exist already and are left as they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import intake_api.db

revision: str = "bot_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("bot_conversations"):
        return
    op.create_table(
        "bot_conversations",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("sender_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("sender_id", intake_api.db.EncryptedText(), nullable=False),
        sa.Column("state", intake_api.db.EncryptedJSON(), nullable=True),
        sa.Column("locked_until", intake_api.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sender_hash"),
    )
    op.create_table(
        "bot_delivered_replies",
        sa.Column("reply_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("delivered_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("reply_id"),
    )
    op.create_table(
        "bot_inbound",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("conversation_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("text", intake_api.db.EncryptedText(), nullable=True),
        sa.Column("extra", intake_api.db.EncryptedJSON(), nullable=True),
        sa.Column("received_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("processed_at", intake_api.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_key"),
    )
    with op.batch_alter_table("bot_inbound", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bot_inbound_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bot_inbound_state"), ["state"], unique=False)

    op.create_table(
        "bot_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reference_code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("payload", intake_api.db.EncryptedJSON(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.Column("leased_until", intake_api.db.UTCDateTime(), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.Column("delivered_at", intake_api.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("bot_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bot_outbox_reference_code"), ["reference_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bot_outbox_state"), ["state"], unique=False)

    op.create_table(
        "bot_rate_counters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sender_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sender_hash", "window_start"),
    )
    op.create_table(
        "bot_secrets",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("value", intake_api.db.EncryptedJSON(), nullable=False),
        sa.Column("updated_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "bot_sent_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("conversation_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column(
            "platform_message_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column("sent_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bot_sent_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bot_sent_messages_conversation_id"), ["conversation_id"], unique=False
        )

    op.create_table(
        "bot_webchat_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("session_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("text", intake_api.db.EncryptedText(), nullable=False),
        sa.Column("quick_replies", intake_api.db.EncryptedJSON(), nullable=True),
        sa.Column("created_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bot_webchat_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bot_webchat_messages_session_id"), ["session_id"], unique=False
        )

    # ### end Alembic commands ###


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("bot_webchat_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_webchat_messages_session_id"))

    op.drop_table("bot_webchat_messages")
    with op.batch_alter_table("bot_sent_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_sent_messages_conversation_id"))

    op.drop_table("bot_sent_messages")
    op.drop_table("bot_secrets")
    op.drop_table("bot_rate_counters")
    with op.batch_alter_table("bot_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_outbox_state"))
        batch_op.drop_index(batch_op.f("ix_bot_outbox_reference_code"))

    op.drop_table("bot_outbox")
    with op.batch_alter_table("bot_inbound", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_inbound_state"))
        batch_op.drop_index(batch_op.f("ix_bot_inbound_conversation_id"))

    op.drop_table("bot_inbound")
    op.drop_table("bot_delivered_replies")
    op.drop_table("bot_conversations")
    # ### end Alembic commands ###

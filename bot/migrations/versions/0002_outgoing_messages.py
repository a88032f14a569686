"""durable outgoing messages, deferred inbound, filing on silence

Revision ID: bot_0002
Revises: bot_0001
Create Date: 2026-12-01 20:40:00

Replies are written with the turn that made them (`bot_outgoing`) instead of being sent from
memory; `bot_sent_messages` and `bot_delivered_replies` are folded into it. A throttled message
gets `not_before`; a conversation with an unfinished report gets `file_after`. Web-chat message
ids never come back after an erase (AUTOINCREMENT on SQLite; PostgreSQL sequences never do).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import intake_api.db

revision: str = "bot_0002"
down_revision: str | None = "bot_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_outgoing",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("conversation_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("recipient", intake_api.db.EncryptedText(), nullable=True),
        sa.Column("text", intake_api.db.EncryptedText(), nullable=True),
        sa.Column("quick_replies", intake_api.db.EncryptedJSON(), nullable=True),
        sa.Column("staff_reply_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.Column("leased_until", intake_api.db.UTCDateTime(), nullable=True),
        sa.Column(
            "platform_message_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True
        ),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", intake_api.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("staff_reply_id"),
    )
    op.create_index("ix_bot_outgoing_conversation_id", "bot_outgoing", ["conversation_id"])
    op.create_index("ix_bot_outgoing_state", "bot_outgoing", ["state"])
    bind = op.get_bind()
    # What the old tables knew: platform ids for /xoa, staff replies already sent.
    bind.execute(
        sa.text(
            "INSERT INTO bot_outgoing (conversation_id, channel, recipient, state, attempts,"
            " next_attempt_at, platform_message_id, created_at, sent_at)"
            " SELECT s.conversation_id, c.channel, c.sender_id, 'sent', 1, s.sent_at,"
            " s.platform_message_id, s.sent_at, s.sent_at"
            " FROM bot_sent_messages s JOIN bot_conversations c ON c.id = s.conversation_id"
        )
    )
    bind.execute(
        sa.text(
            "INSERT INTO bot_outgoing (channel, recipient, staff_reply_id, state, attempts,"
            " next_attempt_at, created_at, sent_at)"
            " SELECT '', NULL, reply_id, 'sent', 1, delivered_at, delivered_at, delivered_at"
            " FROM bot_delivered_replies"
        )
    )
    op.drop_table("bot_sent_messages")
    op.drop_table("bot_delivered_replies")
    with op.batch_alter_table("bot_inbound") as batch:
        batch.add_column(sa.Column("not_before", intake_api.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table("bot_conversations") as batch:
        batch.add_column(sa.Column("file_after", intake_api.db.UTCDateTime(), nullable=True))
        batch.create_index("ix_bot_conversations_file_after", ["file_after"])
    with op.batch_alter_table("bot_webchat_messages") as batch:
        batch.add_column(
            sa.Column("clear", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table(
            "bot_webchat_messages",
            recreate="always",
            table_kwargs={"sqlite_autoincrement": True},
        ):
            pass


def downgrade() -> None:
    with op.batch_alter_table("bot_webchat_messages") as batch:
        batch.drop_column("clear")
    with op.batch_alter_table("bot_conversations") as batch:
        batch.drop_index("ix_bot_conversations_file_after")
        batch.drop_column("file_after")
    with op.batch_alter_table("bot_inbound") as batch:
        batch.drop_column("not_before")
    op.create_table(
        "bot_delivered_replies",
        sa.Column("reply_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("delivered_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("reply_id"),
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
    op.drop_table("bot_outgoing")

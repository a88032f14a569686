"""the voice hotline's call state and the callbacks acted on

Revision ID: bot_0003
Revises: bot_0002
Create Date: 2026-12-01 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import intake_api.db

revision: str = "bot_0003"
down_revision: str | None = "bot_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_voice_calls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("call_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("caller", intake_api.db.EncryptedText(), nullable=True),
        sa.Column("called", intake_api.db.EncryptedText(), nullable=True),
        sa.Column("after_hours", sa.Boolean(), nullable=False),
        sa.Column("choices", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("misses", sa.Integer(), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("leg", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("reference_code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("priority", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("reached_person", sa.Boolean(), nullable=False),
        sa.Column("recorded", sa.Boolean(), nullable=False),
        sa.Column("callback_reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.Column("created_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_sid"),
    )
    op.create_table(
        "bot_voice_callbacks",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("call_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_bot_voice_callbacks_call_sid", "bot_voice_callbacks", ["call_sid"])


def downgrade() -> None:
    op.drop_index("ix_bot_voice_callbacks_call_sid", table_name="bot_voice_callbacks")
    op.drop_table("bot_voice_callbacks")
    op.drop_table("bot_voice_calls")

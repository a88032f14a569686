"""call records: forwarding legs, recordings and call-back tasks of phone calls

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import intake_api.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ticket_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("call_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("recording_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("recording_url", intake_api.db.EncryptedText(), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("done_at", intake_api.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", intake_api.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "dedupe_key"),
    )
    op.create_index("ix_call_records_ticket_id", "call_records", ["ticket_id"])
    op.create_index("ix_call_records_state", "call_records", ["state"])


def downgrade() -> None:
    op.drop_index("ix_call_records_state", table_name="call_records")
    op.drop_index("ix_call_records_ticket_id", table_name="call_records")
    op.drop_table("call_records")

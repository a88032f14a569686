"""service accounts own what they filed, senders of later messages, atomic sign-in throttle

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 20:38:32.589142
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import intake_api.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_start", intake_api.db.UTCDateTime(), nullable=False),
        sa.Column("blocked_until", intake_api.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    # Its rows named accounts in clear and are only good for 15 minutes: nothing to carry over.
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failures_at"))
        batch_op.drop_index(batch_op.f("ix_login_failures_username"))
    op.drop_table("login_failures")

    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sender", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(sa.Column("phone", intake_api.db.EncryptedText(), nullable=True))

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("filed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("sender_ref", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )
        batch_op.add_column(
            sa.Column("other_sender", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(batch_op.f("ix_tickets_filed_by_id"), ["filed_by_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_tickets_filed_by_id_users", "users", ["filed_by_id"], ["id"]
        )

    # Who filed each existing ticket is in the audit trail: the intake record, written in the
    # same transaction as the ticket, names the service account.
    op.execute(
        """
        UPDATE tickets SET filed_by_id = (
            SELECT users.id FROM audit_records JOIN users ON users.username = audit_records.actor
            WHERE audit_records.action = 'intake' AND audit_records.ticket_id = tickets.id
            ORDER BY audit_records.id LIMIT 1
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint("fk_tickets_filed_by_id_users", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_tickets_filed_by_id"))
        batch_op.drop_column("other_sender")
        batch_op.drop_column("sender_ref")
        batch_op.drop_column("filed_by_id")

    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.drop_column("phone")
        batch_op.drop_column("sender")

    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("at", intake_api.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failures_username"), ["username"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_failures_at"), ["at"], unique=False)
    op.drop_table("login_throttle")

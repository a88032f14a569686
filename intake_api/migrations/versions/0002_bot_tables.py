"""bot tables moved to the bot's own migrations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:24:34.543398

The bot's tables were created here until the bot got its own Alembic history
(`bot/migrations/`, version table `bot_alembic_version`); that history's first revision creates
them where this one no longer does. Kept as an empty step so databases already at 0002 or 0003
upgrade as before.
"""

from collections.abc import Sequence

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

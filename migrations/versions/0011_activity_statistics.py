"""Statistics of the to-dos and notes on a category's cards.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("statistic", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "subject", sa.String(length=8), nullable=False, server_default=sa.text("'CARDS'")
            )
        )
        batch_op.add_column(sa.Column("todo_state", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("statistic", schema=None) as batch_op:
        batch_op.drop_column("todo_state")
        batch_op.drop_column("subject")

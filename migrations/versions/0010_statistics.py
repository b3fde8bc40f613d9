"""Statistics defined on a category.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "statistic",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("field_key", sa.String(length=64), nullable=True),
        sa.Column("field_source", sa.String(length=8), nullable=True),
        sa.Column("group_by", sa.String(length=64), nullable=True),
        sa.Column("group_source", sa.String(length=8), nullable=True),
        sa.Column("bucket", sa.String(length=8), nullable=True),
        sa.Column("bucket_on", sa.String(length=64), nullable=True),
        sa.Column("bucket_source", sa.String(length=8), nullable=True),
        sa.Column("filter", models.types.JSONType, nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["category_id"], ["category.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_statistic_category", "statistic", ["category_id", "position", "id"])


def downgrade() -> None:
    op.drop_index("ix_statistic_category", table_name="statistic")
    op.drop_table("statistic")

"""Project rooms: rooms, their members and the categories they gather; a to-do, note, file or
activity event of a room's own points at its room.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 05:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose rows a room may own instead of a card: (table, index columns after room_id).
OWNED = {
    "note": ["created_at", "id"],
    "todo": ["status", "due_at", "id"],
    "stored_file": ["created_at", "id"],
}
ONE_OWNER = "(contact_id IS NULL) <> (room_id IS NULL)"


def upgrade() -> None:
    op.create_table(
        "project_room",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "room_member",
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("added_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["added_by_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["room_id"], ["project_room.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("room_id", "user_id"),
    )
    op.create_index("ix_room_member_user_id", "room_member", ["user_id"])
    # A table of its own rather than a column of category: on SQLite adding a foreign key to a
    # table rebuilds it, which its referencing cards forbid.
    op.create_table(
        "room_category",
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("linked_by_id", sa.Integer(), nullable=True),
        sa.Column("linked_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["category_id"], ["category.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["linked_by_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["room_id"], ["project_room.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("category_id"),
    )
    op.create_index("ix_room_category_room_id", "room_category", ["room_id"])
    # Rebuilt on SQLite with AUTOINCREMENT, so that ids of deleted events are never handed out
    # again (a live reader past them would skip the new events).
    with op.batch_alter_table(
        "activity_event", recreate="auto", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.add_column(sa.Column("room_id", sa.Integer(), nullable=True))
        batch.create_index("ix_activity_room", ["room_id", "id"])
        batch.create_foreign_key(
            "activity_event_room_id_fkey", "project_room", ["room_id"], ["id"], ondelete="CASCADE"
        )
    for table, columns in OWNED.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("room_id", sa.Integer(), nullable=True))
            batch.create_index(f"ix_{table}_room", ["room_id", *columns])
            batch.create_foreign_key(
                f"{table}_room_id_fkey", "project_room", ["room_id"], ["id"], ondelete="CASCADE"
            )
            batch.create_check_constraint(f"ck_{table}_one_owner", ONE_OWNER)


def downgrade() -> None:
    indexes = {table: f"ix_{table}_room" for table in OWNED}
    indexes |= {"activity_event": "ix_activity_room"}
    for table, index in indexes.items():
        with op.batch_alter_table(table) as batch:
            if table in OWNED:
                batch.drop_constraint(f"ck_{table}_one_owner", type_="check")
            batch.drop_constraint(f"{table}_room_id_fkey", type_="foreignkey")
            batch.drop_index(index)
            batch.drop_column("room_id")
    op.drop_index("ix_room_category_room_id", table_name="room_category")
    op.drop_table("room_category")
    op.drop_index("ix_room_member_user_id", table_name="room_member")
    op.drop_table("room_member")
    op.drop_table("project_room")

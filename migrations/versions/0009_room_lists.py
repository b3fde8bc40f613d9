"""A to-do, note or file names the project room that shows it (its own, or the room gathering
its card's category while the card is not in the bin), so that a room's lists and overview
read one index range.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose rows a room shows: (table, index columns after in_room_id).
SHOWN = {
    "todo": ["status", "due_at", "id"],
    "note": ["pinned", "created_at", "id"],
    "stored_file": ["state", "created_at", "id"],
}


def upgrade() -> None:
    for table, columns in SHOWN.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("in_room_id", sa.Integer(), nullable=True))
            batch.create_index(f"ix_{table}_in_room", ["in_room_id", *columns])
            batch.create_foreign_key(
                f"{table}_in_room_id_fkey",
                "project_room",
                ["in_room_id"],
                ["id"],
                ondelete="SET NULL",
            )
        # The table names are this module's own constants.
        op.execute(f"UPDATE {table} SET in_room_id = room_id WHERE room_id IS NOT NULL")  # noqa: S608
        op.execute(
            f"UPDATE {table} SET in_room_id = ("  # noqa: S608
            " SELECT room_category.room_id FROM contact"
            " JOIN room_category ON room_category.category_id = contact.category_id"
            f" WHERE contact.id = {table}.contact_id AND contact.deleted_at IS NULL"
            ") WHERE contact_id IS NOT NULL"
        )


def downgrade() -> None:
    for table in SHOWN:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"{table}_in_room_id_fkey", type_="foreignkey")
            batch.drop_index(f"ix_{table}_in_room")
            batch.drop_column("in_room_id")

"""Locks that keep concurrent writers from overwriting each other's acknowledged changes.

On SQLite every write transaction starts with BEGIN IMMEDIATE, so writers already run one at a
time and these locks cost nothing there. On PostgreSQL (READ COMMITTED) two transactions may
read the same row, each change it in Python and write it back: the second write would silently
undo the first. So every read-modify-write takes its lock before it reads, always in this order,
which rules out deadlocks between them:

1. the shape of the categories involved (field definitions, relations, the project room
   that shows their cards' work): shared by writers of cards and of new to-dos, notes and
   files on them, exclusive for an admin changing the fields or a room linking or unlinking
   the category, so a card is never validated against a definition that is being converted
   underneath it and no new item misses its room;
2. cards, by id (row locks, `SELECT ... FOR UPDATE` / `FOR SHARE`);
3. rows that hang off a card (persons).
"""

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# The first of PostgreSQL's two advisory-lock keys: "the shape of category <second key>".
# Two-key advisory locks never collide with the one-key lock that sign-up takes.
CATEGORY_SHAPE = 7261


async def is_postgresql(session: AsyncSession) -> bool:
    return (await session.connection()).dialect.name == "postgresql"


async def lock_category_shapes(
    session: AsyncSession, category_ids: Iterable[int], *, exclusive: bool
) -> None:
    """Hold the categories' shape until the transaction ends (shared or exclusive)."""
    if not await is_postgresql(session):
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    for category_id in sorted(set(category_ids)):
        await session.execute(
            text(f"SELECT {function}(:kind, :id)"), {"kind": CATEGORY_SHAPE, "id": category_id}
        )

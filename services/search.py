"""The text that `contacts(search:)` looks through, kept on each card as `search_text`."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.categories import FieldDefinition, FieldType
from models.contacts import Contact
from services.values import SEARCHABLE_TYPES

REFRESH_BATCH = 1000


def _words(definition: FieldDefinition, stored: Any) -> str | None:
    if stored is None or FieldType(definition.type) not in SEARCHABLE_TYPES:
        return None
    return str(stored)


def search_text(
    name: str,
    org_number: str | None,
    email: str | None,
    values: dict[str, Any],
    fields: Sequence[FieldDefinition],
) -> str:
    """Lower-cased name, org number, e-mail and the values of active text-like fields."""
    parts = [name, org_number, email]
    parts += [_words(f, values.get(f.key)) for f in fields if f.archived_at is None]
    return " ".join(p for p in parts if p).lower()


def contact_search_text(contact: Contact, fields: Sequence[FieldDefinition]) -> str:
    return search_text(
        contact.name, contact.org_number, contact.email, contact.custom_values, fields
    )


async def refresh_search_text(
    session: AsyncSession, category_id: int, fields: Sequence[FieldDefinition]
) -> None:
    """Recompute every card's search text of a category after its fields changed shape
    (a type change, an archived or restored field)."""
    last_id = 0
    while True:
        rows = (
            await session.execute(
                select(
                    col(Contact.id),
                    col(Contact.name),
                    col(Contact.org_number),
                    col(Contact.email),
                    col(Contact.custom_values),
                    col(Contact.search_text),
                )
                .where(col(Contact.category_id) == category_id, col(Contact.id) > last_id)
                .order_by(col(Contact.id))
                .limit(REFRESH_BATCH)
            )
        ).all()
        if not rows:
            return
        changes = []
        for contact_id, name, org_number, email, values, current in rows:
            fresh = search_text(name, org_number, email, values, fields)
            if fresh != current:
                changes.append({"id": contact_id, "search_text": fresh})
        if changes:
            await session.execute(update(Contact), changes)
        last_id = rows[-1][0]

"""Cards, persons, links and finding cards: decode what the client sent, run the service in
the operation's session, hand back what it produced."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.contacts import Contact, Person
from resolvers.context import Context
from resolvers.database import Outcome
from resolvers.loaders import ActivityShape, RelatedShape
from services import contact_query, contacts
from services.activity import ActivityPage
from services.contact_query import ContactCondition, ContactPage, Ordering, RelatedPage
from services.contacts import find_direction
from services.errors import BadRequestError, UserFacingError
from services.ids import decode_id
from services.pagination import PageRequest


async def find_contacts(
    ctx: Context,
    *,
    category_id: int,
    page: PageRequest,
    condition: ContactCondition | None,
    search: str | None,
    ordering: Sequence[Ordering],
    include_deleted: bool,
) -> ContactPage:
    page = page.checked(ctx.settings.max_page_size)
    if await ctx.loaders.category.load(category_id) is None:
        raise BadRequestError("The category was not found", "NOT_FOUND")
    fields = await ctx.loaders.fields.load(category_id)
    try:
        return await ctx.read(
            lambda s: contact_query.find_contacts(
                s,
                category_id=category_id,
                fields=fields,
                condition=condition,
                search=search,
                ordering=ordering,
                page=page,
                include_deleted=include_deleted,
            )
        )
    except UserFacingError as exc:
        # A query has no userErrors: the problem becomes a top-level error naming the input.
        problem = exc.problems[0]
        where = ".".join(problem.field or ())
        raise BadRequestError(
            f"{where}: {problem.message}" if where else problem.message, problem.code
        ) from None


async def related_page(
    ctx: Context, contact: Contact, *, relation: str, first: int | None, after: str | None
) -> RelatedPage:
    """One page of the cards linked to `contact` through a relation (key or inverse key)."""
    assert contact.id is not None
    size = PageRequest(first=first, after=after).checked(ctx.settings.max_page_size).size
    relations = await ctx.loaders.relations.load(contact.category_id)
    direction = find_direction(relations, contact.category_id, relation)
    if direction is None:
        raise BadRequestError(
            f"Cards of this category have no relation called {relation!r}", "UNKNOWN_RELATION"
        )
    return await ctx.loaders.related.load((contact.id, RelatedShape(direction, size, after)))


async def activity_page(
    ctx: Context, contact: Contact, *, first: int | None, after: str | None
) -> ActivityPage:
    """One page of the card's history, newest first, as the viewer may see it."""
    assert contact.id is not None
    size = PageRequest(first=first, after=after).checked(ctx.settings.max_page_size).size
    shape = ActivityShape(await ctx.require(), size, after)
    return await ctx.loaders.activity.load((contact.id, shape))


async def contact(ctx: Context, *, id: str) -> Contact | None:
    row: Contact | None = await ctx.loaders.contact.load(decode_id(id, "Contact"))
    return row


async def create_contact(
    ctx: Context,
    *,
    category_id: str,
    details: Mapping[str, Any],
    values: Any,
    persons: Sequence[Mapping[str, Any]],
) -> Outcome[Contact]:
    viewer = await ctx.require()
    category = decode_id(category_id, "Category")
    return await ctx.mutate(
        lambda s: contacts.create_contact(
            s, viewer=viewer, category_id=category, details=details, values=values, persons=persons
        )
    )


async def update_contact(
    ctx: Context,
    *,
    id: str,
    details: Mapping[str, Any],
    values: Any,
    expected_version: int | None,
) -> Outcome[Contact]:
    viewer = await ctx.require()
    contact_id = decode_id(id, "Contact")
    return await ctx.mutate(
        lambda s: contacts.update_contact(
            s,
            actor_id=viewer.id,
            contact_id=contact_id,
            details=details,
            values=values,
            expected_version=expected_version,
        )
    )


async def set_contact_deleted(ctx: Context, *, id: str, deleted: bool) -> Outcome[Contact]:
    viewer = await ctx.require()
    contact_id = decode_id(id, "Contact")
    return await ctx.mutate(
        lambda s: contacts.set_contact_deleted(
            s, actor_id=viewer.id, contact_id=contact_id, deleted=deleted
        )
    )


async def create_person(
    ctx: Context, *, contact_id: str, details: Mapping[str, Any]
) -> Outcome[Person]:
    viewer = await ctx.require()
    card = decode_id(contact_id, "Contact")
    return await ctx.mutate(
        lambda s: contacts.create_person(s, actor_id=viewer.id, contact_id=card, details=details)
    )


async def update_person(ctx: Context, *, id: str, details: Mapping[str, Any]) -> Outcome[Person]:
    viewer = await ctx.require()
    person_id = decode_id(id, "Person")
    return await ctx.mutate(
        lambda s: contacts.update_person(
            s, actor_id=viewer.id, person_id=person_id, details=details
        )
    )


async def delete_person(ctx: Context, *, id: str) -> Outcome[Person]:
    viewer = await ctx.require()
    person_id = decode_id(id, "Person")
    return await ctx.mutate(
        lambda s: contacts.delete_person(s, actor_id=viewer.id, person_id=person_id)
    )


async def link(
    ctx: Context, *, relation: str, from_id: str, to_id: str, linked: bool
) -> Outcome[tuple[Contact, Contact]]:
    """Link two cards (or unlink them); both cards as they are afterwards."""
    viewer = await ctx.require()
    source, target = decode_id(from_id, "Contact"), decode_id(to_id, "Contact")

    async def work(session: AsyncSession) -> tuple[Contact, Contact]:
        if linked:
            await contacts.link_contacts(
                session, viewer=viewer, relation_name=relation, from_id=source, to_id=target
            )
        else:
            await contacts.unlink_contacts(
                session, actor_id=viewer.id, relation_name=relation, from_id=source, to_id=target
            )
        return (
            await contacts.get_contact(session, source),
            await contacts.get_contact(session, target),
        )

    return await ctx.mutate(work)

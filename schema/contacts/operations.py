"""The operations on cards: finding them, reading one, changing cards, persons and links."""

from typing import Annotated

import strawberry

from models.users import Role
from resolvers import contacts as resolve
from schema import cost
from schema.common import Info, payload
from schema.contacts.filters import ContactFilter, ContactOrder
from schema.contacts.inputs import (
    ContactCreateInput,
    ContactIdInput,
    ContactLinkInput,
    ContactLinkPayload,
    ContactPayload,
    ContactUpdateInput,
    PersonCreateInput,
    PersonDeleteInput,
    PersonPayload,
    PersonUpdateInput,
)
from schema.contacts.types import Contact, ContactConnection, Person, find_cards
from schema.permissions import requires
from services.ids import decode_id


@strawberry.type
class ContactQuery:
    @strawberry.field(
        description="Cards of a category: filter, search, sort and page through them.",
        metadata=cost.page(),
        extensions=requires(),
    )
    async def contacts(
        self,
        info: Info,
        category_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: ContactFilter | None = None,
        search: Annotated[
            str | None,
            strawberry.argument(description="Words in name, org number, e-mail or text fields."),
        ] = None,
        order_by: list[ContactOrder] | None = None,
        include_deleted: bool = False,
    ) -> ContactConnection:
        return await find_cards(
            info,
            decode_id(category_id, "Category"),
            first=first,
            after=after,
            last=last,
            before=before,
            filter=filter,
            search=search,
            order_by=order_by,
            include_deleted=include_deleted,
        )

    @strawberry.field(description="A card by ID, deleted ones included.", extensions=requires())
    async def contact(self, info: Info, id: strawberry.ID) -> Contact | None:
        row = await resolve.contact(info.context, id=id)
        return Contact.of(row) if row else None


@strawberry.type
class ContactMutation:
    @strawberry.mutation(extensions=requires(Role.MEMBER))
    async def contact_create(self, info: Info, input: ContactCreateInput) -> ContactPayload:
        outcome = await resolve.create_contact(
            info.context,
            category_id=input.category_id,
            details=input.details(),
            values=input.custom_values(),
            persons=[person.details() for person in input.persons or []],
        )
        return payload(ContactPayload, outcome, contact=Contact.of)

    @strawberry.mutation(extensions=requires(Role.MEMBER))
    async def contact_update(self, info: Info, input: ContactUpdateInput) -> ContactPayload:
        outcome = await resolve.update_contact(
            info.context,
            id=input.id,
            details=input.details(),
            values=input.custom_values(),
            expected_version=input.expected_version,
        )
        return payload(ContactPayload, outcome, contact=Contact.of)

    @strawberry.mutation(
        description="Move a card to the bin; contactRestore brings it back.",
        extensions=requires(Role.MEMBER),
    )
    async def contact_delete(self, info: Info, input: ContactIdInput) -> ContactPayload:
        outcome = await resolve.set_contact_deleted(info.context, id=input.id, deleted=True)
        return payload(ContactPayload, outcome, contact=Contact.of)

    @strawberry.mutation(extensions=requires(Role.MEMBER))
    async def contact_restore(self, info: Info, input: ContactIdInput) -> ContactPayload:
        outcome = await resolve.set_contact_deleted(info.context, id=input.id, deleted=False)
        return payload(ContactPayload, outcome, contact=Contact.of)

    @strawberry.mutation(extensions=requires(Role.MEMBER))
    async def person_create(self, info: Info, input: PersonCreateInput) -> PersonPayload:
        outcome = await resolve.create_person(
            info.context, contact_id=input.contact_id, details=input.details()
        )
        return payload(PersonPayload, outcome, person=Person.of)

    @strawberry.mutation(extensions=requires(Role.MEMBER))
    async def person_update(self, info: Info, input: PersonUpdateInput) -> PersonPayload:
        outcome = await resolve.update_person(info.context, id=input.id, details=input.details())
        return payload(PersonPayload, outcome, person=Person.of)

    @strawberry.mutation(extensions=requires(Role.MEMBER))
    async def person_delete(self, info: Info, input: PersonDeleteInput) -> PersonPayload:
        outcome = await resolve.delete_person(info.context, id=input.id)
        return payload(PersonPayload, outcome, person=Person.of)

    @strawberry.mutation(
        description="Link two cards through a relation.", extensions=requires(Role.MEMBER)
    )
    async def contact_link(self, info: Info, input: ContactLinkInput) -> ContactLinkPayload:
        return await _link(info, input, linked=True)

    @strawberry.mutation(extensions=requires(Role.MEMBER))
    async def contact_unlink(self, info: Info, input: ContactLinkInput) -> ContactLinkPayload:
        return await _link(info, input, linked=False)


async def _link(info: Info, input: ContactLinkInput, *, linked: bool) -> ContactLinkPayload:
    outcome = await resolve.link(
        info.context,
        relation=input.relation,
        from_id=input.from_id,
        to_id=input.to_id,
        linked=linked,
    )
    return payload(
        ContactLinkPayload,
        outcome,
        from_contact=lambda ends: Contact.of(ends[0]),
        to_contact=lambda ends: Contact.of(ends[1]),
    )

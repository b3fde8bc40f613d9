"""Contact cards and the persons who work there, as the API shows them."""

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from strawberry.scalars import JSON

from models.contacts import Contact as ContactModel
from models.contacts import Person as PersonModel
from models.todos import TodoStatus
from resolvers import contacts as resolve
from resolvers import notes as note_resolvers
from resolvers import todos as todo_resolvers
from schema import cost
from schema.activity.types import ActivityConnection
from schema.common import Info, Node, PageInfo, existing, node_type
from schema.contacts.filters import ContactFilter, ContactOrder, condition_of, orderings_of
from schema.files.types import FileConnection, files_of_card
from schema.node import resolve_node, visible
from schema.notes.types import NoteConnection
from schema.todos.types import TodoConnection
from schema.users.types import User
from services.contact_query import ContactPage, RelatedPage
from services.ids import encode_id
from services.pagination import PageRequest
from services.values import present

if TYPE_CHECKING:
    from schema.categories.types import Category


@strawberry.type
class Address:
    street: str | None
    postal_code: str | None
    city: str | None
    region: str | None
    country: str | None = strawberry.field(description="ISO 3166 two-letter code.")


@node_type(PersonModel)
@strawberry.type
class Person(Node):
    first_name: str | None
    last_name: str | None
    title: str | None
    email: str | None
    phone: str | None
    mobile: str | None
    _model: strawberry.Private[PersonModel]

    @classmethod
    def of(cls, model: PersonModel) -> "Person":
        assert model.id is not None
        return cls(
            id=strawberry.ID(encode_id("Person", model.id)),
            first_name=model.first_name,
            last_name=model.last_name,
            title=model.title,
            email=model.email,
            phone=model.phone,
            mobile=model.mobile,
            _model=model,
        )

    @strawberry.field
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @strawberry.field
    async def contact(self, info: Info) -> "Contact":
        return Contact.of(existing(await info.context.loaders.contact.load(self._model.contact_id)))


@node_type(ContactModel)
@strawberry.type
class Contact(Node):
    name: str
    org_number: str | None
    email: str | None
    phone: str | None
    website: str | None
    version: int = strawberry.field(
        description="Counts the card's changes; pass it as contactUpdate's expectedVersion to "
        "update only if nobody changed the card since you read it."
    )
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    _model: strawberry.Private[ContactModel]

    @classmethod
    def of(cls, model: ContactModel) -> "Contact":
        assert model.id is not None
        return cls(
            id=strawberry.ID(encode_id("Contact", model.id)),
            name=model.name,
            org_number=model.org_number,
            email=model.email,
            phone=model.phone,
            website=model.website,
            version=model.version,
            created_at=model.created_at,
            updated_at=model.updated_at,
            deleted_at=model.deleted_at,
            _model=model,
        )

    @strawberry.field
    def address(self) -> Address | None:
        m = self._model
        parts = (
            m.address_street,
            m.address_postal_code,
            m.address_city,
            m.address_region,
            m.address_country,
        )
        if not any(parts):
            return None
        street, postal_code, city, region, country = parts
        return Address(
            street=street, postal_code=postal_code, city=city, region=region, country=country
        )

    @strawberry.field
    async def category(
        self, info: Info
    ) -> Annotated["Category", strawberry.lazy("schema.categories.types")]:
        # Through the node registry: the categories schema builds on this one, so this one
        # names it only lazily.
        category = await resolve_node(info.context, "Category", self._model.category_id)
        return cast("Category", existing(category))

    @strawberry.field(
        description="Custom values keyed by field key; `keys` narrows them. "
        "Archived fields are left out."
    )
    async def values(self, info: Info, keys: list[str] | None = None) -> JSON:
        definitions = await info.context.loaders.fields.load(self._model.category_id)
        stored = self._model.custom_values
        wanted = set(keys) if keys is not None else None
        values = {
            d.key: present(d, stored.get(d.key))
            for d in definitions
            if d.archived_at is None and (wanted is None or d.key in wanted)
        }
        return JSON(values)

    @strawberry.field(description="The persons who work here.", metadata=cost.typical(10))
    async def persons(self, info: Info) -> list[Person]:
        assert self._model.id is not None
        return [Person.of(p) for p in await info.context.loaders.persons.load(self._model.id)]

    @strawberry.field(
        description="Cards linked through a relation, by its key or inverse key.",
        metadata=cost.page(),
    )
    async def related(
        self, info: Info, relation: str, first: int | None = None, after: str | None = None
    ) -> "ContactConnection":
        page = await resolve.related_page(
            info.context, self._model, relation=relation, first=first, after=after
        )
        return ContactConnection.of_page(page)

    @strawberry.field(
        description="To-dos on this card, soonest due first, those without a due date last; "
        "`dueFrom` and `dueUntil` are days in the service's time zone, both included.",
        metadata=cost.page(),
    )
    async def todos(
        self,
        info: Info,
        status: TodoStatus | None = None,
        assignee_id: strawberry.ID | None = None,
        due_from: date | None = None,
        due_until: date | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> TodoConnection:
        assert self._model.id is not None
        page = await todo_resolvers.todos_page(
            info.context,
            "contact",
            self._model.id,
            status=status,
            assignee_id=assignee_id,
            due_from=due_from,
            due_until=due_until,
            first=first,
            after=after,
        )
        return TodoConnection.of_page(page)

    @strawberry.field(
        description="Notes you may see: pinned first, then newest first.", metadata=cost.page()
    )
    async def notes(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> NoteConnection:
        page = await note_resolvers.notes_page(info.context, self._model, first=first, after=after)
        return NoteConnection.of_page(page)

    @strawberry.field(
        description="The card's history, newest first: every change with who made it and when.",
        metadata=cost.page(),
    )
    async def activity(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> ActivityConnection:
        page = await resolve.activity_page(info.context, self._model, first=first, after=after)
        return ActivityConnection.of_page(page)

    @strawberry.field(description="Files on the card, newest first.", metadata=cost.page())
    async def files(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> FileConnection:
        return await files_of_card(info, self._model, first=first, after=after)

    @strawberry.field(description="Null when unknown, or deactivated and you are not an admin.")
    async def created_by(self, info: Info) -> User | None:
        if self._model.created_by_id is None:
            return None
        return await visible(info.context, User, self._model.created_by_id)


@strawberry.type
class ContactEdge:
    cursor: str
    node: Contact


@strawberry.type
class ContactConnection:
    edges: list[ContactEdge] = strawberry.field(metadata=cost.in_page())
    page_info: PageInfo
    # The number of cards on every page: known (related cards), or counted when asked for.
    _total: strawberry.Private[int | ContactPage]

    @classmethod
    def of_page(cls, page: ContactPage | RelatedPage) -> "ContactConnection":
        return cls(
            edges=[
                ContactEdge(cursor=cursor, node=Contact.of(model))
                for model, cursor in zip(page.contacts, page.cursors, strict=True)
            ],
            page_info=PageInfo.of(
                page.cursors, has_next=page.has_next, has_previous=page.has_previous
            ),
            _total=page.total if isinstance(page, RelatedPage) else page,
        )

    @strawberry.field(metadata=cost.in_page())
    def nodes(self) -> list[Contact]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="Cards matching the filter and search, on every page.")
    async def total_count(self, info: Info) -> int:
        if isinstance(self._total, int):
            return self._total
        return await info.context.read(self._total.total_count)


async def find_cards(
    info: Info,
    category_id: int,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    filter: ContactFilter | None,
    search: str | None,
    order_by: list[ContactOrder] | None,
    include_deleted: bool,
) -> ContactConnection:
    """One page of a category's cards, for `Query.contacts` and `Category.contacts`."""
    page = await resolve.find_contacts(
        info.context,
        category_id=category_id,
        page=PageRequest(first, after, last, before),
        condition=condition_of(filter),
        search=search,
        ordering=orderings_of(order_by),
        include_deleted=include_deleted,
    )
    return ContactConnection.of_page(page)

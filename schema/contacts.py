"""Contact cards, persons, finding cards, and links between cards."""

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry import Info
from strawberry.scalars import JSON

from models.contacts import Contact as ContactModel
from models.contacts import Person as PersonModel
from models.users import Role
from schema import cost
from schema.categories import Category
from schema.common import (
    Node,
    PageInfo,
    UserError,
    context,
    existing,
    node_type,
    user_errors,
    user_errors_field,
)
from schema.users import User, visible_user
from services import contact_query, contacts
from services.contacts import find_direction
from services.errors import BadRequestError, UserFacingError
from services.ids import decode_id, encode_id
from services.pagination import PageRequest
from services.values import present


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
        return Contact.of(
            existing(await context(info).loaders.contact.load(self._model.contact_id))
        )


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
    async def category(self, info: Info) -> Category:
        return Category.of(
            existing(await context(info).loaders.category.load(self._model.category_id))
        )

    @strawberry.field(
        description="Custom values keyed by field key; `keys` narrows them. "
        "Archived fields are left out."
    )
    async def values(self, info: Info, keys: list[str] | None = None) -> JSON:
        definitions = await context(info).loaders.fields.load(self._model.category_id)
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
        return [Person.of(p) for p in await context(info).loaders.persons.load(self._model.id)]

    @strawberry.field(
        description="Cards linked through a relation, by its key or inverse key.",
        metadata=cost.page(),
    )
    async def related(
        self, info: Info, relation: str, first: int | None = None, after: str | None = None
    ) -> "ContactConnection":
        ctx = context(info)
        assert self._model.id is not None
        size = PageRequest(first=first, after=after).checked(ctx.settings.max_page_size).size
        relations = await ctx.loaders.relations.load(self._model.category_id)
        direction = find_direction(relations, self._model.category_id, relation)
        if direction is None:
            raise BadRequestError(
                f"Cards of this category have no relation called {relation!r}", "UNKNOWN_RELATION"
            )
        page = await ctx.loaders.related.load((direction, self._model.id, size, after))
        return ContactConnection.of(
            page.contacts,
            page.cursors,
            has_next=page.has_next,
            has_previous=page.has_previous,
            total=page.total,
        )

    @strawberry.field(description="Null when unknown, or deactivated and you are not an admin.")
    async def created_by(self, info: Info) -> User | None:
        if self._model.created_by_id is None:
            return None
        return await visible_user(context(info), self._model.created_by_id)


@strawberry.type
class ContactEdge:
    cursor: str
    node: Contact


@strawberry.type
class ContactConnection:
    edges: list[ContactEdge] = strawberry.field(metadata=cost.in_page())
    page_info: PageInfo
    _total: strawberry.Private[Any]

    @classmethod
    def of(
        cls,
        models: list[ContactModel],
        cursors: list[str],
        *,
        has_next: bool,
        has_previous: bool,
        total: Any,
    ) -> "ContactConnection":
        return cls(
            edges=[
                ContactEdge(cursor=c, node=Contact.of(m))
                for m, c in zip(models, cursors, strict=True)
            ],
            page_info=PageInfo.of(cursors, has_next=has_next, has_previous=has_previous),
            _total=total,
        )

    @strawberry.field(metadata=cost.in_page())
    def nodes(self) -> list[Contact]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="Cards matching the filter and search, on every page.")
    async def total_count(self, info: Info) -> int:
        if isinstance(self._total, int):
            return self._total
        count: int = await context(info).read(self._total.total_count)
        return count


# --- finding cards -----------------------------------------------------------------------------


@strawberry.input
class StringFilter:
    eq: str | None = None
    neq: str | None = None
    in_: list[str] | None = strawberry.field(default=None, name="in")
    contains: str | None = strawberry.field(default=None, description="Case-insensitive.")
    starts_with: str | None = strawberry.field(default=None, description="Case-insensitive.")
    is_null: bool | None = None


@strawberry.input
class DateTimeFilter:
    gt: datetime | None = None
    gte: datetime | None = None
    lt: datetime | None = None
    lte: datetime | None = None


@strawberry.input(description="A condition on a custom field; values are checked against its type.")
class FieldFilter:
    key: str
    eq: JSON | None = None
    neq: JSON | None = None
    in_: list[JSON] | None = strawberry.field(default=None, name="in")
    gt: JSON | None = None
    gte: JSON | None = None
    lt: JSON | None = None
    lte: JSON | None = None
    contains: str | None = strawberry.field(
        default=None, description="Text fields, case-insensitive."
    )
    is_null: bool | None = None


@strawberry.input(description="All given conditions must hold; combine with and / or / not.")
class ContactFilter:
    and_: list["ContactFilter"] | None = strawberry.field(default=None, name="and")
    or_: list["ContactFilter"] | None = strawberry.field(default=None, name="or")
    not_: "ContactFilter | None" = strawberry.field(default=None, name="not")
    name: StringFilter | None = None
    org_number: StringFilter | None = None
    email: StringFilter | None = None
    city: StringFilter | None = None
    country: StringFilter | None = None
    created_at: DateTimeFilter | None = None
    updated_at: DateTimeFilter | None = None
    fields: list[FieldFilter] | None = None

    def to_condition(self) -> contact_query.ContactCondition:
        def text(f: StringFilter | None) -> contact_query.TextCondition | None:
            if f is None:
                return None
            return contact_query.TextCondition(
                f.eq, f.neq, f.in_, f.contains, f.starts_with, f.is_null
            )

        def time(f: DateTimeFilter | None) -> contact_query.TimeCondition | None:
            return contact_query.TimeCondition(f.gt, f.gte, f.lt, f.lte) if f else None

        return contact_query.ContactCondition(
            and_=[c.to_condition() for c in self.and_ or []],
            or_=[c.to_condition() for c in self.or_ or []],
            not_=self.not_.to_condition() if self.not_ else None,
            name=text(self.name),
            org_number=text(self.org_number),
            email=text(self.email),
            city=text(self.city),
            country=text(self.country),
            created_at=time(self.created_at),
            updated_at=time(self.updated_at),
            fields=[
                contact_query.FieldCondition(
                    f.key, f.eq, f.neq, f.in_, f.gt, f.gte, f.lt, f.lte, f.contains, f.is_null
                )
                for f in self.fields or []
            ],
        )


@strawberry.enum
class ContactSortField(Enum):
    NAME = "name"
    CREATED_AT = "createdAt"
    UPDATED_AT = "updatedAt"


@strawberry.enum
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.input(description="Sort by a built-in `field` or a custom field `key` (exactly one).")
class ContactOrder:
    field: ContactSortField | None = None
    key: str | None = None
    direction: SortDirection = SortDirection.ASC


def _orderings(order_by: list[ContactOrder] | None) -> list[contact_query.Ordering]:
    orderings = []
    for i, order in enumerate(order_by or []):
        if (order.field is None) == (order.key is None):
            raise BadRequestError(f"orderBy.{i}: give either field or key", "INVALID_ORDER")
        key = order.field.value if order.field is not None else order.key
        assert key is not None
        orderings.append(contact_query.Ordering(key, order.direction == SortDirection.DESC))
    if len(orderings) > 5:
        raise BadRequestError("orderBy takes at most 5 terms", "INVALID_ORDER")
    return orderings


async def find_contacts(
    info: Info,
    category_id: int,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    filter: ContactFilter | None,
    search: str | None,
    order_by: list[ContactOrder] | None,
    include_deleted: bool,
) -> ContactConnection:
    ctx = context(info)
    await ctx.require()
    page = PageRequest(first, after, last, before).checked(ctx.settings.max_page_size)
    if await ctx.loaders.category.load(category_id) is None:
        raise BadRequestError("The category was not found", "NOT_FOUND")
    fields = await ctx.loaders.fields.load(category_id)
    try:
        condition = filter.to_condition() if filter else None
        ordering = _orderings(order_by)
        result = await ctx.read(
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
    return ContactConnection.of(
        result.contacts,
        result.cursors,
        has_next=result.has_next,
        has_previous=result.has_previous,
        total=result,
    )


# --- inputs and payloads -----------------------------------------------------------------------


@strawberry.input
class AddressInput:
    street: str | None = strawberry.UNSET
    postal_code: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    region: str | None = strawberry.UNSET
    country: str | None = strawberry.UNSET


@strawberry.input
class PersonInput:
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    mobile: str | None = strawberry.UNSET


PERSON_FIELDS = {
    "first_name": "first_name",
    "last_name": "last_name",
    "title": "title",
    "email": "email",
    "phone": "phone",
    "mobile": "mobile",
}
CONTACT_FIELDS = ("name", "org_number", "email", "phone", "website")
ADDRESS_FIELDS = {
    "street": "address_street",
    "postal_code": "address_postal_code",
    "city": "address_city",
    "region": "address_region",
    "country": "address_country",
}


def _present(obj: Any, names: Any) -> dict[str, Any]:
    """The fields the client sent (UNSET ones are left out; None means clear)."""
    mapping = names if isinstance(names, dict) else {n: n for n in names}
    return {
        target: getattr(obj, source)
        for source, target in mapping.items()
        if getattr(obj, source) is not strawberry.UNSET
    }


def _json_object(value: JSON | None) -> Any:
    """Custom values as sent; services check that they form an object keyed by field key."""
    return {} if value is None else value


def _details(input: Any) -> dict[str, Any]:
    details = _present(input, CONTACT_FIELDS)
    if input.address is None:
        details.update(dict.fromkeys(ADDRESS_FIELDS.values()))
    elif input.address is not strawberry.UNSET:
        details.update(_present(input.address, ADDRESS_FIELDS))
    return details


@strawberry.input
class ContactCreateInput:
    category_id: strawberry.ID
    name: str
    org_number: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    website: str | None = strawberry.UNSET
    address: AddressInput | None = strawberry.UNSET
    values: JSON | None = strawberry.field(
        default=None, description="Custom values keyed by field key."
    )
    persons: list[PersonInput] | None = None


@strawberry.input(description="Omitted fields stay; null clears. Values merge key by key.")
class ContactUpdateInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    org_number: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    website: str | None = strawberry.UNSET
    address: AddressInput | None = strawberry.UNSET
    values: JSON | None = None
    expected_version: int | None = strawberry.field(
        default=None,
        description="Refuse the update with a CONFLICT if the card's version is no longer this "
        "one (someone else changed it since you read it).",
    )


@strawberry.input
class ContactIdInput:
    id: strawberry.ID


@strawberry.type
class ContactPayload:
    contact: Contact | None = None
    user_errors: list[UserError] = user_errors_field()


@strawberry.input
class PersonCreateInput(PersonInput):
    contact_id: strawberry.ID


@strawberry.input(description="Omitted fields stay; null clears.")
class PersonUpdateInput(PersonInput):
    id: strawberry.ID


@strawberry.input
class PersonDeleteInput:
    id: strawberry.ID


@strawberry.type
class PersonPayload:
    person: Person | None = None
    user_errors: list[UserError] = user_errors_field()


@strawberry.input
class ContactLinkInput:
    relation: str = strawberry.field(
        description="The relation's key or inverse key, as seen from `fromId`."
    )
    from_id: strawberry.ID
    to_id: strawberry.ID


@strawberry.type
class ContactLinkPayload:
    from_contact: Contact | None = strawberry.field(default=None, name="from")
    to_contact: Contact | None = strawberry.field(default=None, name="to")
    user_errors: list[UserError] = user_errors_field()


def _person_payload(model: PersonModel | None, problems: list[Any]) -> PersonPayload:
    return PersonPayload(
        person=Person.of(model) if model else None, user_errors=user_errors(problems)
    )


def _contact_payload(model: ContactModel | None, problems: list[Any]) -> ContactPayload:
    return ContactPayload(
        contact=Contact.of(model) if model else None, user_errors=user_errors(problems)
    )


# --- operations --------------------------------------------------------------------------------


@strawberry.type
class ContactQuery:
    @strawberry.field(
        description="Cards of a category: filter, search, sort and page through them.",
        metadata=cost.page(),
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
        return await find_contacts(
            info,
            decode_id(category_id, "Category"),
            first,
            after,
            last,
            before,
            filter,
            search,
            order_by,
            include_deleted,
        )

    @strawberry.field(description="A card by ID, deleted ones included.")
    async def contact(self, info: Info, id: strawberry.ID) -> Contact | None:
        ctx = context(info)
        await ctx.require()
        model = await ctx.loaders.contact.load(decode_id(id, "Contact"))
        return Contact.of(model) if model else None


@strawberry.type
class ContactMutation:
    @strawberry.mutation
    async def contact_create(self, info: Info, input: ContactCreateInput) -> ContactPayload:
        ctx = context(info)
        viewer = await ctx.require(Role.MEMBER)
        category_id = decode_id(input.category_id, "Category")
        persons = [_present(p, PERSON_FIELDS) for p in input.persons or []]

        outcome = await ctx.mutate(
            lambda s: contacts.create_contact(
                s,
                viewer=viewer,
                category_id=category_id,
                details=_details(input),
                values=_json_object(input.values),
                persons=persons,
            )
        )
        return _contact_payload(outcome.value, outcome.problems)

    @strawberry.mutation
    async def contact_update(self, info: Info, input: ContactUpdateInput) -> ContactPayload:
        ctx = context(info)
        await ctx.require(Role.MEMBER)
        contact_id = decode_id(input.id, "Contact")
        outcome = await ctx.mutate(
            lambda s: contacts.update_contact(
                s,
                contact_id=contact_id,
                details=_details(input),
                values=_json_object(input.values),
                expected_version=input.expected_version,
            )
        )
        return _contact_payload(outcome.value, outcome.problems)

    @strawberry.mutation(description="Move a card to the bin; contactRestore brings it back.")
    async def contact_delete(self, info: Info, input: ContactIdInput) -> ContactPayload:
        ctx = context(info)
        await ctx.require(Role.MEMBER)
        contact_id = decode_id(input.id, "Contact")
        outcome = await ctx.mutate(
            lambda s: contacts.set_contact_deleted(s, contact_id=contact_id, deleted=True)
        )
        return _contact_payload(outcome.value, outcome.problems)

    @strawberry.mutation
    async def contact_restore(self, info: Info, input: ContactIdInput) -> ContactPayload:
        ctx = context(info)
        await ctx.require(Role.MEMBER)
        contact_id = decode_id(input.id, "Contact")
        outcome = await ctx.mutate(
            lambda s: contacts.set_contact_deleted(s, contact_id=contact_id, deleted=False)
        )
        return _contact_payload(outcome.value, outcome.problems)

    @strawberry.mutation
    async def person_create(self, info: Info, input: PersonCreateInput) -> PersonPayload:
        ctx = context(info)
        await ctx.require(Role.MEMBER)
        contact_id = decode_id(input.contact_id, "Contact")
        outcome = await ctx.mutate(
            lambda s: contacts.create_person(
                s, contact_id=contact_id, details=_present(input, PERSON_FIELDS)
            )
        )
        return _person_payload(outcome.value, outcome.problems)

    @strawberry.mutation
    async def person_update(self, info: Info, input: PersonUpdateInput) -> PersonPayload:
        ctx = context(info)
        await ctx.require(Role.MEMBER)
        person_id = decode_id(input.id, "Person")
        outcome = await ctx.mutate(
            lambda s: contacts.update_person(
                s, person_id=person_id, details=_present(input, PERSON_FIELDS)
            )
        )
        return _person_payload(outcome.value, outcome.problems)

    @strawberry.mutation
    async def person_delete(self, info: Info, input: PersonDeleteInput) -> PersonPayload:
        ctx = context(info)
        await ctx.require(Role.MEMBER)
        person_id = decode_id(input.id, "Person")
        outcome = await ctx.mutate(lambda s: contacts.delete_person(s, person_id=person_id))
        return _person_payload(outcome.value, outcome.problems)

    @strawberry.mutation(description="Link two cards through a relation.")
    async def contact_link(self, info: Info, input: ContactLinkInput) -> ContactLinkPayload:
        return await _link(info, input, link=True)

    @strawberry.mutation
    async def contact_unlink(self, info: Info, input: ContactLinkInput) -> ContactLinkPayload:
        return await _link(info, input, link=False)


async def _link(info: Info, input: ContactLinkInput, *, link: bool) -> ContactLinkPayload:
    ctx = context(info)
    viewer = await ctx.require(Role.MEMBER)
    from_id = decode_id(input.from_id, "Contact")
    to_id = decode_id(input.to_id, "Contact")

    async def work(session: Any) -> tuple[ContactModel, ContactModel]:
        if link:
            await contacts.link_contacts(
                session, viewer=viewer, relation_name=input.relation, from_id=from_id, to_id=to_id
            )
        else:
            await contacts.unlink_contacts(
                session, relation_name=input.relation, from_id=from_id, to_id=to_id
            )
        return await contacts.get_contact(session, from_id), await contacts.get_contact(
            session, to_id
        )

    outcome = await ctx.mutate(work)
    if outcome.value is None:
        return ContactLinkPayload(user_errors=user_errors(outcome.problems))
    source, target = outcome.value
    return ContactLinkPayload(from_contact=Contact.of(source), to_contact=Contact.of(target))

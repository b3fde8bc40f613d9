"""How clients find cards: filters on built-in and custom fields, and sort orders."""

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from services import contact_query
from services.errors import BadRequestError

MAX_ORDER_TERMS = 5


@strawberry.input
class StringFilter:
    eq: str | None = None
    neq: str | None = None
    in_: list[str] | None = strawberry.field(default=None, name="in")
    contains: str | None = strawberry.field(default=None, description="Case-insensitive.")
    starts_with: str | None = strawberry.field(default=None, description="Case-insensitive.")
    is_null: bool | None = None

    def to_condition(self) -> contact_query.TextCondition:
        return contact_query.TextCondition(
            self.eq, self.neq, self.in_, self.contains, self.starts_with, self.is_null
        )


@strawberry.input
class DateTimeFilter:
    gt: datetime | None = None
    gte: datetime | None = None
    lt: datetime | None = None
    lte: datetime | None = None

    def to_condition(self) -> contact_query.TimeCondition:
        return contact_query.TimeCondition(self.gt, self.gte, self.lt, self.lte)


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

    def to_condition(self) -> contact_query.FieldCondition:
        return contact_query.FieldCondition(
            self.key,
            self.eq,
            self.neq,
            self.in_,
            self.gt,
            self.gte,
            self.lt,
            self.lte,
            self.contains,
            self.is_null,
        )


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
            return f.to_condition() if f else None

        def time(f: DateTimeFilter | None) -> contact_query.TimeCondition | None:
            return f.to_condition() if f else None

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
            fields=[f.to_condition() for f in self.fields or []],
        )


def condition_of(filter: ContactFilter | None) -> contact_query.ContactCondition | None:
    return filter.to_condition() if filter else None


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


def orderings_of(order_by: list[ContactOrder] | None) -> list[contact_query.Ordering]:
    orderings = []
    for i, order in enumerate(order_by or []):
        if (order.field is None) == (order.key is None):
            raise BadRequestError(f"orderBy.{i}: give either field or key", "INVALID_ORDER")
        key = order.field.value if order.field is not None else order.key
        assert key is not None
        orderings.append(contact_query.Ordering(key, order.direction == SortDirection.DESC))
    if len(orderings) > MAX_ORDER_TERMS:
        raise BadRequestError(f"orderBy takes at most {MAX_ORDER_TERMS} terms", "INVALID_ORDER")
    return orderings

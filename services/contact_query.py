"""Finding cards: filters on built-in and custom fields, text search, sorting, keyset pages."""

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Select,
    String,
    and_,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models.categories import FieldDefinition, FieldType
from models.contacts import Contact, ContactLink
from models.db import SQLITE_LOWER
from services.contacts import Direction
from services.errors import ErrorCode, UserFacingError
from services.field_index import KEY_RE, category_literal, value_expression
from services.pagination import (
    PageRequest,
    SortKey,
    after_condition,
    decode_cursor,
    encode_cursor,
    fingerprint,
    order_by,
)
from services.values import TEXT_TYPES, coerce_operand, to_utc
from services.wording import a_or_an, api_name

MAX_FILTER_DEPTH = 5
MAX_CONDITIONS = 200
MAX_IN_VALUES = 100
MAX_SEARCH_WORDS = 8
# contains, startsWith and search become LIKE patterns; SQLite refuses long ones as "too
# complex", and nobody looks for 200 characters at once.
MAX_MATCH_LENGTH = 200
ID_BATCH = 10_000  # IDs fetched at a time by ordered_contact_ids


@dataclass
class TextCondition:
    eq: str | None = None
    neq: str | None = None
    in_: list[str] | None = None
    contains: str | None = None
    starts_with: str | None = None
    is_null: bool | None = None


@dataclass
class TimeCondition:
    gt: datetime | None = None
    gte: datetime | None = None
    lt: datetime | None = None
    lte: datetime | None = None


@dataclass
class FieldCondition:
    key: str
    eq: Any = None
    neq: Any = None
    in_: list[Any] | None = None
    gt: Any = None
    gte: Any = None
    lt: Any = None
    lte: Any = None
    contains: str | None = None
    is_null: bool | None = None


@dataclass
class ContactCondition:
    and_: list["ContactCondition"] = field(default_factory=list)
    or_: list["ContactCondition"] = field(default_factory=list)
    not_: "ContactCondition | None" = None
    name: TextCondition | None = None
    org_number: TextCondition | None = None
    email: TextCondition | None = None
    city: TextCondition | None = None
    country: TextCondition | None = None
    created_at: TimeCondition | None = None
    updated_at: TimeCondition | None = None
    fields: list[FieldCondition] = field(default_factory=list)


@dataclass
class Ordering:
    """Sort by a built-in ("name", "createdAt", "updatedAt") or a custom field key."""

    key: str
    descending: bool = False


# The Python type of a sort value, which cursors must carry for that key.
SORT_VALUE_KINDS: dict[FieldType, type] = {
    FieldType.INTEGER: Decimal,
    FieldType.NUMBER: Decimal,
    FieldType.MONEY: Decimal,
    FieldType.RATING: Decimal,
    FieldType.BOOLEAN: bool,
    FieldType.USER: int,
}

BUILT_IN_SORTS: dict[str, Any] = {
    "name": Contact.name,
    "createdAt": Contact.created_at,
    "updatedAt": Contact.updated_at,
}


@dataclass
class ContactPage:
    contacts: list[Contact]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    count_query: Select[int]

    async def total_count(self, session: AsyncSession) -> int:
        return (await session.execute(self.count_query)).scalar_one()


_OPERATORS = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}


def _checked_match_text(text: str, path: list[str]) -> str:
    if len(text) > MAX_MATCH_LENGTH:
        raise UserFacingError.one(
            f"{path[-1]} takes at most {MAX_MATCH_LENGTH} characters, got {len(text)}", field=path
        )
    return text


def _country_code(value: str, path: list[str], *, part: bool = False) -> str:
    """Cards hold ISO 3166 two-letter codes in upper case (services/contacts.py), so a filter
    takes a code too, in any case; a country's name would silently match nothing."""
    text = value.strip()
    if not (text.isalpha() and (len(text) == 2 or (part and len(text) == 1))):
        raise UserFacingError.one(
            f"{value[:100]!r} is not a country code: countries are ISO 3166 two-letter codes "
            "such as SE or DE",
            field=path,
        )
    return text.upper()


def _country_condition(c: TextCondition, path: list[str]) -> TextCondition:
    def code(value: str | None, name: str, *, part: bool = False) -> str | None:
        return None if value is None else _country_code(value, [*path, name], part=part)

    codes = None
    if c.in_ is not None:
        codes = [_country_code(v, [*path, "in", str(i)]) for i, v in enumerate(c.in_)]
    return replace(
        c,
        eq=code(c.eq, "eq"),
        neq=code(c.neq, "neq"),
        in_=codes,
        contains=code(c.contains, "contains", part=True),
        starts_with=code(c.starts_with, "startsWith", part=True),
    )


def _like_escaped(text: str) -> str:
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _all(terms: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """Every term holds; no term at all holds for every card."""
    return and_(*terms) if terms else true()


class _Compiler:
    """Turns conditions into SQL for one category, checking every key and value on the way."""

    def __init__(self, dialect: str, fields: Sequence[FieldDefinition]) -> None:
        self.dialect = dialect
        # Archived fields are hidden: they can be neither filtered nor sorted on.
        self.fields = {f.key: f for f in fields if f.archived_at is None}
        self.count = 0

    def _listed(self, values: list[Any], path: list[str]) -> list[Any]:
        """An `in` list, counted towards the limit on conditions."""
        if len(values) > MAX_IN_VALUES:
            raise UserFacingError.one(f"`in` takes at most {MAX_IN_VALUES} values", field=path)
        self.count += len(values)
        return values

    def condition(
        self, node: ContactCondition, path: list[str], depth: int = 0
    ) -> ColumnElement[bool]:
        if depth > MAX_FILTER_DEPTH:
            raise UserFacingError.one(
                f"Filters nest at most {MAX_FILTER_DEPTH} levels deep", field=path
            )
        terms: list[ColumnElement[bool]] = []
        terms += [
            self.condition(c, [*path, "and", str(i)], depth + 1) for i, c in enumerate(node.and_)
        ]
        if node.or_:
            terms.append(
                or_(
                    *(
                        self.condition(c, [*path, "or", str(i)], depth + 1)
                        for i, c in enumerate(node.or_)
                    )
                )
            )
        if node.not_ is not None:
            # A comparison with an empty value is NULL, not false: count it as "does not hold",
            # so `not` returns exactly the cards its condition leaves out.
            inner = self.condition(node.not_, [*path, "not"], depth + 1)
            terms.append(not_(func.coalesce(inner, false())))
        text_columns: tuple[tuple[str, Any], ...] = (
            ("name", col(Contact.name)),
            ("org_number", col(Contact.org_number)),
            ("email", col(Contact.email)),
            ("city", col(Contact.address_city)),
            ("country", col(Contact.address_country)),
        )
        for name, column in text_columns:
            if (text_condition := getattr(node, name)) is not None:
                if name == "country":
                    text_condition = _country_condition(text_condition, [*path, "country"])
                terms.append(self._text(column, text_condition, [*path, api_name(name)]))
        time_columns: tuple[tuple[str, Any], ...] = (
            ("created_at", col(Contact.created_at)),
            ("updated_at", col(Contact.updated_at)),
        )
        for name, column in time_columns:
            if (time_condition := getattr(node, name)) is not None:
                terms.append(self._time(column, time_condition, [*path, api_name(name)]))
        terms += [self._field(c, [*path, "fields", str(i)]) for i, c in enumerate(node.fields)]
        self.count += len(terms)
        if self.count > MAX_CONDITIONS:
            raise UserFacingError.one(
                f"A filter has at most {MAX_CONDITIONS} conditions", field=path
            )
        return _all(terms)

    def _text(self, column: Any, c: TextCondition, path: list[str]) -> ColumnElement[bool]:
        terms = []
        if c.eq is not None:
            terms.append(column == c.eq)
        if c.neq is not None:
            terms.append(or_(column != c.neq, column.is_(None)))
        if c.in_ is not None:
            terms.append(column.in_(self._listed(c.in_, [*path, "in"])))
        if c.contains is not None:
            terms.append(self._matches(column, c.contains, [*path, "contains"]))
        if c.starts_with is not None:
            terms.append(self._matches(column, c.starts_with, [*path, "startsWith"], prefix=True))
        if c.is_null is not None:
            terms.append(column.is_(None) if c.is_null else column.is_not(None))
        return _all(terms)

    def _lower(self, expression: Any) -> ColumnElement[str]:
        """Lower-cased the same way on both databases (see models/db.py)."""
        lower: ColumnElement[str] = getattr(
            func, "lower" if self.dialect == "postgresql" else SQLITE_LOWER
        )(expression)
        return lower

    def _matches(
        self, expression: Any, text: str, path: list[str], *, prefix: bool = False
    ) -> ColumnElement[bool]:
        """Case-insensitive `contains` (or `startsWith`)."""
        escaped = _like_escaped(_checked_match_text(text, path))
        pattern = f"{escaped}%" if prefix else f"%{escaped}%"
        return self._lower(expression).like(self._lower(literal(pattern, String())), escape="/")

    def _time(self, column: Any, c: TimeCondition, path: list[str]) -> ColumnElement[bool]:
        terms = []
        for name, value in (("gt", c.gt), ("gte", c.gte), ("lt", c.lt), ("lte", c.lte)):
            if value is None:
                continue
            if value.tzinfo is None:
                raise UserFacingError.one(
                    "The date-time needs a time zone, for example 2026-01-01T00:00:00Z",
                    field=[*path, name],
                )
            try:
                instant = to_utc(value)
            except ValueError as exc:
                raise UserFacingError.one(str(exc), field=[*path, name]) from None
            terms.append(getattr(column, _OPERATORS[name])(instant))
        return _all(terms)

    def definition(self, key: str, path: list[str]) -> FieldDefinition:
        definition = self.fields.get(key)
        if definition is None or not KEY_RE.match(key):
            raise UserFacingError.one(
                f"The category has no field {key!r}", code=ErrorCode.UNKNOWN_FIELD, field=path
            )
        return definition

    def _value(self, definition: FieldDefinition, value: Any, path: list[str]) -> Any:
        try:
            return coerce_operand(definition, value)
        except ValueError as exc:
            raise UserFacingError.one(f"{definition.key}: {exc}", field=path) from None

    def _field(self, c: FieldCondition, path: list[str]) -> ColumnElement[bool]:
        definition = self.definition(c.key, [*path, "key"])
        field_type = FieldType(definition.type)
        if field_type == FieldType.MULTI_SELECT:
            return self._multi_select(definition, c, path)
        expression = value_expression(self.dialect, definition.key, field_type)
        terms = []
        if c.eq is not None:
            terms.append(expression == self._value(definition, c.eq, [*path, "eq"]))
        if c.neq is not None:
            value = self._value(definition, c.neq, [*path, "neq"])
            terms.append(or_(expression != value, expression.is_(None)))
        if c.in_ is not None:
            listed = self._listed(c.in_, [*path, "in"])
            terms.append(
                expression.in_([self._value(definition, v, [*path, "in"]) for v in listed])
            )
        for name, op in _OPERATORS.items():
            raw = getattr(c, name)
            if raw is not None:
                if field_type in (FieldType.BOOLEAN, FieldType.SELECT, FieldType.USER):
                    raise UserFacingError.one(
                        f"{definition.key} cannot be compared with {name}", field=[*path, name]
                    )
                terms.append(getattr(expression, op)(self._value(definition, raw, [*path, name])))
        if c.contains is not None:
            if field_type not in TEXT_TYPES:
                raise UserFacingError.one(
                    f"contains works on text fields; {definition.key} is {field_type}",
                    field=[*path, "contains"],
                )
            terms.append(self._matches(expression, c.contains, [*path, "contains"]))
        if c.is_null is not None:
            terms.append(expression.is_(None) if c.is_null else expression.is_not(None))
        return _all(terms)

    def _multi_select(
        self, definition: FieldDefinition, c: FieldCondition, path: list[str]
    ) -> ColumnElement[bool]:
        """A MULTI_SELECT value "equals" an option when it includes it."""

        def has(option: Any, at: str) -> ColumnElement[bool]:
            (value,) = self._value(definition, [option], [*path, at])
            if self.dialect == "sqlite":
                return exists(
                    select(literal_column("1"))
                    .select_from(func.json_each(Contact.custom_values, f"$.{definition.key}"))
                    .where(literal_column("json_each.value") == value)
                )
            options = col(Contact.custom_values).op("->")(literal_column(f"'{definition.key}'"))
            has_option: ColumnElement[bool] = options.op("?", is_comparison=True)(value)
            return has_option

        terms = []
        if c.eq is not None:
            terms.append(has(c.eq, "eq"))
        if c.neq is not None:
            expression = value_expression(self.dialect, definition.key, FieldType.MULTI_SELECT)
            terms.append(or_(not_(has(c.neq, "neq")), expression.is_(None)))
        if c.in_ is not None:
            terms.append(or_(*(has(v, "in") for v in self._listed(c.in_, [*path, "in"]))))
        if c.is_null is not None:
            expression = value_expression(self.dialect, definition.key, FieldType.MULTI_SELECT)
            terms.append(expression.is_(None) if c.is_null else expression.is_not(None))
        for name in ("gt", "gte", "lt", "lte", "contains"):
            if getattr(c, name) is not None:
                raise UserFacingError.one(
                    f"{definition.key} is a MULTI_SELECT and takes eq, neq, in or isNull",
                    field=[*path, name],
                )
        return _all(terms)

    def sort_keys(self, ordering: Sequence[Ordering]) -> list[SortKey]:
        keys = []
        seen: set[str] = set()
        for i, order in enumerate(ordering):
            if order.key in seen:
                raise UserFacingError.one(
                    f"orderBy names {order.key!r} twice", field=["orderBy", str(i)]
                )
            seen.add(order.key)
            if order.key in BUILT_IN_SORTS:
                column = BUILT_IN_SORTS[order.key]
                kind: type = str if order.key == "name" else datetime
                keys.append(SortKey(column, order.descending, kind=kind))
                continue
            definition = self.definition(order.key, ["orderBy", str(i), "key"])
            field_type = FieldType(definition.type)
            if field_type in (FieldType.MULTI_SELECT, FieldType.LONG_TEXT):
                # Long text would make cursors as long as the text.
                raise UserFacingError.one(
                    f"{order.key} is {a_or_an(field_type)} and cannot be sorted",
                    field=["orderBy", str(i)],
                )
            expression = value_expression(self.dialect, definition.key, field_type)
            kind = SORT_VALUE_KINDS.get(field_type, str)
            keys.append(SortKey(expression, order.descending, nullable=True, kind=kind))
        last_descending = keys[-1].descending if keys else False
        keys.append(SortKey(col(Contact.id), last_descending, kind=int))
        return keys


def card_condition(
    dialect: str,
    fields: Sequence[FieldDefinition],
    condition: ContactCondition,
    path: Sequence[str] = ("filter",),
) -> ColumnElement[bool]:
    """A filter as SQL over `contact` for a category with these fields, every key and value
    checked on the way (a UserFacingError names the first that is wrong, under `path`)."""
    return _Compiler(dialect, fields).condition(condition, list(path))


def _search_terms(search: str) -> list[ColumnElement[bool]]:
    words = _checked_match_text(search, ["search"]).lower().split()
    if len(words) > MAX_SEARCH_WORDS:
        raise UserFacingError.one(f"Search for at most {MAX_SEARCH_WORDS} words", field=["search"])
    return [col(Contact.search_text).contains(word, autoescape=True) for word in words]


async def find_contacts(
    session: AsyncSession,
    *,
    category_id: int,
    fields: Sequence[FieldDefinition],
    condition: ContactCondition | None,
    search: str | None,
    ordering: Sequence[Ordering],
    page: PageRequest,
    include_deleted: bool = False,
) -> ContactPage:
    """One page of a category's cards; `fields` are the category's field definitions."""
    dialect = (await session.connection()).dialect.name
    compiler = _Compiler(dialect, fields)
    where = _matching(compiler, category_id, condition, search, include_deleted=include_deleted)
    keys = compiler.sort_keys(ordering or [Ordering("name")])
    # The field types belong to the fingerprint: a cursor from before a type change is stale.
    types = {f.key: f.type for f in fields}
    fp = fingerprint(category_id, [(o.key, o.descending, types.get(o.key)) for o in ordering])
    reverse = page.backwards
    query = select(Contact, *(k.expression for k in keys[:-1])).where(*where)
    if page.cursor is not None:
        query = query.where(
            after_condition(keys, decode_cursor(page.cursor, fp, keys), reverse=reverse)
        )
    query = query.order_by(*order_by(keys, reverse=reverse, dialect=dialect)).limit(page.size + 1)
    rows = list((await session.execute(query)).all())
    more = len(rows) > page.size
    rows = rows[: page.size]
    if reverse:
        rows.reverse()
    contacts = [row[0] for row in rows]
    cursors = [encode_cursor(fp, [*row[1:], row[0].id]) for row in rows]
    return ContactPage(
        contacts=contacts,
        cursors=cursors,
        has_next=more if not reverse else page.cursor is not None,
        has_previous=more if reverse else page.cursor is not None,
        count_query=select(func.count()).select_from(Contact).where(*where),
    )


async def ordered_contact_ids(
    session: AsyncSession,
    *,
    category_id: int,
    fields: Sequence[FieldDefinition],
    condition: ContactCondition | None,
    search: str | None,
    ordering: Sequence[Ordering],
) -> "array[int]":
    """The IDs of every card `find_contacts` would list, in its order, in one statement: 8 bytes
    a card, read in batches (never a Python object per card)."""
    dialect = (await session.connection()).dialect.name
    compiler = _Compiler(dialect, fields)
    where = _matching(compiler, category_id, condition, search, include_deleted=False)
    keys = compiler.sort_keys(ordering or [Ordering("name")])
    query = select(col(Contact.id)).where(*where)
    query = query.order_by(*order_by(keys, reverse=False, dialect=dialect))
    ids = array("q")
    found = await session.stream_scalars(query.execution_options(yield_per=ID_BATCH))
    async for batch in found.partitions():
        ids.extend(cast(Sequence[int], batch))  # IDs of stored rows are never NULL
    return ids


def _matching(
    compiler: "_Compiler",
    category_id: int,
    condition: ContactCondition | None,
    search: str | None,
    *,
    include_deleted: bool,
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [category_literal(category_id)]
    if not include_deleted:
        where.append(col(Contact.deleted_at).is_(None))
    if condition is not None:
        where.append(compiler.condition(condition, ["filter"]))
    if search:
        where += _search_terms(search)
    return where


# --- related cards -----------------------------------------------------------------------------


@dataclass
class RelatedPage:
    contacts: list[Contact]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    total: int


async def related_contacts(
    session: AsyncSession,
    *,
    direction: Direction,
    contact_ids: Sequence[int],
    first: int,
    after: str | None,
) -> dict[int, RelatedPage]:
    """One page of related cards for each of many cards, in one statement.

    Window functions number each card's links (by the related card's id) and count them, so the
    page limit applies per card rather than to the whole batch.
    """
    relation = direction.relation
    own, other = (
        (col(ContactLink.from_contact_id), col(ContactLink.to_contact_id))
        if direction.forward
        else (col(ContactLink.to_contact_id), col(ContactLink.from_contact_id))
    )
    fp = fingerprint("related", relation.id, direction.forward)
    after_id = None
    if after is not None:
        (after_id,) = decode_cursor(after, fp, [SortKey(col(Contact.id), kind=int)])
    # Rows after the cursor are numbered in a partition of their own.
    partition = [own] if after_id is None else [own, other > after_id]
    numbered = (
        select(
            own.label("owner"),
            col(Contact.id).label("related_id"),
            func.row_number().over(partition_by=partition, order_by=other).label("rank"),
            func.count().over(partition_by=own).label("total"),
        )
        .join(Contact, col(Contact.id) == other)
        .where(
            col(ContactLink.relation_id) == relation.id,
            own.in_(contact_ids),
            col(Contact.deleted_at).is_(None),
        )
        .subquery()
    )
    query = (
        select(numbered.c.owner, numbered.c.total, Contact)
        .join(Contact, col(Contact.id) == numbered.c.related_id)
        .where(numbered.c.rank <= first + 1)
        .order_by(numbered.c.owner, numbered.c.rank)
    )
    if after_id is not None:
        query = query.where(numbered.c.related_id > after_id)
    pages = {cid: RelatedPage([], [], False, after_id is not None, 0) for cid in contact_ids}
    for owner, total, contact in await session.execute(query):
        page = pages[owner]
        page.total = total
        if len(page.contacts) == first:
            page.has_next = True
            continue
        page.contacts.append(contact)
        page.cursors.append(encode_cursor(fp, [contact.id]))
    past_the_end = [cid for cid, page in pages.items() if not page.contacts]
    if after_id is not None and past_the_end:
        # Pages after the last card return no rows to carry the total; count those apart.
        counts = await session.execute(
            select(own, func.count())
            .join(Contact, col(Contact.id) == other)
            .where(
                col(ContactLink.relation_id) == relation.id,
                own.in_(past_the_end),
                col(Contact.deleted_at).is_(None),
            )
            .group_by(own)
        )
        for owner, total in counts:
            pages[owner].total = total
    return pages

"""SQL expressions over custom values, and the expression indexes behind indexed fields.

One function writes the expression for both the index and the queries that filter or sort, so
the database's planner matches them: `json_extract(custom_values, '$.key')` on SQLite,
`CAST((custom_values ->> 'key') AS type)` on PostgreSQL. Keys are validated identifiers (see
KEY_RE), which is what makes it safe to write them into SQL literally; a bound parameter would
not match the index expression.

Each index is partial on its category (`WHERE category_id = N AND deleted_at IS NULL`): a key
that is unique in one category says nothing about another, and deleted cards neither block a
value nor cost index space. Queries name the category as a literal for the same reason.
"""

import re
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Numeric,
    String,
    func,
    literal_column,
    select,
    text,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType, TypeDecorator, TypeEngine
from sqlmodel import col

from models.categories import FieldDefinition, FieldType
from models.contacts import Contact
from services.errors import ErrorCode, UserFacingError
from services.values import MAX_INDEXED_LENGTH

# \A and \Z, not ^ and $: "$" would let a trailing newline through.
KEY_RE = re.compile(r"\A[a-z][a-zA-Z0-9_]{0,63}\Z")
_INDEX_NAME_RE = re.compile(r"\A(ix|uq)_cf_\d+\Z")

# PostgreSQL: (JSON type of the stored value, SQL type it is compared as).
_PG_CASTS = {
    FieldType.INTEGER: ("number", "NUMERIC"),
    FieldType.NUMBER: ("number", "NUMERIC"),
    FieldType.MONEY: ("number", "NUMERIC"),
    FieldType.RATING: ("number", "NUMERIC"),
    FieldType.BOOLEAN: ("boolean", "BOOLEAN"),
    FieldType.USER: ("number", "BIGINT"),
}


INT64 = range(-(2**63), 2**63)


class JsonNumber(TypeDecorator[Any]):
    """A number stored in JSON, compared and read back exactly.

    PostgreSQL compares NUMERIC: values are read as Decimal, and bound as the Decimal of their
    shortest decimal form (a float bound as such would be its binary expansion, and
    0.1 would not equal the stored 0.1). SQLite compares the int or double json_extract gives:
    values are read as they are, and bound as the same kind, an int only when written as one.
    """

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(NullType())  # no conversion either way

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if dialect.name == "postgresql":
            return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if isinstance(value, Decimal):
            written_as_integer = value.is_finite() and value.as_tuple().exponent == 0
            return int(value) if written_as_integer and int(value) in INT64 else float(value)
        if isinstance(value, int) and value not in INT64:
            return float(value)
        return value


_SQL_TYPES: dict[FieldType, Any] = {
    FieldType.INTEGER: JsonNumber(),
    FieldType.NUMBER: JsonNumber(),
    FieldType.MONEY: JsonNumber(),
    FieldType.RATING: JsonNumber(),
    FieldType.BOOLEAN: Boolean(),
    FieldType.USER: BigInteger(),
}


def is_custom_field_index(name: str) -> bool:
    return bool(_INDEX_NAME_RE.match(name))


def value_sql(dialect: str, key: str, field_type: FieldType, column: str) -> str:
    if not KEY_RE.match(key):
        raise ValueError(f"invalid field key {key!r}")
    if dialect == "sqlite":
        # json_extract returns native SQLite types, so numbers compare as numbers.
        return f"json_extract({column}, '$.{key}')"
    # Text, options, dates and UTC date-times (fixed width, so text order is time order) stay
    # text; numbers, booleans and user ids are cast so they compare by value. The cast is
    # guarded by the JSON type: the same key may hold text in another category, and a failing
    # cast there would break queries, index builds and ANALYZE of the whole table.
    as_text = f"({column} ->> '{key}')"
    cast = _PG_CASTS.get(field_type)
    if cast is None:
        return as_text
    json_type, sql_type = cast
    return (
        f"(CASE WHEN jsonb_typeof({column} -> '{key}') = '{json_type}' "
        f"THEN CAST({as_text} AS {sql_type}) END)"
    )


def value_expression(dialect: str, key: str, field_type: FieldType) -> ColumnElement[Any]:
    """The typed value of a custom field of `contact`, comparable and sortable in SQL.

    Typed, so that compared values are bound with the expression's type (a NUMERIC parameter
    against a NUMERIC expression is what lets PostgreSQL use the index).
    """
    sql: ColumnElement[Any] = literal_column(
        value_sql(dialect, key, field_type, "contact.custom_values")
    )
    return type_coerce(sql, _SQL_TYPES.get(field_type, String()))


def category_literal(category_id: int) -> ColumnElement[bool]:
    """`contact.category_id = N` with N written out, so partial indexes on N can match."""
    # Untyped on purpose: a Boolean-typed column would be rendered as "... = 1" on SQLite.
    condition: ColumnElement[Any] = literal_column(f"contact.category_id = {int(category_id)}")
    return cast(ColumnElement[bool], condition)


async def drop_field_index(session: AsyncSession, field_id: int) -> None:
    for prefix in ("ix", "uq"):
        await session.execute(text(f"DROP INDEX IF EXISTS {prefix}_cf_{int(field_id)}"))
    if (await session.connection()).dialect.name == "postgresql":
        await session.execute(text(f"DROP STATISTICS IF EXISTS st_cf_{int(field_id)}"))


async def create_field_index(session: AsyncSession, field: FieldDefinition) -> None:
    """(Re)create the index a field needs: unique, plain, or none (then only drop)."""
    assert field.id is not None
    await drop_field_index(session, field.id)
    if not (field.unique or field.indexed):
        return
    dialect = (await session.connection()).dialect.name
    await _refuse_values_too_long_to_index(session, dialect, field)
    expression = value_sql(dialect, field.key, FieldType(field.type), "custom_values")
    if dialect == "postgresql":
        # NULL sorts lowest everywhere (services/pagination.py); SQLite indexes already agree.
        expression += " NULLS FIRST"
    # The id makes the index cover keyset pagination (value, id) on plain indexes.
    columns = expression if field.unique else f"{expression}, id"
    kind = "UNIQUE INDEX uq" if field.unique else "INDEX ix"
    await session.execute(
        text(
            f"CREATE {kind}_cf_{int(field.id)} ON contact ({columns}) "
            f"WHERE category_id = {int(field.category_id)} AND deleted_at IS NULL"
        )
    )
    if dialect == "postgresql":
        # PostgreSQL keeps no statistics for expressions of partial indexes, and without them
        # guesses 0.5% of rows match any value: a filter on one field sorted by another then
        # sorts thousands of rows instead of walking the sort field's index. Expression
        # statistics (PostgreSQL 14+) give it the real distribution.
        plain = value_sql(dialect, field.key, FieldType(field.type), "custom_values")
        await session.execute(
            text(f"CREATE STATISTICS st_cf_{int(field.id)} ON ({plain}) FROM contact")
        )
        await session.execute(text("ANALYZE contact"))


async def _refuse_values_too_long_to_index(
    session: AsyncSession, dialect: str, field: FieldDefinition
) -> None:
    """Text longer than MAX_INDEXED_LENGTH may not fit an index entry on PostgreSQL. Cards in
    the bin count too: restoring one puts its value back into the index."""
    field_type = FieldType(field.type)
    if field_type in _PG_CASTS:
        return
    expression = value_expression(dialect, field.key, field_type)
    too_long = (
        await session.execute(
            select(func.count())
            .select_from(Contact)
            .where(
                col(Contact.category_id) == field.category_id,
                func.length(expression) > MAX_INDEXED_LENGTH,
            )
        )
    ).scalar_one()
    if too_long:
        raise UserFacingError.one(
            f"{too_long} existing value(s) of {field.key!r} are longer than "
            f"{MAX_INDEXED_LENGTH} characters, the most an indexed or unique field holds "
            "(cards in the bin included); shorten or clear them first",
            code=ErrorCode.CONFLICT,
            field=["unique" if field.unique else "indexed"],
        )


def unique_index_field_id(error_message: str) -> int | None:
    """The field whose unique index an IntegrityError names, if any."""
    match = re.search(r"uq_cf_(\d+)", error_message)
    if match:
        return int(match.group(1))
    return None

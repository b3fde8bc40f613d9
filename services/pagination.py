"""Keyset (cursor) pagination shared by every connection.

A cursor holds the sort values of a row plus a fingerprint of the ordering that produced it,
so a cursor from another list or ordering is refused instead of silently returning wrong rows.
Rows are ordered by their sort keys and finally by id, and NULL sorts below every value (first
when ascending, last when descending) on every database.

Cursors carry exact values, so that the row a cursor was made from compares equal to it: numbers
as their exact decimal form (an integer as an integer, a double as its shortest decimal), never
rounded to a double on the way.
"""

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

from sqlalchemy import (
    CompoundSelect,
    Select,
    and_,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Mapped, aliased
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.sql.selectable import Subquery

from services.errors import BadRequestError
from services.ids import MAX_PRIMARY_KEY

DEFAULT_PAGE_SIZE = 20
SCOPE_COLUMN = "scope_owner_id"
M = TypeVar("M")
# Far above the longest cursor a page can produce (five text sort values of up to 2,048
# characters each), far below what would cost noticeable work to refuse.
MAX_CURSOR_LENGTH = 100_000
# Decimal numbers in cursors: within what PostgreSQL's NUMERIC binds.
MAX_CURSOR_DIGITS = 5000
MIN_CURSOR_EXPONENT = -1000


@dataclass(frozen=True)
class PageRequest:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def checked(self, max_size: int) -> "PageRequest":
        if self.first is not None and self.last is not None:
            raise BadRequestError("Pass either first or last, not both", "INVALID_PAGE")
        if (self.first is not None and self.before) or (self.last is not None and self.after):
            raise BadRequestError("Use first with after, and last with before", "INVALID_PAGE")
        for name in ("first", "last"):
            size = getattr(self, name)
            if size is not None and not 0 <= size <= max_size:
                raise BadRequestError(
                    f"{name} must be between 0 and {max_size}, got {size}", "INVALID_PAGE"
                )
        return self

    @property
    def backwards(self) -> bool:
        return self.last is not None or (self.before is not None and self.first is None)

    @property
    def size(self) -> int:
        size = self.last if self.backwards else self.first
        return DEFAULT_PAGE_SIZE if size is None else size

    @property
    def cursor(self) -> str | None:
        return self.before if self.backwards else self.after


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY term. `nullable` terms get NULL-aware comparisons; `kind` is the Python
    type of its values (what a cursor must carry for it): str, bool, datetime, int for ids,
    Decimal for numbers."""

    expression: ColumnElement[Any] | Mapped[Any]
    descending: bool = False
    nullable: bool = False
    kind: type = str


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def encode_cursor(fp: str, values: Sequence[Any]) -> str:
    """Datetimes as ISO 8601, Decimals as their exact string; ints and doubles stay JSON
    numbers, which Python writes exactly (a double as its shortest round-tripping form)."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps({"f": fp, "v": plain}, separators=(",", ":"), default=str, ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _invalid(cursor: str) -> BadRequestError:
    shown = cursor if len(cursor) <= 80 else cursor[:80] + "…"
    return BadRequestError(f"{shown!r} is not a valid cursor", "INVALID_CURSOR")


def decode_cursor(cursor: str, fp: str, keys: Sequence[SortKey]) -> list[Any]:
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise _invalid(cursor)
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
        data = json.loads(raw.decode("utf-8"))
        values = data["v"]
        matches = data["f"] == fp and isinstance(values, list) and len(values) == len(keys)
    except (ValueError, KeyError, TypeError, RecursionError):
        # ValueError covers bad base64, bad UTF-8 and bad JSON; RecursionError deep nesting.
        raise _invalid(cursor) from None
    if not matches:
        raise BadRequestError(
            "The cursor belongs to another list or ordering; start again without it",
            "INVALID_CURSOR",
        )
    try:
        return [_value_of(key, v) for key, v in zip(keys, values, strict=True)]
    except (ValueError, TypeError, ArithmeticError):
        raise _invalid(cursor) from None


def _value_of(key: SortKey, value: Any) -> Any:
    """A cursor value checked against its key's kind (cursors are client input): of the right
    type, and within what the databases bind."""
    if value is None:
        if not key.nullable:
            raise ValueError("a cursor value is missing")
        return None
    if isinstance(value, bool) != (key.kind is bool):
        raise TypeError("a cursor value has the wrong type")
    if key.kind is Decimal:
        return _number(value)
    if key.kind is int and isinstance(value, int):
        if not 0 < value <= MAX_PRIMARY_KEY:
            raise ValueError("an id in a cursor is out of range")
        return value
    if key.kind is datetime and isinstance(value, str):
        return _datetime(value)
    if key.kind is str and isinstance(value, str):
        return _text(value)
    if key.kind is bool and isinstance(value, bool):
        return value
    raise TypeError("a cursor value has the wrong type")


def _number(value: Any) -> Decimal:
    """A sort value of a numeric field: an exact decimal string, or a JSON number."""
    if isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, int | str):
        number = Decimal(value)  # InvalidOperation, an ArithmeticError, on garbage
    else:
        raise TypeError("a cursor value has the wrong type")
    if number.is_nan():
        raise ValueError("a number in a cursor is not a number")
    if number.is_finite():
        digits, exponent = number.as_tuple().digits, number.as_tuple().exponent
        if (
            len(digits) > MAX_CURSOR_DIGITS
            or number.adjusted() > MAX_CURSOR_DIGITS
            or int(exponent) < MIN_CURSOR_EXPONENT
        ):
            raise ValueError("a number in a cursor is out of range")
    return number


def _text(value: str) -> str:
    """Text the databases can bind: no NUL character, no lone surrogate."""
    if "\x00" in value:
        raise ValueError("a cursor value holds a NUL character")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("a cursor value is not valid Unicode") from None
    return value


def _datetime(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("a date-time in a cursor has no time zone")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("a date-time in a cursor is out of range") from None


def order_by(keys: Sequence[SortKey], *, reverse: bool, dialect: str) -> list[UnaryExpression[Any]]:
    terms = []
    for key in keys:
        descending = key.descending != reverse
        term = key.expression.desc() if descending else key.expression.asc()
        if key.nullable and dialect == "postgresql":
            # SQLite already puts NULL first ascending and last descending.
            term = term.nulls_last() if descending else term.nulls_first()
        terms.append(term)
    return terms


def after_condition(
    keys: Sequence[SortKey], values: Sequence[Any], *, reverse: bool
) -> ColumnElement[bool]:
    """Rows strictly after `values` in the (possibly reversed) order of `keys`."""
    directions = [key.descending != reverse for key in keys]
    simple = len(set(directions)) == 1 and all(v is not None for v in values)
    if simple and not (directions[0] and any(k.nullable for k in keys)):
        # One row-value comparison, which both databases turn into an index range scan.
        row = tuple_(*(k.expression for k in keys))
        cursor = tuple_(*(_bound(k, v) for k, v in zip(keys, values, strict=True)))
        return row < cursor if directions[0] else row > cursor
    alternatives = []
    for i, (key, value) in enumerate(zip(keys, values, strict=True)):
        equal_before = [_equals(k, v) for k, v in zip(keys[:i], values[:i], strict=True)]
        alternatives.append(and_(*equal_before, _beyond(key, value, directions[i])))
    return or_(*alternatives)


def _bound(key: SortKey, value: Any) -> Any:
    # An explicit parameter: comparing with a bare True/False would be refused by SQLAlchemy.
    return literal(value, cast(ColumnElement[Any], key.expression).type)


def _equals(key: SortKey, value: Any) -> ColumnElement[bool]:
    return key.expression.is_(None) if value is None else key.expression == _bound(key, value)


def _beyond(key: SortKey, value: Any, descending: bool) -> ColumnElement[bool]:
    expression = key.expression
    if value is None:
        # NULL is the smallest value: ascending, every non-NULL value follows it; descending,
        # nothing does.
        return expression.is_not(None) if not descending else false()
    if descending:
        before: ColumnElement[bool] = expression < _bound(key, value)
        return or_(before, expression.is_(None)) if key.nullable else before
    after: ColumnElement[bool] = expression > _bound(key, value)
    return after


def first_rows_per_owner(
    model: type[M],
    owner: ColumnElement[Any] | Mapped[Any],
    owner_ids: Sequence[int],
    where: Sequence[ColumnElement[bool]],
    order: Sequence[UnaryExpression[Any]],
    limit: int,
) -> Select[M]:
    """The first `limit` rows of each owner (a card), in one statement: a UNION ALL of one
    small query per owner, each walking the owner's index and stopping at `limit`. (A window
    function over all owners' rows would number every row of a card with thousands.)"""
    scopes = {owner_id: owner == owner_id for owner_id in owner_ids}
    return select(aliased(model, _first_rows(model, scopes, where, order, limit)))


def first_rows_per_scope(
    model: type[M],
    scopes: Mapping[int, ColumnElement[bool]],
    where: Sequence[ColumnElement[bool]],
    order: Sequence[UnaryExpression[Any]],
    limit: int,
) -> Select[M, int]:
    """The first `limit` rows in each scope (the rows of a card, or all that a project room
    gathers), in one statement, each row with the id of the scope it was found in."""
    combined = _first_rows(model, scopes, where, order, limit)
    return select(aliased(model, combined), combined.c[SCOPE_COLUMN])


def _first_rows(
    model: type[Any],
    scopes: Mapping[int, ColumnElement[bool]],
    where: Sequence[ColumnElement[bool]],
    order: Sequence[UnaryExpression[Any]],
    limit: int,
) -> Subquery:
    table = cast(Any, model).__table__
    branches = [
        select(table, literal(owner_id).label(SCOPE_COLUMN))
        .where(scope, *where)
        .order_by(*order)
        .limit(limit)
        for owner_id, scope in scopes.items()
    ]
    # Each branch in a subquery of its own: SQLite takes ORDER BY and LIMIT only there.
    return union_all(*(select(branch.subquery()) for branch in branches)).subquery()


def count_per_scope(
    scopes: Mapping[int, ColumnElement[bool]], where: Sequence[ColumnElement[bool]]
) -> CompoundSelect[int, int]:
    """How many rows each scope holds, in one statement: (scope id, count) rows."""
    return union_all(
        *(
            select(literal(owner_id), func.count()).where(scope, *where)
            for owner_id, scope in scopes.items()
        )
    )

"""Keyset (cursor) pagination shared by every connection.

A cursor holds the sort values of a row plus a fingerprint of the ordering that produced it,
so a cursor from another list or ordering is refused instead of silently returning wrong rows.
Rows are ordered by their sort keys and finally by id, and NULL sorts below every value (first
when ascending, last when descending) on every database.
"""

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, false, literal, or_, tuple_
from sqlalchemy.orm import Mapped
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from services.errors import BadRequestError

DEFAULT_PAGE_SIZE = 20


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
    type of its values (what a cursor must carry for it)."""

    expression: ColumnElement[Any] | Mapped[Any]
    descending: bool = False
    nullable: bool = False
    kind: type = str


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def encode_cursor(fp: str, values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps({"f": fp, "v": plain}, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fp: str, keys: Sequence[SortKey]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
        data = json.loads(raw)
        values = data["v"]
        matches = data["f"] == fp and isinstance(values, list) and len(values) == len(keys)
    except (ValueError, KeyError, TypeError):
        raise BadRequestError(f"{cursor!r} is not a valid cursor", "INVALID_CURSOR") from None
    if not matches:
        raise BadRequestError(
            "The cursor belongs to another list or ordering; start again without it",
            "INVALID_CURSOR",
        )
    try:
        return [_value_of(key, v) for key, v in zip(keys, values, strict=True)]
    except (ValueError, TypeError):
        raise BadRequestError(f"{cursor!r} is not a valid cursor", "INVALID_CURSOR") from None


def _value_of(key: SortKey, value: Any) -> Any:
    """A cursor value checked against its key's kind (cursors are client input)."""
    if value is None:
        if not key.nullable:
            raise ValueError("a cursor value is missing")
        return None
    if key.kind is datetime:
        return datetime.fromisoformat(value)
    if key.kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if key.kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, key.kind) and (key.kind is bool or not isinstance(value, bool)):
        return value
    raise TypeError("a cursor value has the wrong type")


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
        row, cursor = tuple_(*(k.expression for k in keys)), tuple_(*values)
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

"""Validation of custom field values: the one place that knows what each FieldType accepts.

`coerce` turns a value from the API into its stored JSON form or raises `ValueError` with a
message that a person can act on; `present` turns a stored value back into its API form.

Limits that hold on every database: integers stay within what a JSON client keeps exactly
(±(2^53 - 1)); NUMBER values are finite doubles (a larger JSON integer is kept as the nearest
double, as a JSON client would read it); text of indexed and unique fields fits any index.
Patterns run on RE2, whose matching time grows linearly with the text.
"""

import functools
import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import re2

from models.categories import FieldDefinition, FieldType
from services.errors import BadRequestError
from services.ids import decode_id, encode_id

TEXT_TYPES = {FieldType.TEXT, FieldType.LONG_TEXT, FieldType.EMAIL, FieldType.PHONE, FieldType.URL}
NUMERIC_TYPES = {FieldType.INTEGER, FieldType.NUMBER, FieldType.MONEY, FieldType.RATING}
# Types whose stored values are searched by `contacts(search:)`.
SEARCHABLE_TYPES = TEXT_TYPES | {FieldType.SELECT}
# Types that cannot be indexed or unique: arrays and long free text.
UNINDEXABLE_TYPES = {FieldType.MULTI_SELECT, FieldType.LONG_TEXT}
NOT_UNIQUE_TYPES = UNINDEXABLE_TYPES | {FieldType.BOOLEAN}

MAX_LENGTH = {FieldType.TEXT: 1000, FieldType.LONG_TEXT: 100_000}
DEFAULT_MAX_LENGTH = 2048
# Indexed and unique text fits a PostgreSQL btree entry (about 2,700 bytes) even when every
# character takes four bytes in UTF-8.
MAX_INDEXED_LENGTH = 500
# The largest integer a JSON client (an IEEE double) keeps exactly.
MAX_SAFE_INTEGER = 2**53 - 1
RATING_DEFAULT_MAX = 5
MONEY_DECIMALS = 2

MAX_EMAIL_LENGTH = 320
PHONE_RE = re.compile(r"\+?[0-9 ()./-]{3,40}")
# Amounts keep two exact decimals as JSON numbers (IEEE doubles) below this.
MONEY_LIMIT = 10**13


def is_email(text: str) -> bool:
    """local@domain.tld, checked without regular expressions (no backtracking on long input)."""
    if len(text) > MAX_EMAIL_LENGTH or text.count("@") != 1 or any(c.isspace() for c in text):
        return False
    local, domain = text.split("@")
    labels = domain.split(".")
    return 0 < len(local) <= 64 and len(labels) >= 2 and all(labels)


def is_phone(text: str) -> bool:
    return bool(PHONE_RE.fullmatch(text)) and sum(c.isdigit() for c in text) >= 3


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _expect_string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_describe(value)}")
    return value


def _expect_number(value: Any, *, integer: bool) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(
            f"expected {'an integer' if integer else 'a number'}, got {_describe(value)}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("expected a finite number")
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"expected an integer, got {value}")
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(
                f"must be an integer between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}, "
                f"got {_shorten(str(value))}"
            )
        return int(value)
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        # A double, as JSON clients read it: sorting and comparing then agree everywhere.
        try:
            return float(value)
        except OverflowError:
            raise ValueError("is too large for a number") from None
    return value


def parse_date(value: Any) -> date:
    text = _expect_string(value)
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def parse_datetime(value: Any) -> datetime:
    text = _expect_string(value)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"expected an ISO 8601 date-time such as 2026-03-01T09:30:00Z, got {text!r}"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"the date-time {text!r} needs a time zone, for example Z or +01:00")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"the date-time {text!r} is out of range") from None


def to_utc(value: datetime) -> datetime:
    """An aware date-time in UTC, or ValueError when that lies beyond the calendar (year 9999
    late in the day west of Greenwich, year 1 early in the day east of it)."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"The date-time {value.isoformat()} is out of range") from None


# The moments a value or a due date may hold: those that fall within years 1 to 9999 in every
# time zone, so that any report or export can show them as a local time.
EARLIEST_MOMENT = datetime(1, 1, 2, tzinfo=UTC)
LATEST_MOMENT = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)


def storable(moment: datetime) -> datetime:
    """The moment (in UTC), or ValueError when it is too near the calendar's ends."""
    if not EARLIEST_MOMENT <= moment <= LATEST_MOMENT:
        raise ValueError(
            f"{format_datetime(moment)} is out of range: give a date-time from 0001-01-02 "
            "to 9999-12-30 (UTC)"
        )
    return moment


def format_datetime(value: datetime) -> str:
    # One fixed width (isoformat pads the year to four digits) so stored strings sort in time
    # order.
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _coerce_money(value: Any) -> int | float:
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"expected an amount such as 1250.50, got {value!r}") from None
    else:
        amount = Decimal(str(_expect_number(value, integer=False)))
    if not amount.is_finite():
        raise ValueError("expected a finite amount")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MONEY_DECIMALS:
        raise ValueError(f"an amount has at most {MONEY_DECIMALS} decimals, got {value}")
    if abs(amount) >= MONEY_LIMIT:
        raise ValueError(f"an amount must be below {MONEY_LIMIT:,}")
    return int(amount) if amount == amount.to_integral_value() else float(amount)


@functools.lru_cache(maxsize=128)
def _compiled(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _unsupported(pattern: str, problem: str) -> str:
    """Why RE2 refuses a pattern, in words an admin can act on."""
    if any(f"\\{digit}" in problem for digit in "123456789") or "(?P=" in pattern:
        return "backreferences such as \\1 are not supported"
    if "(?=" in problem or "(?!" in problem:
        return "lookahead such as (?=...) is not supported"
    if "(?<=" in problem or "(?<!" in problem:
        return "lookbehind such as (?<=...) is not supported"
    if problem.startswith("bad repetition operator") and problem.endswith("+"):
        return "possessive quantifiers such as a++ are not supported"
    if "\\Z" in problem:
        return "write \\z, not \\Z, for the end of the text"
    return problem


def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 form of a validation pattern (cached), or ValueError saying why not."""
    try:
        return _compiled(pattern)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else ""
        problem = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        raise ValueError(
            f"{_unsupported(pattern, problem)} (patterns run on RE2, which takes linear time "
            "and has no backreferences or lookaround)"
        ) from None


def _check_pattern(pattern: str, text: str) -> None:
    try:
        compiled = compile_pattern(pattern)
    except ValueError as exc:
        # A pattern stored before patterns ran on RE2.
        raise ValueError(
            f"cannot be checked, because the field's pattern {pattern} cannot be used: {exc}. "
            "An admin must change the field's pattern"
        ) from None
    if not compiled.fullmatch(text):
        raise ValueError(f"does not match the pattern {pattern}")


def _check_text(definition: FieldDefinition, text: str) -> str:
    rules = definition.validation or {}
    field_type = FieldType(definition.type)
    hard_max = MAX_LENGTH.get(field_type, DEFAULT_MAX_LENGTH)
    if len(text) > hard_max:
        raise ValueError(f"is longer than {hard_max} characters")
    if (definition.indexed or definition.unique) and len(text) > MAX_INDEXED_LENGTH:
        raise ValueError(
            f"is longer than {MAX_INDEXED_LENGTH} characters, the most an indexed or unique "
            "field holds"
        )
    if (min_length := rules.get("minLength")) is not None and len(text) < min_length:
        raise ValueError(f"must be at least {min_length} characters long")
    if (max_length := rules.get("maxLength")) is not None and len(text) > max_length:
        raise ValueError(f"must be at most {max_length} characters long")
    if (pattern := rules.get("pattern")) is not None:
        _check_pattern(pattern, text)
    return text


def _check_range(definition: FieldDefinition, value: Any, shown: Any = None) -> None:
    rules = definition.validation or {}
    shown = value if shown is None else shown
    low, high = rules.get("min"), rules.get("max")
    if FieldType(definition.type) == FieldType.RATING:
        low = 1 if low is None else low
        high = RATING_DEFAULT_MAX if high is None else high
    if low is not None and value < low:
        raise ValueError(f"must be at least {low}, got {shown}")
    if high is not None and value > high:
        raise ValueError(f"must be at most {high}, got {shown}")


def _option_values(definition: FieldDefinition) -> list[str]:
    return [option["value"] for option in definition.options or []]


def _coerce_option(definition: FieldDefinition, value: Any) -> str:
    text = _expect_string(value)
    allowed = _option_values(definition)
    if text not in allowed:
        raise ValueError(f"{text!r} is not one of the options: {', '.join(allowed)}")
    return text


def coerce(definition: FieldDefinition, value: Any) -> Any:
    """Validate one non-null API value against its definition; return the stored form."""
    field_type = FieldType(definition.type)
    match field_type:
        case FieldType.TEXT | FieldType.LONG_TEXT:
            return _check_text(definition, _expect_string(value))
        case FieldType.EMAIL:
            text = _expect_string(value).strip()
            if not is_email(text):
                raise ValueError(f"{_shorten(text)!r} is not an e-mail address")
            return _check_text(definition, text)
        case FieldType.PHONE:
            text = _expect_string(value).strip()
            if not is_phone(text):
                raise ValueError(f"{_shorten(text)!r} is not a phone number")
            return _check_text(definition, text)
        case FieldType.URL:
            text = _expect_string(value).strip()
            parts = urlsplit(text)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"{_shorten(text)!r} is not an http(s) URL")
            return _check_text(definition, text)
        case FieldType.INTEGER | FieldType.RATING:
            number = _expect_number(value, integer=True)
            _check_range(definition, number)
            return number
        case FieldType.NUMBER:
            number = _expect_number(value, integer=False)
            _check_range(definition, number)
            return number
        case FieldType.MONEY:
            amount = _coerce_money(value)
            _check_range(definition, amount)
            return amount
        case FieldType.BOOLEAN:
            if not isinstance(value, bool):
                raise ValueError(f"expected true or false, got {_describe(value)}")
            return value
        case FieldType.DATE:
            day = parse_date(value)
            rules = definition.validation or {}
            bounds = {k: parse_date(rules[k]) for k in ("min", "max") if rules.get(k) is not None}
            if "min" in bounds and day < bounds["min"]:
                raise ValueError(f"must be on or after {bounds['min']}")
            if "max" in bounds and day > bounds["max"]:
                raise ValueError(f"must be on or before {bounds['max']}")
            return day.isoformat()
        case FieldType.DATETIME:
            return format_datetime(storable(parse_datetime(value)))
        case FieldType.SELECT:
            return _coerce_option(definition, value)
        case FieldType.MULTI_SELECT:
            if not isinstance(value, list):
                raise ValueError(f"expected a list of options, got {_describe(value)}")
            chosen = [_coerce_option(definition, item) for item in value]
            if len(set(chosen)) != len(chosen):
                raise ValueError("lists an option more than once")
            return chosen
        case FieldType.USER:
            # A user's global ID; services/contacts.py checks that the user exists.
            try:
                return decode_id(_expect_string(value), "User")
            except BadRequestError as exc:
                raise ValueError(str(exc)) from None
    raise AssertionError(f"unhandled field type {field_type}")  # pragma: no cover


def coerce_operand(definition: FieldDefinition, value: Any) -> Any:
    """A value to compare a field with in a filter: of the field's type, in stored form, but not
    held to the rules for written values (`lt: 1000` on a field whose max is 100 is a fine
    question, and so is `gte: "m"` on an e-mail field)."""
    field_type = FieldType(definition.type)
    match field_type:
        case FieldType.TEXT | FieldType.LONG_TEXT | FieldType.EMAIL | FieldType.PHONE:
            return _expect_string(value)
        case FieldType.URL:
            return _expect_string(value)
        case FieldType.INTEGER | FieldType.RATING:
            return _expect_number(value, integer=True)
        case FieldType.NUMBER:
            return _expect_number(value, integer=False)
        case FieldType.MONEY:
            return _coerce_money(value)
        case FieldType.DATE:
            return parse_date(value).isoformat()
        case FieldType.DATETIME:  # any moment of the calendar, in range for values or not
            return format_datetime(parse_datetime(value))
        case _:
            return coerce(definition, value)


def _shorten(text: str, limit: int = 80) -> str:
    """Long input is named by its start in messages."""
    return text if len(text) <= limit else text[:limit] + "…"


def present(definition: FieldDefinition, stored: Any) -> Any:
    """The API form of a stored value."""
    if stored is None:
        return None
    field_type = FieldType(definition.type)
    if field_type == FieldType.USER:
        return encode_id("User", int(stored))
    if (
        field_type == FieldType.NUMBER
        and isinstance(stored, int)
        and abs(stored) > MAX_SAFE_INTEGER
    ):
        # PostgreSQL's JSONB gives back 1e+30 as 1000...0; it was stored as a double.
        return float(stored)
    return stored


def convert(stored: Any, old: FieldDefinition, new: FieldDefinition) -> Any:
    """Convert a stored value to a changed field type, or raise ValueError if it cannot."""
    value = present(old, stored)
    new_type = FieldType(new.type)
    if new_type in TEXT_TYPES and not isinstance(value, str):
        if isinstance(value, list):
            raise ValueError("a list cannot become text")
        value = ("true" if value else "false") if isinstance(value, bool) else str(value)
    elif new_type in NUMERIC_TYPES and isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise ValueError(f"{_shorten(value)!r} is not a finite number")
        if number.adjusted() > 15:
            raise ValueError(f"{_shorten(value)!r} is too large")
        value = int(number) if number == number.to_integral_value() else float(number)
    elif new_type == FieldType.MULTI_SELECT and isinstance(value, str):
        value = [value]
    elif new_type == FieldType.SELECT and isinstance(value, list):
        if len(value) != 1:
            raise ValueError("only a single chosen option can become a SELECT value")
        value = value[0]
    elif new_type == FieldType.DATE and isinstance(value, str) and len(value) > 10:
        value = parse_datetime(value).date().isoformat()
    return coerce(new, value)

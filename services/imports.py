"""Importing contact cards from a CSV or XLSX file.

A preview reads the file's header and first rows and suggests which column goes to which
field. An import is asked for with a mapping (column -> field), a mode and optionally a unique
field to update cards by (`upsertOn`); it is saved PENDING with its file in storage, and a
worker (services/import_runner.py) runs it, row by row through the same validation as the API
(services/contacts.py), reporting every bad row by line and column:
- ALL_OR_NOTHING checks every row first, writing nothing, then writes them all in one short
  transaction if none has a problem;
- SKIP_INVALID writes a batch of rows per transaction, with the progress made (so a restarted
  worker goes on after the last batch that landed), and leaves bad rows out.
The file is read as it goes, never held whole (services/spreadsheets/reading.py).
"""

import asyncio
import contextlib
import re
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.categories import FieldDefinition, FieldType
from models.contacts import Contact
from models.imports import ContactImport
from models.users import User
from services.contacts import CategoryShape
from services.errors import ErrorCode, Problem, UserFacingError
from services.field_index import category_literal, value_expression
from services.ids import encode_id
from services.spreadsheets import SheetFormat
from services.spreadsheets.reading import (
    SheetReader,
    SheetReadError,
    SheetRow,
    open_sheet,
)
from services.storage import Storage
from services.values import coerce

PREVIEW_ROWS = 10
MAX_ERRORS = 1000  # kept per import; error_count counts them all
MAX_MAPPING = 500

# A card's own fields a column may go to, by API names, with their attributes and labels.
DETAILS: dict[str, tuple[str, str]] = {
    "name": ("name", "Name"),
    "orgNumber": ("org_number", "Org number"),
    "email": ("email", "Email"),
    "phone": ("phone", "Phone"),
    "website": ("website", "Website"),
    "address.street": ("address_street", "Street"),
    "address.postalCode": ("address_postal_code", "Postal code"),
    "address.city": ("address_city", "City"),
    "address.region": ("address_region", "Region"),
    "address.country": ("address_country", "Country"),
}
_TRUE = frozenset({"true", "yes", "y", "1", "x"})
_FALSE = frozenset({"false", "no", "n", "0"})


@dataclass(frozen=True)
class ReadingOptions:
    """How to read a file; None: detect it."""

    format: SheetFormat | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet_name: str | None = None

    def data(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "sheetName": self.sheet_name,
        }

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> "ReadingOptions":
        found = data.get("format")
        return cls(
            SheetFormat(found) if found else None,
            data.get("encoding"),
            data.get("delimiter"),
            data.get("sheetName"),
        )


@dataclass(frozen=True)
class ColumnMapping:
    column: str  # a header of the file
    field: str  # a custom field's key, or a detail's API name (DETAILS)


# --- the file ----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def local_copy(storage: Storage, key: str) -> AsyncIterator[Path]:
    """The stored file as a local file (the readers seek in it), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="crm-import-") as directory:
        path = Path(directory) / "file"
        reader = await storage.open(key)
        try:
            with path.open("wb") as out:
                async for chunk in reader.chunks():
                    await asyncio.to_thread(out.write, chunk)
        finally:
            await reader.close()
        yield path


def open_checked(path: Path, options: ReadingOptions) -> SheetReader:
    """The file opened as a sheet, or a UserFacingError naming what is wrong with it."""
    try:
        return open_sheet(
            path,
            format=options.format,
            encoding=options.encoding,
            delimiter=options.delimiter,
            sheet_name=options.sheet_name,
        )
    except SheetReadError as exc:
        raise unreadable(exc) from None


def unreadable(exc: SheetReadError) -> UserFacingError:
    """The reader's problem (its message names the line or cell) as the import's."""
    field = {
        "UNKNOWN_ENCODING": "encoding",
        "BAD_DELIMITER": "delimiter",
        "NO_SUCH_SHEET": "sheetName",
        "FORMAT_MISMATCH": "format",
    }.get(exc.code, "file")
    return UserFacingError.one(exc.message, field=[field])


# --- the preview -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    format: SheetFormat
    encoding: str | None
    delimiter: str | None
    sheet_name: str | None
    sheet_names: tuple[str, ...]
    header: tuple[str, ...]
    rows: list[tuple[int, list[str | None]]]  # line, cells as text
    suggested: list[ColumnMapping]


def read_preview(path: Path, options: ReadingOptions, fields: Sequence[FieldDefinition]) -> Preview:
    """The file's header and first rows, and a mapping suggested from the header (blocking)."""
    with open_checked(path, options) as sheet:
        rows = []
        try:
            for row in sheet.rows():
                rows.append((row.line, [_as_text(cell) for cell in row.cells]))
                if len(rows) == PREVIEW_ROWS:
                    break
        except SheetReadError as exc:
            raise unreadable(exc) from None
        return Preview(
            sheet.format,
            sheet.encoding,
            sheet.delimiter,
            sheet.sheet_name,
            sheet.sheet_names,
            sheet.header,
            rows,
            suggest(sheet.header, fields),
        )


def _normal(name: str) -> str:
    """A header or label compared loosely: case, spacing, punctuation and a trailing
    "(EUR)" or "(Europe/Oslo)" as an export writes them do not matter."""
    name = re.sub(r"\s*\([^)]*\)\s*$", "", name)
    return re.sub(r"[\W_]+", "", name.casefold())


def _repeated(header: Sequence[str]) -> dict[str, list[int]]:
    """Headers that more than one column has, with those columns (numbered from 1)."""
    columns: dict[str, list[int]] = {}
    for number, name in enumerate(header, start=1):
        if name:
            columns.setdefault(name, []).append(number)
    return {name: numbers for name, numbers in columns.items() if len(numbers) > 1}


def suggest(header: Sequence[str], fields: Sequence[FieldDefinition]) -> list[ColumnMapping]:
    """Each column whose header names a field (its label or key) or a card's own detail,
    once per field, in the file's order; headers that name a key in brackets first."""
    keys = {f.key for f in fields if f.archived_at is None}
    targets: dict[str, str] = {}
    for api_name, (_, label) in DETAILS.items():
        if api_name not in keys:  # a custom field of that key takes the name in a mapping
            targets.setdefault(_normal(label), api_name)
            targets.setdefault(_normal(api_name), api_name)
    for definition in fields:
        if definition.archived_at is None:
            targets.setdefault(_normal(definition.label), definition.key)
            targets.setdefault(_normal(definition.key), definition.key)
    repeated = _repeated(header)
    usable = [column for column in header if column and column not in repeated]
    chosen: dict[str, str] = {}  # column -> field
    # An export names a field's key too where its label is also another header's.
    for column in usable:
        keyed = re.search(r"\[(\w+)\]\s*$", column)
        if keyed is not None and keyed.group(1) in keys and keyed.group(1) not in chosen.values():
            chosen[column] = keyed.group(1)
    for column in usable:
        target = targets.get(_normal(column))
        if column not in chosen and target is not None and target not in chosen.values():
            chosen[column] = target
    return [ColumnMapping(column, chosen[column]) for column in usable if column in chosen]


# --- checking an import before it runs ----------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a column goes: a detail (`attribute` of the card) or a custom field."""

    column: str
    index: int
    api_name: str
    attribute: str | None = None
    definition: FieldDefinition | None = None


def check_mapping(
    header: Sequence[str],
    mapping: Sequence[ColumnMapping],
    fields: Sequence[FieldDefinition],
    upsert_on: str | None,
) -> list[Target]:
    """The mapping against the file's header and the category's fields: every problem at
    once, each naming the mapping entry (or upsertOn) it is about."""
    problems: list[Problem] = []
    active = {f.key: f for f in fields if f.archived_at is None}
    positions = {name: i for i, name in reversed(list(enumerate(header))) if name}
    targets: list[Target] = []
    seen: dict[str, int] = {}
    if len(mapping) > MAX_MAPPING:
        raise UserFacingError.one(f"Map at most {MAX_MAPPING} columns", field=["mapping"])
    repeated = _repeated(header)
    for i, entry in enumerate(mapping):
        if entry.column in repeated:
            problems.append(
                Problem(
                    f"The file has {len(repeated[entry.column])} columns named "
                    f"{entry.column!r} (columns "
                    + ", ".join(str(n) for n in repeated[entry.column])
                    + "): rename them so each can be mapped",
                    ErrorCode.CONFLICT,
                    ("mapping", str(i), "column"),
                )
            )
            continue
        if entry.column not in positions:
            problems.append(
                Problem(
                    f"The file has no column {entry.column!r}; its columns are "
                    + ", ".join(repr(name) for name in header if name),
                    ErrorCode.NOT_FOUND,
                    ("mapping", str(i), "column"),
                )
            )
            continue
        if entry.field in seen:
            problems.append(
                Problem(
                    f"{entry.field} is mapped twice (entries {seen[entry.field]} and {i})",
                    ErrorCode.DUPLICATE,
                    ("mapping", str(i), "field"),
                )
            )
            continue
        seen[entry.field] = i
        index = positions[entry.column]
        if entry.field in active:
            targets.append(Target(entry.column, index, entry.field, definition=active[entry.field]))
        elif entry.field in DETAILS:
            targets.append(Target(entry.column, index, entry.field, DETAILS[entry.field][0]))
        else:
            archived = any(f.key == entry.field for f in fields)
            problems.append(
                Problem(
                    f"The field {entry.field} is archived"
                    if archived
                    else f"There is no field {entry.field!r}: map a column to a custom field's "
                    "key or to " + ", ".join(DETAILS),
                    ErrorCode.ARCHIVED if archived else ErrorCode.UNKNOWN_FIELD,
                    ("mapping", str(i), "field"),
                )
            )
    if upsert_on is not None:
        definition = active.get(upsert_on)
        if definition is None or not definition.unique:
            problems.append(
                Problem(
                    f"upsertOn takes a unique custom field; {upsert_on!r} is not one",
                    ErrorCode.INVALID,
                    ("upsertOn",),
                )
            )
        elif upsert_on not in seen:
            problems.append(
                Problem(
                    f"Map a column to {upsert_on} to update cards by it",
                    ErrorCode.REQUIRED,
                    ("upsertOn",),
                )
            )
    elif not problems:
        # New cards need their name and every required field without a default.
        missing = [] if "name" in seen else ["name"]
        missing += [
            f.key
            for f in active.values()
            if f.required and f.default_value is None and f.key not in seen
        ]
        if missing:
            problems.append(
                Problem(
                    "Required fields have no column: " + ", ".join(missing),
                    ErrorCode.REQUIRED,
                    ("mapping",),
                )
            )
    if problems:
        raise UserFacingError(problems)
    return targets


# --- reading a row ------------------------------------------------------------------------------


def _as_text(cell: Any) -> str | None:
    """A cell as the text a person sees in it."""
    if cell is None:
        return None
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float):
        return str(int(cell)) if cell.is_integer() and abs(cell) < 1e15 else repr(cell)
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ")
    if isinstance(cell, date | time):
        return cell.isoformat()
    text = str(cell).strip()
    return text or None


def _number(cell: Any, *, integer: bool) -> int | float:
    if isinstance(cell, bool):
        raise ValueError(f"expected a number, got {cell}")
    if isinstance(cell, int):
        return cell
    if isinstance(cell, float):
        if integer and not cell.is_integer():
            raise ValueError(f"expected a whole number, got {cell!r}")
        return int(cell) if integer else cell
    text = str(cell).strip().replace("\u00a0", "").replace(" ", "")
    # A decimal comma (1,5) is read as a point when the text has no point.
    if "," in text and "." not in text and text.count(",") == 1:
        text = text.replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        kind = "a whole number" if integer else "a number"
        raise ValueError(f"expected {kind}, got {text[:40]!r}") from None
    if not number.is_finite():
        raise ValueError(f"expected a number, got {text[:40]!r}")
    if integer:
        if number != number.to_integral_value():
            raise ValueError(f"expected a whole number, got {text[:40]!r}")
        return int(number)
    return float(number)


def _day(cell: Any) -> str:
    if isinstance(cell, datetime):
        if cell.time() != time():
            raise ValueError(f"expected a date, got a time of day ({cell})")
        return cell.date().isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    text = str(cell).strip()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"expected a date as YYYY-MM-DD, got {text[:40]!r}") from None


def _moment(cell: Any, zone: ZoneInfo) -> str:
    """A date and time: with its offset as written, or else in the import's time zone."""
    if isinstance(cell, datetime):
        moment = cell
    elif isinstance(cell, date):
        moment = datetime.combine(cell, time())
    else:
        text = str(cell).strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"expected a date and time as YYYY-MM-DD HH:MM[:SS][+HH:MM], got {text[:40]!r}"
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def _option(definition: FieldDefinition, text: str) -> str:
    """An option by its value or label, in any case."""
    wanted = text.strip().casefold()
    for option in definition.options or []:
        if wanted in (str(option["value"]).casefold(), str(option.get("label") or "").casefold()):
            return str(option["value"])
    choices = ", ".join(str(o.get("label") or o["value"]) for o in definition.options or [])
    raise ValueError(f"{text[:40]!r} is not one of the options ({choices})")


class RowReader:
    """Turns a file's row into a card's details and custom values in the API's form, and each
    unreadable cell into a problem naming its column."""

    def __init__(self, targets: Sequence[Target], users: Mapping[str, int], zone: ZoneInfo):
        self.targets = targets
        self.users = users  # e-mail addresses and names, casefolded, to user IDs
        self.zone = zone
        self.columns = {t.api_name: t.column for t in targets}

    def read(
        self, row: SheetRow
    ) -> tuple[dict[str, Any], dict[str, Any], list[tuple[str, str, str]]]:
        """(details, values, problems as (column, field, message)); empty cells are left out."""
        details: dict[str, Any] = {}
        values: dict[str, Any] = {}
        problems: list[tuple[str, str, str]] = []
        for target in self.targets:
            cell = row.cells[target.index] if target.index < len(row.cells) else None
            if cell is None or (isinstance(cell, str) and not cell.strip()):
                continue
            try:
                if target.attribute is not None:
                    details[target.attribute] = _as_text(cell)
                else:
                    assert target.definition is not None
                    values[target.api_name] = self._value(target.definition, cell)
            except ValueError as exc:
                problems.append((target.column, target.api_name, str(exc)))
        return details, values, problems

    def _value(self, definition: FieldDefinition, cell: Any) -> Any:
        field_type = FieldType(definition.type)
        match field_type:
            case FieldType.INTEGER | FieldType.RATING:
                return _number(cell, integer=True)
            case FieldType.NUMBER | FieldType.MONEY:
                return _number(cell, integer=False)
            case FieldType.BOOLEAN:
                if isinstance(cell, bool):
                    return cell
                text = str(cell).strip().casefold()
                if text in _TRUE or text in _FALSE:
                    return text in _TRUE
                raise ValueError(f"expected yes or no (true/false, 1/0), got {text[:40]!r}")
            case FieldType.DATE:
                return _day(cell)
            case FieldType.DATETIME:
                return _moment(cell, self.zone)
            case FieldType.SELECT:
                return _option(definition, str(_as_text(cell)))
            case FieldType.MULTI_SELECT:
                parts = [p for p in re.split(r"[,;]", str(_as_text(cell))) if p.strip()]
                return [_option(definition, part) for part in parts]
            case FieldType.USER:
                text = str(_as_text(cell))
                user_id = self.users.get(text.strip().casefold())
                if user_id is None:
                    raise ValueError(f"no active user has the e-mail address or name {text!r}")
                return encode_id("User", user_id)
        return _as_text(cell)


async def user_lookup(session: AsyncSession) -> dict[str, int]:
    """Active users by e-mail address and by name (a name two users share finds neither)."""
    query = select(col(User.id), col(User.email), col(User.name)).where(col(User.active))
    rows = (await session.execute(query)).all()
    found: dict[str, int] = {}
    shared: set[str] = set()
    for user_id, email, name in rows:
        if user_id is None:
            continue
        found[email.casefold()] = user_id
        key = (name or "").strip().casefold()
        if key:
            if key in found and found[key] != user_id:
                shared.add(key)
            found.setdefault(key, user_id)
    for key in shared:
        found.pop(key, None)
    return found


# --- a row's problems ---------------------------------------------------------------------------


@dataclass
class Progress:
    """What an import has done so far (kept on its row)."""

    rows_done: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, job: ContactImport) -> "Progress":
        return cls(
            job.rows_done,
            job.created_count,
            job.updated_count,
            job.skipped_count,
            job.error_count,
            list(job.errors),
        )

    def save(self, job: ContactImport) -> None:
        job.rows_done = self.rows_done
        job.created_count = self.created
        job.updated_count = self.updated
        job.skipped_count = self.skipped
        job.error_count = self.error_count
        job.errors = list(self.errors)

    def problem(
        self, line: int, column: str | None, field: str | None, message: str, code: str
    ) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(
                {"line": line, "column": column, "field": field, "message": message, "code": code}
            )


def problem_field(problem: Problem) -> str | None:
    """The API name a service's problem is about: ("values", key) -> key, a detail's path
    joined ("address", "city") -> address.city."""
    path = problem.field or ()
    if len(path) >= 2 and path[0] == "values":
        return path[1]
    return ".".join(path) or None


# --- writing a row ------------------------------------------------------------------------------


async def card_to_update(
    session: AsyncSession, shape: CategoryShape, key: str, value: Any
) -> int | None:
    """The card of the category (not in the bin) whose unique `key` holds `value`."""
    definition = shape.by_key[key]
    stored = coerce(definition, value)
    dialect = (await session.connection()).dialect.name
    expression = value_expression(dialect, key, FieldType(definition.type))
    found = await session.execute(
        select(col(Contact.id))
        .where(
            category_literal(shape.category.id or 0),
            col(Contact.deleted_at).is_(None),
            expression == stored,
        )
        .limit(1)
    )
    return found.scalar_one_or_none()


async def taken_values(
    session: AsyncSession, shape: CategoryShape, key: str, values: Sequence[Any]
) -> set[Any]:
    """Which of these stored values of a unique field cards of the category hold already."""
    definition = shape.by_key[key]
    dialect = (await session.connection()).dialect.name
    expression = value_expression(dialect, key, FieldType(definition.type))
    found = await session.execute(
        select(expression).where(
            category_literal(shape.category.id or 0),
            col(Contact.deleted_at).is_(None),
            expression.in_(set(values)),
        )
    )
    return set(found.scalars())

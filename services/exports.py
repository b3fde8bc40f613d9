"""Exports: a category's cards (as its filtered, searched and sorted list shows them) or a
report of its statistics, as CSV or XLSX.

Asking for an export saves the request (checked, so a bad filter is refused at once) and hands
back a short-lived signed link to the download route. The file is written when it is
downloaded, from the data as it is then: cards are read a page at a time, each page in a
session of its own (no connection is held while the client reads), and go through the sheet
writer, which keeps memory constant whatever the number of cards.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import anyio
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from models.categories import Category, FieldDefinition, FieldType
from models.contacts import Contact
from models.exports import Export, ExportFormat, ExportKind
from models.types import utcnow
from models.users import User
from services import reports
from services.auth import Viewer
from services.categories import fields_of, get_category
from services.contact_query import (
    ContactCondition,
    Ordering,
    find_contacts,
    ordered_contact_ids,
)
from services.errors import BadRequestError, ErrorCode, UserFacingError, not_found
from services.filter_data import condition_from_data, condition_to_data
from services.pagination import PageRequest
from services.spreadsheets import SheetFormat
from services.spreadsheets.writing import Cell, Column, ColumnKind, sheet_writer

# Cards read (and written out) at a time.
PAGE_SIZE = 1000
_P = ParamSpec("_P")
_T = TypeVar("_T")

_MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Where a report request's problems are, by the error's code.
_REPORT_FIELDS = {
    "INVALID_PERIOD": "from",
    "INVALID_TIME_ZONE": "timeZone",
    "NOT_FOUND": "statisticIds",
}


# --- asking for an export ----------------------------------------------------------------------


@dataclass(frozen=True)
class ContactsRequest:
    condition: ContactCondition | None = None
    search: str | None = None
    ordering: Sequence[Ordering] = ()

    def parameters(self) -> dict[str, Any]:
        return {
            "filter": condition_to_data(self.condition) if self.condition is not None else None,
            "search": self.search,
            "orderBy": [{"key": o.key, "descending": o.descending} for o in self.ordering],
        }

    @classmethod
    def of(cls, parameters: Mapping[str, Any]) -> "ContactsRequest":
        data = parameters.get("filter")
        return cls(
            condition=condition_from_data(data, ["filter"]) if data is not None else None,
            search=parameters.get("search"),
            ordering=[Ordering(o["key"], bool(o["descending"])) for o in parameters["orderBy"]],
        )


@dataclass(frozen=True)
class ReportExportRequest:
    statistic_ids: Sequence[int] | None = None
    start: date | None = None
    end: date | None = None

    def parameters(self) -> dict[str, Any]:
        return {
            "statisticIds": list(self.statistic_ids) if self.statistic_ids is not None else None,
            "from": self.start.isoformat() if self.start is not None else None,
            "to": self.end.isoformat() if self.end is not None else None,
        }

    @classmethod
    def of(cls, parameters: Mapping[str, Any]) -> "ReportExportRequest":
        def day(value: str | None) -> date | None:
            return date.fromisoformat(value) if value is not None else None

        return cls(parameters["statisticIds"], day(parameters["from"]), day(parameters["to"]))

    def report(self, export: Export, viewer_id: int) -> reports.ReportRequest:
        return reports.ReportRequest(
            category_id=export.category_id,
            statistic_ids=self.statistic_ids,
            start=self.start,
            end=self.end,
            zone=export.time_zone,
            viewer_id=viewer_id,
        )


async def create_export(
    session: AsyncSession,
    *,
    viewer: Viewer,
    category_id: int,
    sheet_format: ExportFormat,
    request: ContactsRequest | ReportExportRequest,
    zone: str,
    ttl_seconds: int,
) -> Export:
    """Save a checked export request, valid for `ttl_seconds` (its link's life)."""
    try:
        reports.check_zone(zone)
    except BadRequestError as exc:
        raise UserFacingError.one(str(exc), field=["timeZone"]) from None
    await get_category(session, category_id)
    now = utcnow()
    export = Export(
        kind=ExportKind.CONTACTS if isinstance(request, ContactsRequest) else ExportKind.REPORT,
        format=sheet_format,
        category_id=category_id,
        parameters=request.parameters(),
        time_zone=zone,
        created_by_id=viewer.id,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    if isinstance(request, ContactsRequest):
        # The first card is looked for: what the list would refuse is refused now.
        await find_contacts(
            session,
            category_id=category_id,
            fields=await fields_of(session, [category_id]),
            condition=request.condition,
            search=request.search,
            ordering=request.ordering,
            page=PageRequest(first=1),
        )
    else:
        try:
            await reports.report_statistics(session, request.report(export, viewer.id))
        except BadRequestError as exc:
            field = _REPORT_FIELDS.get(exc.code)
            raise UserFacingError.one(
                str(exc), field=[field] if field else None, code=ErrorCode.INVALID
            ) from None
    # Requests whose links have expired are of no more use.
    await session.execute(delete(Export).where(col(Export.expires_at) < now))
    session.add(export)
    await session.flush()
    return export


# --- writing it --------------------------------------------------------------------------------


@dataclass
class ExportFile:
    """A file being written: its name and type, and its bytes as they come."""

    name: str
    media_type: str
    chunks: AsyncIterator[bytes]


async def open_export(
    session_factory: async_sessionmaker[AsyncSession], *, export_id: int, viewer_id: int
) -> ExportFile:
    """Check the export (a missing one is NotFound; what no longer holds, such as a filter on
    a field since archived, a UserFacingError) and read its first part before the first byte
    is sent, so that such problems are answered as errors rather than as a broken file."""
    async with session_factory() as session:
        export = await session.get(Export, export_id)
        if export is None:
            raise not_found("The export")
        category = await get_category(session, export.category_id)
        name = file_name(category, export)
        sheet_format = SheetFormat(export.format)
        if export.kind == ExportKind.REPORT:
            request = ReportExportRequest.of(export.parameters)
            found = await reports.run_report(session, request.report(export, viewer_id))
            columns, table = _report_table(found, ZoneInfo(export.time_zone))
            return ExportFile(
                name,
                _MEDIA_TYPES[ExportFormat(export.format)],
                _written(sheet_format, "Report", columns, _once(table)),
            )
        contacts = ContactsRequest.of(export.parameters)
        fields = await fields_of(session, [export.category_id])
        sheet = _CardSheet(
            [f for f in fields if f.archived_at is None],
            await _user_names(session),
            ZoneInfo(export.time_zone),
        )
        # The cards to export are the ones that match now, in their order now, so that a card
        # changed while the file downloads is written once (with its values when its page is
        # read) rather than twice or not at all.
        ids = await ordered_contact_ids(
            session,
            category_id=export.category_id,
            fields=fields,
            condition=contacts.condition,
            search=contacts.search,
            ordering=contacts.ordering,
        )
        try:
            first = await _page(session, export.category_id, sheet.shape, ids[:PAGE_SIZE])
        except ExportOutdatedError as exc:
            raise UserFacingError.one(str(exc)) from None
    pages = _card_pages(session_factory, export.category_id, sheet.shape, ids, first)
    rows = _mapped(pages, sheet.row)
    return ExportFile(
        name,
        _MEDIA_TYPES[ExportFormat(export.format)],
        _written(sheet_format, category.name, sheet.columns, rows),
    )


def file_name(category: Category, export: Export) -> str:
    """What the file is called: the category's key, what it holds and the day it was asked."""
    day = export.created_at.astimezone(ZoneInfo(export.time_zone)).date().isoformat()
    what = category.key if export.kind == ExportKind.CONTACTS else f"{category.key}-report"
    return f"{what}-{day}.{export.format.lower()}"


async def _once(rows: list[list[Cell]]) -> AsyncIterator[list[list[Cell]]]:
    yield rows


async def _mapped(
    pages: AsyncIterator[list[Contact]], row: Callable[[Contact], list[Cell]]
) -> AsyncIterator[list[list[Cell]]]:
    async for page in pages:
        yield [row(contact) for contact in page]


async def _written(
    sheet_format: SheetFormat,
    sheet_name: str,
    columns: Sequence[Column],
    pages: AsyncIterator[list[list[Cell]]],
) -> AsyncIterator[bytes]:
    """The file's bytes as pages of rows go through the writer (in a thread: a page of an
    XLSX sheet takes milliseconds of CPU that the event loop should not wait for)."""
    writer = sheet_writer(sheet_format, sheet_name=sheet_name, columns=columns)
    try:
        async for page in pages:
            written = await _in_thread(writer.write_rows, page)
            if written:
                yield written
        rest: Iterator[bytes] = await _in_thread(writer.finish)
        while chunk := await _in_thread(next, rest, b""):
            yield chunk
    finally:
        writer.close()


async def _in_thread(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """`function` in a thread; a download cancelled meanwhile (the client left) waits for it
    to return, so the writer is not closed under it (its temporary files removed while the
    thread writes to them)."""
    running = asyncio.ensure_future(asyncio.to_thread(function, *args, **kwargs))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        # Starlette stops a download through an anyio cancel scope, which cancels the task
        # again at every turn of the loop: shield the wait from it, and from a second cancel.
        with anyio.CancelScope(shield=True):
            while not running.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([running])
        raise


# --- cards -------------------------------------------------------------------------------------


async def _cards_of(session: AsyncSession, ids: Sequence[int]) -> list[Contact]:
    """The cards of these IDs not in the bin, in the order of the IDs."""
    if not ids:
        return []
    found = await session.scalars(
        select(Contact).where(col(Contact.id).in_(list(ids)), col(Contact.deleted_at).is_(None))
    )
    by_id = {contact.id: contact for contact in found}
    return [by_id[i] for i in ids if i in by_id]


class ExportOutdatedError(Exception):
    """The category's fields changed type while the file was written: its header and its
    first rows no longer describe the values that follow."""


async def _card_pages(
    session_factory: async_sessionmaker[AsyncSession],
    category_id: int,
    shape: dict[str, tuple[str, str | None]],
    ids: Sequence[int],
    first: list[Contact],
) -> AsyncIterator[list[Contact]]:
    yield first
    for start in range(PAGE_SIZE, len(ids), PAGE_SIZE):
        async with session_factory() as session:
            page = await _page(session, category_id, shape, ids[start : start + PAGE_SIZE])
        yield page


async def _page(
    session: AsyncSession,
    category_id: int,
    shape: dict[str, tuple[str, str | None]],
    ids: Sequence[int],
) -> list[Contact]:
    """The cards of these IDs, once the fields still are as the header describes them."""
    contacts = await _cards_of(session, ids)
    # Read after the cards, so a change of type their values already have is seen; as plain
    # rows, as the session may hold the definitions it read when the download began.
    rows = await session.execute(
        select(
            col(FieldDefinition.key), col(FieldDefinition.type), col(FieldDefinition.currency)
        ).where(col(FieldDefinition.category_id) == category_id)
    )
    now = {key: _shape(field_type, currency) for key, field_type, currency in rows.all()}
    changed = sorted(key for key, was in shape.items() if now.get(key, was) != was)
    if changed:
        raise ExportOutdatedError(
            f"The type of {', '.join(changed)} changed while the export was written"
        )
    return contacts


# Types whose values go into a column alike: a change between them changes nothing written.
_WRITTEN_ALIKE = {
    FieldType.LONG_TEXT: FieldType.TEXT,
    FieldType.EMAIL: FieldType.TEXT,
    FieldType.PHONE: FieldType.TEXT,
    FieldType.URL: FieldType.TEXT,
    FieldType.RATING: FieldType.INTEGER,
}


def _shape(field_type: str, currency: str | None) -> tuple[str, str | None]:
    """What a column's header and cells depend on: how its values are written, and the
    currency the header names."""
    written = FieldType(field_type)
    return _WRITTEN_ALIKE.get(written, written), currency if written == FieldType.MONEY else None


async def _user_names(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(select(col(User.id), col(User.name)))
    return {pk: name for pk, name in rows.all() if pk is not None}


# The card's own fields, in the order a card shows them.
_OWN: list[tuple[str, str]] = [
    ("Name", "name"),
    ("Org number", "org_number"),
    ("Email", "email"),
    ("Phone", "phone"),
    ("Website", "website"),
    ("Street", "address_street"),
    ("Postal code", "address_postal_code"),
    ("City", "address_city"),
    ("Region", "address_region"),
    ("Country", "address_country"),
]
_KINDS = {
    FieldType.INTEGER: ColumnKind.INTEGER,
    FieldType.RATING: ColumnKind.INTEGER,
    FieldType.NUMBER: ColumnKind.NUMBER,
    FieldType.MONEY: ColumnKind.MONEY,
    FieldType.BOOLEAN: ColumnKind.BOOLEAN,
    FieldType.DATE: ColumnKind.DATE,
    FieldType.DATETIME: ColumnKind.DATETIME,
}


class _CardSheet:
    """A card as a row: its own fields, its custom values typed for spreadsheets (options by
    their labels, users by name), its times in the export's time zone."""

    def __init__(
        self, fields: Sequence[FieldDefinition], users: Mapping[int, str], zone: ZoneInfo
    ) -> None:
        self.fields = list(fields)
        self.users = users
        self.zone = zone
        self.labels = {
            f.key: {o["value"]: o.get("label") or o["value"] for o in f.options or []}
            for f in self.fields
        }
        own = [Column(title) for title, _ in _OWN]
        times = [
            Column(f"Created ({zone.key})", ColumnKind.DATETIME),
            Column(f"Updated ({zone.key})", ColumnKind.DATETIME),
        ]
        # Every header names one column, so the file imports back: a field whose label is
        # already a header's (or another field's, whatever "(EUR)" follows) is named with its
        # key too.
        labels = {c.title.casefold() for c in own} | {"created", "updated"}
        custom = []
        for definition in fields:
            title = self._title(definition)
            if definition.label.casefold() in labels:
                title = f"{title} [{definition.key}]"
            labels.add(definition.label.casefold())
            kind = _KINDS.get(FieldType(definition.type), ColumnKind.TEXT)
            custom.append(Column(title, kind))
        self.columns = [*own, *custom, *times]
        self.shape = {f.key: _shape(f.type, f.currency) for f in self.fields}

    def _title(self, definition: FieldDefinition) -> str:
        field_type = FieldType(definition.type)
        if field_type == FieldType.MONEY and definition.currency:
            return f"{definition.label} ({definition.currency})"
        if field_type == FieldType.DATETIME:
            return f"{definition.label} ({self.zone.key})"
        return definition.label

    def row(self, contact: Contact) -> list[Cell]:
        values = contact.custom_values or {}
        return [
            *(getattr(contact, attribute) for _, attribute in _OWN),
            *(self._value(f, values.get(f.key)) for f in self.fields),
            self._local(contact.created_at),
            self._local(contact.updated_at),
        ]

    def _local(self, moment: datetime) -> datetime:
        return _local_time(moment, self.zone)

    def _value(self, definition: FieldDefinition, stored: Any) -> Cell:
        if stored is None:
            return None
        field_type = FieldType(definition.type)
        if field_type in (FieldType.INTEGER, FieldType.RATING):
            return int(stored)
        if field_type == FieldType.NUMBER:
            return _decimal(stored)
        if field_type == FieldType.MONEY:
            return _decimal(stored).quantize(Decimal("0.01"))
        if field_type == FieldType.BOOLEAN:
            return bool(stored)
        if field_type == FieldType.DATE:
            return date.fromisoformat(str(stored))
        if field_type == FieldType.DATETIME:
            return self._local(datetime.fromisoformat(str(stored).replace("Z", "+00:00")))
        if field_type == FieldType.SELECT:
            return str(self.labels[definition.key].get(stored, stored))
        if field_type == FieldType.MULTI_SELECT:
            labels = self.labels[definition.key]
            return ", ".join(labels.get(value, str(value)) for value in stored)
        if field_type == FieldType.USER:
            return self.users.get(int(stored), f"User {stored}")
        return str(stored)


def _decimal(value: Any) -> Decimal:
    """A stored number exactly as it was written (a double by its shortest text)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


# --- reports -----------------------------------------------------------------------------------


def _report_table(
    found: Sequence[reports.StatisticReport], zone: ZoneInfo
) -> tuple[list[Column], list[list[Cell]]]:
    """A report as one table: a row per statistic, period and group, its value as a number
    (or, for the earliest and latest of dates, as a date in a column of its own)."""
    rows: list[list[Cell]] = []
    dated: list[date | datetime | None] = []
    for part in found:
        for row in part.rows:
            period, group, cell = row.period, row.group, row.cell
            number: Cell = None
            moment: date | datetime | None = None
            if cell.value is not None and cell.number is not None:
                number = Decimal(cell.value)
            elif cell.value is not None:
                moment = _report_date(cell.value, zone)
            rows.append(
                [
                    part.statistic.name,
                    period.start if period is not None else None,
                    period.end if period is not None else None,
                    group.label if group is not None else None,
                    number,
                    cell.cards,
                ]
            )
            dated.append(moment)
    columns = [
        Column("Statistic"),
        Column("Period start", ColumnKind.DATE),
        Column("Period end", ColumnKind.DATE),
        Column("Group"),
        Column("Value", ColumnKind.NUMBER),
        Column("Count", ColumnKind.INTEGER),
    ]
    moments = [moment for moment in dated if moment is not None]
    if moments:
        # Dates stay dates unless some are moments, which then are local times.
        timed = any(isinstance(moment, datetime) for moment in moments)
        kind = ColumnKind.DATETIME if timed else ColumnKind.DATE
        title = f"Date ({zone.key})" if timed else "Date"
        columns.append(Column(title, kind))
        for cells, moment in zip(rows, dated, strict=True):
            if timed and moment is not None and not isinstance(moment, datetime):
                moment = datetime.combine(moment, datetime.min.time())
            cells.append(moment)
    return columns, rows


def _report_date(value: str, zone: ZoneInfo) -> date | datetime:
    if len(value) == len("YYYY-MM-DD"):
        return date.fromisoformat(value)
    return _local_time(datetime.fromisoformat(value.replace("Z", "+00:00")), zone)


def _local_time(moment: datetime, zone: ZoneInfo) -> datetime:
    """A moment (naive ones are UTC) as the zone's local time; in UTC when the zone would show
    it beyond the calendar's ends (a value stored before such values were refused)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        return aware.astimezone(zone).replace(tzinfo=None)
    except OverflowError:
        return aware.astimezone(UTC).replace(tzinfo=None)

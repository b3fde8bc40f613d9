"""Reports: a category's statistics computed in SQL (one GROUP BY statement per statistic),
identical on SQLite and PostgreSQL.

What makes them identical:
- sums are exact: SQL adds whole numbers only (MONEY as cents, INTEGER and RATING split in two
  halves on SQLite so its 64-bit SUM cannot overflow); NUMBER values, which may be any double,
  are added as their exact JSON text in Python on SQLite; averages are divided in Python;
- periods are computed from UTC in the report's time zone with the zone's UTC offsets over the
  report's time span written into the statement (a CASE over UTC ranges, taken from Python's
  zoneinfo), the same on both databases, weeks starting on Monday;
- groups are ordered, labelled and completed (options without cards, the "no value" group
  last) in Python, as the databases order text and NULL differently.

Statistics of to-dos and notes count those on the report's cards, with the same periods and
groups; a private note counts only in its author's report.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import lru_cache
from typing import Any, NoReturn, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    BLOB,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models.categories import FieldType
from models.contacts import Contact, ContactLink
from models.notes import Note
from models.statistics import (
    DateBucket,
    Source,
    Statistic,
    StatisticKind,
    StatisticSubject,
    TodoState,
)
from models.todos import Priority, Todo, TodoStatus
from models.types import utcnow
from models.users import User
from services.categories import get_category
from services.contact_query import card_condition
from services.contacts import resolve_direction
from services.errors import BadRequestError
from services.field_index import KEY_RE, category_literal, value_sql
from services.filter_data import condition_from_data
from services.notes import visible_to
from services.statistics import BUILT_INS, CategoryShape, named_keys, shape_of

MAX_ROWS = 10_000  # per statistic: periods times groups
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)  # what `from` and `to` may be
TWO_32 = 2**32

# The card's own columns a statistic may name, by their API names.
_COLUMNS = {
    "name": "name",
    "orgNumber": "org_number",
    "email": "email",
    "phone": "phone",
    "website": "website",
    "city": "address_city",
    "country": "address_country",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
}
_NUMERIC = {FieldType.INTEGER, FieldType.NUMBER, FieldType.MONEY, FieldType.RATING}


# --- what a report holds -----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date  # in the report's time zone
    end: date  # its last day

    @property
    def label(self) -> str:
        return self.start.isoformat()


@dataclass(frozen=True)
class Group:
    key: str | None  # None: the cards without a value
    label: str
    color: str | None = None
    node_type: str | None = None  # "User", "Contact": `key` is the primary key of one


@dataclass(frozen=True)
class Cell:
    value: str | None  # exact: a decimal, an integer, an ISO date or date-time; None: no value
    number: float | None  # the same as a number, for charts (None for dates)
    cards: int


@dataclass(frozen=True)
class Row:
    period: Period | None
    group: Group | None
    cell: Cell


@dataclass
class StatisticReport:
    statistic: Statistic
    rows: list[Row] = field(default_factory=list)


@dataclass(frozen=True)
class ReportRequest:
    category_id: int
    statistic_ids: Sequence[int] | None  # None: all of the category's
    start: date | None  # first day, in `zone`
    end: date | None  # last day, in `zone`
    zone: str
    viewer_id: int  # who reads it: their private notes count
    now: datetime = field(default_factory=utcnow)  # what is overdue is so at this moment


def check_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequestError(
            f"{name!r} is not a time zone such as Europe/Oslo", "INVALID_TIME_ZONE"
        ) from None


# --- running -----------------------------------------------------------------------------------


async def report_statistics(session: AsyncSession, request: ReportRequest) -> list[Statistic]:
    """The statistics a report runs, in their order, once its request is checked."""
    if request.start is not None and request.end is not None and request.end < request.start:
        raise BadRequestError("`to` is before `from`", "INVALID_PERIOD")
    for day in (request.start, request.end):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise BadRequestError(
                f"`from` and `to` are days from {FIRST_DAY} to {LAST_DAY}", "INVALID_PERIOD"
            )
    check_zone(request.zone)
    await get_category(session, request.category_id)
    query = select(Statistic).where(col(Statistic.category_id) == request.category_id)
    if request.statistic_ids is not None:
        query = query.where(col(Statistic.id).in_(request.statistic_ids))
    statistics = list(
        (await session.execute(query.order_by(col(Statistic.position), col(Statistic.id))))
        .scalars()
        .all()
    )
    if request.statistic_ids is not None and len(statistics) != len(set(request.statistic_ids)):
        raise BadRequestError(
            "statisticIds names a statistic that is not one of this category's",
            "NOT_FOUND",
        )
    return statistics


async def run_report(session: AsyncSession, request: ReportRequest) -> list[StatisticReport]:
    statistics = await report_statistics(session, request)
    zone = check_zone(request.zone)
    shape = await shape_of(session, request.category_id)
    dialect = (await session.connection()).dialect.name
    of_cards = [s for s in statistics if s.subject == StatisticSubject.CARDS]
    # To-dos and notes are joined to their cards where the cards are stored.
    contacts = _contact_cards(dialect, shape, statistics)
    if dialect == "sqlite" and of_cards:
        cards = await _gather_cards(session, shape, of_cards)
    else:
        cards = contacts
    try:
        computations = [
            _Computation(session, cards, s, request, zone)
            if s.subject == StatisticSubject.CARDS
            else _ActivityComputation(session, contacts, s, request, zone)
            for s in statistics
        ]
        return await _computed(session, computations)
    finally:
        if cards.gathered:
            await session.execute(text(f"DROP TABLE IF EXISTS temp.{GATHERED}"))


@dataclass(frozen=True)
class _Grouping:
    """A statistic's statement without its aggregates: statistics whose groupings are the same
    statement (the same cards, periods and groups: a count and a sum per segment) share one."""

    query: Any  # SELECT period, group ... GROUP BY period, group
    aggregates: list[Any]

    def key(self, dialect: Any) -> tuple[str, str]:
        compiled = self.query.compile(dialect=dialect)
        return str(compiled), repr(sorted(compiled.params.items()))


async def _computed(
    session: AsyncSession, computations: Sequence["_Computation"]
) -> list[StatisticReport]:
    """Each statistic's rows, statistics of the same grouping computed by one statement."""
    dialect = (await session.connection()).dialect
    shared: dict[tuple[str, str], list[tuple[int, _Grouping]]] = {}
    found: dict[int, list[Any]] = {}
    for position, computation in enumerate(computations):
        grouping = await computation.grouping()
        if grouping is None:
            found[position] = []
        else:
            shared.setdefault(grouping.key(dialect), []).append((position, grouping))
    for members in shared.values():
        query = members[0][1].query.add_columns(*(a for _, g in members for a in g.aggregates))
        rows = (await session.execute(query)).all()
        start = 2
        for position, grouping in members:
            end = start + len(grouping.aggregates)
            found[position] = [(row[0], row[1], *row[start:end]) for row in rows]
            start = end
    return [
        StatisticReport(computation.statistic, await computation.rows(found[position]))
        for position, computation in enumerate(computations)
    ]


# --- where a report reads its cards -------------------------------------------------------------

GATHERED = "report_cards"


@dataclass(frozen=True)
class _Cards:
    """The cards a report reads: a table with the card's own columns, and for each statistic
    the conditions that pick its cards; and how a custom value is read from it, as SQL."""

    dialect: str
    shape: CategoryShape
    table: Any
    picked: dict[int | None, list[ColumnElement[bool]]]
    gathered: bool  # the SQLite table of the report's cards, one column per custom value
    columns: dict[str, str] = field(default_factory=dict)  # its column for each custom key

    def own(self, column: str) -> str:
        return f"{self.table.name}.{column}"

    def _stored(self, key: str) -> str:
        return f"{self.table.name}.{self.columns[key]}"

    def value(self, key: str, field_type: FieldType) -> str:
        """A custom value, comparable and sortable (as services.field_index reads them)."""
        if self.gathered:
            stored = self._stored(key)
            return f"CAST({stored} AS REAL)" if field_type == FieldType.NUMBER else stored
        return value_sql(self.dialect, key, field_type, self.own("custom_values"))

    def present(self, key: str, field_type: FieldType) -> str:
        """Whether the card has a value (an empty MULTI_SELECT has none)."""
        if field_type != FieldType.MULTI_SELECT:
            return f"{self.value(key, field_type)} IS NOT NULL"
        if self.gathered:
            return f"json_array_length({self._stored(key)}) > 0"
        values = self.own("custom_values")
        return (
            f"(jsonb_typeof({values} -> '{key}') = 'array' AND "
            f"jsonb_array_length({values} -> '{key}') > 0)"
        )

    def options(self, key: str) -> str:
        """A MULTI_SELECT value as a JSON array (NULL when it is none)."""
        if self.gathered:
            return self._stored(key)
        values = self.own("custom_values")
        return f"CASE WHEN jsonb_typeof({values} -> '{key}') = 'array' THEN {values} -> '{key}' END"

    def flag(self, key: str) -> str:
        """A BOOLEAN value as 'true' or 'false'."""
        if self.gathered:
            return self._stored(key)
        values = self.own("custom_values")
        return (
            f"CASE WHEN jsonb_typeof({values} -> '{key}') = 'boolean' THEN {values} ->> '{key}' END"
        )

    def exact(self, key: str) -> str:
        """A NUMBER value's JSON text, to add up exactly (SQLite)."""
        return self._stored(key)


def _contact_cards(dialect: str, shape: CategoryShape, statistics: list[Statistic]) -> _Cards:
    """PostgreSQL reads `contact` itself: its JSONB values are cheap to read again."""
    base = [category_literal(shape.category_id), col(Contact.deleted_at).is_(None)]
    picked: dict[int | None, list[ColumnElement[bool]]] = {}
    for statistic in statistics:
        condition = _filter(dialect, shape, statistic)
        picked[statistic.id] = [*base, condition] if condition is not None else base
    return _Cards(dialect, shape, Contact.__table__, picked, gathered=False)  # type: ignore[attr-defined]


def _filter(dialect: str, shape: CategoryShape, statistic: Statistic) -> ColumnElement[bool] | None:
    if statistic.filter is None:
        return None
    return card_condition(dialect, shape.fields, condition_from_data(statistic.filter, ["filter"]))


def _gathered_value(key: str, field_type: FieldType) -> str:
    """How a custom value is kept in the gathered table, read once from the card's JSON."""
    values = "contact.custom_values"
    if field_type == FieldType.BOOLEAN:
        return (
            f"CASE json_type({values}, '$.{key}') WHEN 'true' THEN 'true' "
            "WHEN 'false' THEN 'false' END"
        )
    if field_type == FieldType.NUMBER:
        return f"{values} -> '$.{key}'"  # its exact JSON text
    if field_type == FieldType.MULTI_SELECT:
        return (
            f"CASE WHEN json_type({values}, '$.{key}') = 'array' "
            f"THEN json_extract({values}, '$.{key}') END"
        )
    return f"json_extract({values}, '$.{key}')"


async def _gather_cards(
    session: AsyncSession, shape: CategoryShape, statistics: list[Statistic]
) -> _Cards:
    """On SQLite each reading of a JSON value costs about a microsecond and a half per card,
    the most of a statistic's time: the report's cards go once into a temporary table with a
    column per custom value its statistics use and, per statistic with a filter, whether the
    filter holds; its statistics then read plain columns."""
    types = {f.key: FieldType(f.type) for f in shape.fields}
    named = [named for statistic in statistics for named in named_keys(statistic)]
    used = sorted({key for key, source in named if source == Source.FIELD and KEY_RE.match(key)})
    columns = {key: f"value_{position}" for position, key in enumerate(used)}
    filters = {
        statistic.id: condition
        for statistic in statistics
        if (condition := _filter("sqlite", shape, statistic)) is not None
    }
    # The card's own columns they name, and its creation time (what from and to keep).
    own = sorted(
        {_COLUMNS[key] for key, source in named if source == Source.BUILT_IN} | {"created_at"}
    )
    table = Table(
        GATHERED,
        MetaData(),
        Column("id", Integer),
        *(Column(name, String) for name in own),
        # Declared BLOB: SQLite then keeps each value as it is (numbers compare as numbers);
        # named by position, as SQLite's names ignore case and keys need not.
        *(Column(columns[key], BLOB) for key in used),
        *(Column(f"picked_{statistic_id}", Integer) for statistic_id in filters),
        prefixes=["TEMPORARY"],
    )
    query: Any = select(
        col(Contact.id),
        *(literal_column(f"contact.{name}") for name in own),
        *(literal_column(_gathered_value(key, types[key])) for key in used),
        *(case((condition, 1), else_=0) for condition in filters.values()),
    ).where(await _category_scan(session, shape.category_id), col(Contact.deleted_at).is_(None))
    await session.execute(text(f"DROP TABLE IF EXISTS temp.{GATHERED}"))
    await session.run_sync(lambda sync: table.create(sync.connection()))
    await session.execute(insert(table).from_select([c.name for c in table.columns], query))
    picked: dict[int | None, list[ColumnElement[bool]]] = {
        statistic.id: [table.c[f"picked_{statistic.id}"] == 1] if statistic.id in filters else []
        for statistic in statistics
    }
    return _Cards("sqlite", shape, table, picked, gathered=True, columns=columns)


async def _category_scan(session: AsyncSession, category_id: int) -> ColumnElement[bool]:
    """The condition that picks the category's cards for reading them all. Through the
    category's index SQLite looks each card up in the table (220 ms for 100,000 cards); reading
    the table in order takes half that, and is the faster way once the category holds half of
    the cards (`+` keeps SQLite from using the index)."""
    total, own = (
        await session.execute(
            text(
                "SELECT (SELECT count(*) FROM contact), "
                "(SELECT count(*) FROM contact WHERE category_id = :category)"
            ),
            {"category": category_id},
        )
    ).one()
    if 2 * own < total:
        return category_literal(category_id)
    condition: ColumnElement[Any] = literal_column(f"+contact.category_id = {int(category_id)}")
    return cast(ColumnElement[bool], condition)


class _Computation:
    """One statistic of a report: its statement, and its rows from what that returns."""

    def __init__(
        self,
        session: AsyncSession,
        cards: _Cards,
        statistic: Statistic,
        request: ReportRequest,
        zone: ZoneInfo,
    ) -> None:
        self.session = session
        self.cards = cards
        self.dialect = cards.dialect
        self.shape = cards.shape
        self.statistic = statistic
        self.request = request
        self.zone = zone
        self.kind = StatisticKind(statistic.kind)
        self.fields = {f.key: f for f in self.shape.fields}

    # --- the values it reads ------------------------------------------------------------

    def _key(self, key: str) -> str:
        """A custom field's key, safe to write into SQL (keys are checked when fields are
        made; this keeps it so)."""
        if not KEY_RE.match(key):
            raise ValueError(f"invalid field key {key!r}")
        return key

    def _type(self, key: str, source: str | None) -> FieldType:
        if source == Source.BUILT_IN:
            return BUILT_INS[key]
        return FieldType(self.fields[key].type)

    def _sql(self, key: str, source: str | None) -> str:
        """The value of a built-in or custom field as SQL text."""
        if source == Source.BUILT_IN:
            return self.cards.own(_COLUMNS[key])
        return self.cards.value(self._key(key), self._type(key, source))

    def _present(self, key: str, source: str | None) -> str:
        """SQL that holds when the card has a value (an empty MULTI_SELECT has none)."""
        if source == Source.BUILT_IN:
            return f"{self._sql(key, source)} IS NOT NULL"
        return self.cards.present(self._key(key), self._type(key, source))

    # --- the date a statistic is about (its periods, and the report's span) ---------------

    def _date_key(self) -> tuple[str, str | None]:
        if self.statistic.bucket is not None and self.statistic.bucket_on is not None:
            return self.statistic.bucket_on, self.statistic.bucket_source
        return "createdAt", Source.BUILT_IN

    def _bounds(self) -> tuple[datetime | None, datetime | None]:
        """`from` and `to` as UTC instants: the start of the first day, and the start of the
        day after the last."""
        start, end = self.request.start, self.request.end
        return (
            _midnight(start, self.zone) if start is not None else None,
            _midnight(end + timedelta(days=1), self.zone) if end is not None else None,
        )

    def _span_condition(self) -> ColumnElement[bool] | None:
        key, source = self._date_key()
        start, end = self.request.start, self.request.end
        if start is None and end is None:
            return None
        sql = self._sql(key, source)
        terms = []
        if self._type(key, source) == FieldType.DATE:
            if start is not None:
                terms.append(f"{sql} >= '{start.isoformat()}'")
            if end is not None:
                terms.append(f"{sql} <= '{end.isoformat()}'")
        else:
            low, high = self._bounds()
            instant = self._instant_literal(key, source)
            if low is not None:
                terms.append(f"{sql} >= {instant(low)}")
            if high is not None:
                terms.append(f"{sql} < {instant(high)}")
        condition: ColumnElement[bool] = literal_column(" AND ".join(terms)).self_group()
        return condition

    def _instant_literal(self, key: str, source: str | None) -> Any:
        """How an instant is written to compare with the date's SQL."""
        if source == Source.BUILT_IN:  # createdAt, updatedAt
            if self.dialect == "sqlite":
                return lambda t: t.astimezone(UTC).strftime("'%Y-%m-%d %H:%M:%S'")
            return lambda t: t.astimezone(UTC).strftime("TIMESTAMPTZ '%Y-%m-%d %H:%M:%S+00'")
        return lambda t: t.astimezone(UTC).strftime("'%Y-%m-%dT%H:%M:%SZ'")  # DATETIME values

    async def _period_sql(self, where: list[ColumnElement[bool]]) -> str | None:
        """The start of a card's period as 'YYYY-MM-DD' text, in the report's time zone."""
        bucket = self.statistic.bucket
        if bucket is None:
            return None
        key, source = self._date_key()
        sql = self._sql(key, source)
        if self._type(key, source) == FieldType.DATE:
            return _truncated(self.dialect, DateBucket(bucket), sql, is_date=True)
        low, high = self._bounds()
        if low is None or high is None:
            found = await self._data_span(sql, where)
            if found is None:
                return None
            low, high = low or found[0], high or found[1]
        offsets = _offsets(self.zone.key, *_offset_years(low, high))
        offset = _offset_sql(sql, self._instant_literal(key, source), offsets)
        if self.dialect == "sqlite":
            # Whole seconds first: SQLite rounds a time to the millisecond, which moved
            # 23:59:59.9995 (and a day's end, as dueDate keeps it) into the next day.
            local = f"datetime(substr({sql}, 1, 19), {offset} || ' seconds')"
        else:
            utc = (
                f"({sql} AT TIME ZONE 'UTC')"
                if source == Source.BUILT_IN
                else f"(CAST({sql} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"
            )
            local = f"({utc} + {offset} * INTERVAL '1 second')"
        return _truncated(self.dialect, DateBucket(bucket), local, is_date=False)

    async def _data_span(
        self, sql: str, where: list[ColumnElement[bool]]
    ) -> tuple[datetime, datetime] | None:
        found: Any = (
            await self.session.execute(
                select(func.min(literal_column(sql)), func.max(literal_column(sql)))
                .select_from(self._from())
                .where(*where)
            )
        ).one()
        if found[0] is None:
            return None
        low, high = (_as_instant(value) for value in found)
        return low, high

    # --- the statement --------------------------------------------------------------------

    def _from(self) -> Any:
        """What its rows are read from."""
        return self.cards.table

    def _picked(self) -> list[ColumnElement[bool]]:
        """The conditions that pick its rows."""
        return list(self.cards.picked[self.statistic.id])

    async def grouping(self) -> "_Grouping | None":
        """The rows its statement groups and what it aggregates in them; None when it has no
        rows at all (periods of a date no card has)."""
        statistic = self.statistic
        # Periods that the request alone makes too many are refused before any reading.
        bounded = statistic.bucket is not None and self.request.start and self.request.end
        if bounded and len(self._periods(set())) > MAX_ROWS:
            self._too_many_rows()
        where = self._picked()
        if (span := self._span_condition()) is not None:
            where.append(span)
        period = await self._period_sql(where)
        if statistic.bucket is not None and period is None:
            return None
        source: Any = self._from()
        if statistic.group_source == Source.RELATION and statistic.group_by is not None:
            source = source.outerjoin(
                await self._links(statistic.group_by),
                literal_column("report_link.own_id") == self.cards.table.c.id,
            )
        group_sql, source = self._group(source)
        query: Any = (
            select(
                literal_column(period or "NULL").label("report_period"),
                literal_column(group_sql).label("report_group"),
            )
            .select_from(source)
            .where(*where)
            .group_by(literal_column("report_period"), literal_column("report_group"))
        )
        return _Grouping(query, self._aggregates())

    async def rows(self, found: Sequence[Sequence[Any]]) -> list[Row]:
        """Its rows from what its statement returned: (period, group, *its aggregates)."""
        cells = {(row[0], _group_key(row[1])): self._cell(row[2:]) for row in found}
        return await self._completed(cells)

    async def _links(self, relation_key: str) -> Any:
        """The relation's links as (own_id, related_id), seen from this category."""
        direction = await resolve_direction(self.session, self.shape.category_id, relation_key)
        own, related = col(ContactLink.from_contact_id), col(ContactLink.to_contact_id)
        if not direction.forward:
            own, related = related, own
        # A related card in the bin is no card's relative, as everywhere else.
        present = select(col(Contact.id)).where(col(Contact.deleted_at).is_(None))
        return (
            select(own.label("own_id"), related.label("related_id"))
            .where(
                col(ContactLink.relation_id) == direction.relation.id,
                related.in_(present.scalar_subquery()),
            )
            .subquery("report_link")
        )

    def _group(self, source: Any) -> tuple[str, Any]:
        statistic = self.statistic
        key, where = statistic.group_by, statistic.group_source
        if key is None:
            return "NULL", source
        if where == Source.BUILT_IN:
            return self.cards.own(_COLUMNS[key]), source
        if where == Source.RELATION:
            return "report_link.related_id", source  # joined in rows()
        field_type = self._type(key, where)
        key = self._key(key)
        if field_type == FieldType.MULTI_SELECT:
            options: Any = literal_column(self.cards.options(key))
            if self.dialect == "sqlite":
                chosen: Any = func.json_each(options).table_valued("value").alias("report_option")
            else:
                chosen = (
                    func.jsonb_array_elements_text(options)
                    .table_valued("value")
                    .lateral("report_option")
                )
            return "report_option.value", source.outerjoin(chosen, true())
        if field_type == FieldType.BOOLEAN:
            return self.cards.flag(key), source
        return self._sql(key, where), source

    def _aggregates(self) -> list[Any]:
        """The aggregates its kind needs, after the period and the group."""
        statistic, kind = self.statistic, self.kind
        cards: Any = literal_column("COUNT(*)")
        if kind == StatisticKind.COUNT:
            return [cards]
        key, where = statistic.field_key, statistic.field_source
        assert key is not None
        present = self._present(key, where)
        counted: Any = literal_column(f"COUNT(CASE WHEN {present} THEN 1 END)")
        sql = self._sql(key, where)
        if kind in (StatisticKind.COUNT_EMPTY, StatisticKind.COUNT_NOT_EMPTY):
            return [cards, counted]
        if kind == StatisticKind.COUNT_DISTINCT:
            return [cards, literal_column(f"COUNT(DISTINCT {sql})")]
        if kind in (StatisticKind.MIN, StatisticKind.MAX):
            return [cards, literal_column(f"{kind.value}({sql})")]
        field_type = self._type(key, where)
        if self.dialect != "sqlite":
            return [cards, counted, literal_column(f"SUM({sql})")]
        if field_type == FieldType.MONEY:
            # Cents, added in two halves like whole numbers below.
            cents = f"CAST(ROUND({sql} * 100) AS INTEGER)"
            return [
                cards,
                counted,
                literal_column(f"SUM({cents} / {TWO_32})"),
                literal_column(f"SUM({cents} % {TWO_32})"),
            ]
        if field_type == FieldType.NUMBER:
            # Each value's exact JSON text, added up in Python (_exact_sum).
            exact = self.cards.exact(self._key(key))
            return [
                cards,
                counted,
                literal_column(f"group_concat(CASE WHEN {present} THEN {exact} END, ' ')"),
            ]
        # INTEGER and RATING: whole numbers, added in two halves that cannot overflow.
        return [
            cards,
            counted,
            literal_column(f"SUM({sql} / {TWO_32})"),
            literal_column(f"SUM({sql} % {TWO_32})"),
        ]

    def _cell(self, values: Sequence[Any]) -> Cell:
        kind = self.kind
        cards = int(values[0])
        if kind == StatisticKind.COUNT:
            return _count(cards, cards)
        if kind == StatisticKind.COUNT_NOT_EMPTY:
            return _count(int(values[1]), cards)
        if kind == StatisticKind.COUNT_EMPTY:
            return _count(cards - int(values[1]), cards)
        if kind == StatisticKind.COUNT_DISTINCT:
            return _count(int(values[1]), cards)
        key, where = self.statistic.field_key, self.statistic.field_source
        assert key is not None
        field_type = self._type(key, where)
        if kind in (StatisticKind.MIN, StatisticKind.MAX):
            return _extreme(values[1], field_type, cards)
        counted = int(values[1])
        if counted == 0:
            return Cell(None, None, cards)
        total = self._exact_sum(field_type, values[2:])
        if kind == StatisticKind.SUM:
            return _number(total, field_type, cards)
        with localcontext() as context:
            context.prec = 1600
            average = total / counted
        return _number(average, field_type, cards, average=True)

    def _exact_sum(self, field_type: FieldType, values: Sequence[Any]) -> Decimal:
        if self.dialect != "sqlite":
            return Decimal(values[0])
        if field_type == FieldType.MONEY:
            high, low = values
            return Decimal(int(high) * TWO_32 + int(low)).scaleb(-2)
        if field_type == FieldType.NUMBER:
            with localcontext() as context:
                context.prec = 1600  # beyond the digits of any double: every addition is exact
                return sum((Decimal(text) for text in str(values[0]).split()), Decimal(0))
        high, low = values
        return Decimal(int(high) * TWO_32 + int(low))

    # --- rows in order, with the periods and groups that have no cards --------------------

    async def _completed(self, cells: dict[tuple[str | None, str | None], Cell]) -> list[Row]:
        periods = self._periods({period for period, _ in cells})
        found_groups = {group for _, group in cells}
        if len(periods) * len(found_groups) > MAX_ROWS:
            self._too_many_rows()
        groups = await self._groups(found_groups)
        if len(periods) * len(groups) > MAX_ROWS:
            self._too_many_rows()
        empty = self._empty()
        rows = []
        for period in periods:
            period_key = period.label if period is not None else None
            for group in groups:
                group_key = group.key if group is not None else None
                cell = cells.get((period_key, group_key))
                if cell is None:
                    if group is not None and group.key is None:
                        continue  # the "no value" group only where it has cards
                    cell = empty
                rows.append(Row(period, group, cell))
        return rows

    def _too_many_rows(self) -> NoReturn:
        raise BadRequestError(
            f"The statistic “{self.statistic.name}” would have more than {MAX_ROWS:,} rows; "
            "choose a shorter period or a longer bucket",
            "TOO_MANY_ROWS",
        )

    def _empty(self) -> Cell:
        if self.kind in (
            StatisticKind.COUNT,
            StatisticKind.COUNT_EMPTY,
            StatisticKind.COUNT_NOT_EMPTY,
            StatisticKind.COUNT_DISTINCT,
        ):
            return _count(0, 0)
        return Cell(None, None, 0)

    def _periods(self, found: set[str | None]) -> list[Period | None]:
        bucket = self.statistic.bucket
        if bucket is None:
            return [None]
        starts = sorted(day for label in found if (day := _period_start(label)) is not None)
        first = self.request.start or (starts[0] if starts else None)
        last = self.request.end or (starts[-1] if starts else None)
        if first is None or last is None:
            return []
        periods: list[Period | None] = []
        start = _bucket_start(DateBucket(bucket), first)
        while start <= last and len(periods) <= MAX_ROWS:
            try:
                following = _next_start(DateBucket(bucket), start)
            except (ValueError, OverflowError):  # the calendar's last period
                periods.append(Period(start, date.max))
                break
            periods.append(Period(start, following - timedelta(days=1)))
            start = following
        return periods

    async def _groups(self, found: set[str | None]) -> list[Group | None]:
        statistic = self.statistic
        key, where = statistic.group_by, statistic.group_source
        if key is None:
            return [None]
        present = {value for value in found if value is not None}
        groups: list[Group] = []
        if where == Source.FIELD:
            definition = self.fields[key]
            field_type = FieldType(definition.type)
            if field_type in (FieldType.SELECT, FieldType.MULTI_SELECT):
                options = definition.options or []
                groups = [
                    Group(o["value"], o.get("label") or o["value"], o.get("color")) for o in options
                ]
                known = {o["value"] for o in options}
                groups += [Group(v, v) for v in sorted(present - known)]  # options since removed
            elif field_type == FieldType.BOOLEAN:
                groups = [Group("true", "Yes"), Group("false", "No")]
            elif field_type == FieldType.USER:
                groups = await self._user_groups(present)
        elif where == Source.RELATION:
            groups = await self._card_groups(present)
        else:  # the country
            groups = [Group(code, code) for code in sorted(present)]
        return [*groups, Group(None, "No value")]

    async def _user_groups(self, present: set[str]) -> list[Group]:
        return await self._named_groups(User, present, lambda pk: f"User {pk}")

    async def _card_groups(self, present: set[str]) -> list[Group]:
        return await self._named_groups(Contact, present, lambda pk: "")

    async def _named_groups(
        self, model: Any, present: set[str], unnamed: Callable[[int], str]
    ) -> list[Group]:
        """Groups of rows of `model` (users, related cards) by name, their IDs as keys."""
        ids = [int(value) for value in present]
        rows = await self.session.execute(
            select(col(model.id), col(model.name)).where(col(model.id).in_(ids))
        )
        names = dict(rows.all())
        groups = [
            Group(str(pk), names.get(pk) or unnamed(pk), node_type=model.__name__) for pk in ids
        ]
        return sorted(groups, key=lambda g: (g.label.casefold(), int(g.key or 0)))


# --- to-dos and notes --------------------------------------------------------------------------

_ACTIVITY_TABLES = {StatisticSubject.TODOS: Todo.__table__, StatisticSubject.NOTES: Note.__table__}  # type: ignore[attr-defined]
# Their fields that statistics name, by API names.
_ACTIVITY_COLUMNS = {
    "createdAt": "created_at",
    "completedAt": "completed_at",
    "dueAt": "due_at",
    "assignee": "assignee_id",
    "createdBy": "created_by_id",
    "completedBy": "completed_by_id",
    "author": "author_id",
    "status": "status",
    "priority": "priority",
}
_ACTIVITY_USERS = frozenset({"assignee", "createdBy", "completedBy", "author"})
_ACTIVITY_VALUES: dict[str, list[tuple[str, str]]] = {
    "status": [(TodoStatus.OPEN, "Open"), (TodoStatus.DONE, "Done")],
    "priority": [
        (Priority.LOW, "Low"),
        (Priority.NORMAL, "Normal"),
        (Priority.HIGH, "High"),
        (Priority.URGENT, "Urgent"),
    ],
}


class _ActivityComputation(_Computation):
    """A statistic of the to-dos or notes on the report's cards, each counted once, by their
    own groups and times; `cards` is the contact table with the conditions that pick the cards."""

    def __init__(
        self,
        session: AsyncSession,
        cards: _Cards,
        statistic: Statistic,
        request: ReportRequest,
        zone: ZoneInfo,
    ) -> None:
        super().__init__(session, cards, statistic, request, zone)
        self.subject = StatisticSubject(statistic.subject)
        self.table = _ACTIVITY_TABLES[self.subject]

    def _type(self, key: str, source: str | None) -> FieldType:
        return FieldType.DATETIME  # their dates are the only values read as such

    def _sql(self, key: str, source: str | None) -> str:
        return f"{self.table.name}.{_ACTIVITY_COLUMNS[key]}"

    def _from(self) -> Any:
        contacts = self.cards.table
        return self.table.join(contacts, self.table.c.contact_id == contacts.c.id)

    # A to-do due on a day (dueDate) is kept as the end of that day in the service's time zone;
    # in a report it belongs to that day, whatever the report's zone.

    def _by_due_day(self) -> bool:
        return self.subject == StatisticSubject.TODOS and self._date_key()[0] == "dueAt"

    def _span_condition(self) -> ColumnElement[bool] | None:
        condition = super()._span_condition()
        if condition is None or not self._by_due_day():
            return condition
        day = self.table.c.due_date
        on_days = [day.is_not(None)]
        if self.request.start is not None:
            on_days.append(day >= self.request.start)
        if self.request.end is not None:
            on_days.append(day <= self.request.end)
        return or_(and_(day.is_(None), condition), and_(*on_days))

    async def _period_sql(self, where: list[ColumnElement[bool]]) -> str | None:
        period = await super()._period_sql(where)
        bucket = self.statistic.bucket
        if period is None or bucket is None or not self._by_due_day():
            return period
        day = f"{self.table.name}.due_date"
        on_day = _truncated(self.dialect, DateBucket(bucket), day, is_date=True)
        return f"(CASE WHEN {day} IS NOT NULL THEN {on_day} ELSE {period} END)"

    def _picked(self) -> list[ColumnElement[bool]]:
        where = super()._picked()
        table, now = self.table, self.request.now
        if self.subject == StatisticSubject.NOTES:
            where.append(visible_to(self.request.viewer_id))
        state = self.statistic.todo_state
        if state is not None:
            wanted = TodoStatus.DONE if state == TodoState.DONE else TodoStatus.OPEN
            where.append(table.c.status == wanted)
            if state == TodoState.OVERDUE:
                where.append(table.c.due_at < now)
        return where

    def _group(self, source: Any) -> tuple[str, Any]:
        key = self.statistic.group_by
        return (self._sql(key, None) if key is not None else "NULL"), source

    def _aggregates(self) -> list[Any]:
        return [literal_column("COUNT(*)")]

    async def _groups(self, found: set[str | None]) -> list[Group | None]:
        key = self.statistic.group_by
        if key is None:
            return [None]
        present = {value for value in found if value is not None}
        if key in _ACTIVITY_USERS:
            groups = await self._user_groups(present)
        else:
            values = _ACTIVITY_VALUES[key]
            groups = [Group(value, label) for value, label in values]
            groups += [Group(v, v) for v in sorted(present - {value for value, _ in values})]
        return [*groups, Group(None, "Unassigned" if key == "assignee" else "No value")]


# --- values ------------------------------------------------------------------------------------


def _group_key(value: Any) -> str | None:
    return None if value is None else str(value)


def _count(count: int, cards: int) -> Cell:
    return Cell(str(count), float(count), cards)


def _plain(number: float) -> str:
    """A double as text, the same whichever database it came from."""
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def _as_instant(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _extreme(value: Any, field_type: FieldType, cards: int) -> Cell:
    if value is None:
        return Cell(None, None, cards)
    if field_type == FieldType.DATE:
        return Cell(str(value), None, cards)
    if field_type == FieldType.DATETIME:
        moment = _as_instant(value).astimezone(UTC).replace(microsecond=0)
        return Cell(moment.isoformat().replace("+00:00", "Z"), None, cards)
    number = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
    return _number(number, field_type, cards)


def _number(number: Decimal, field_type: FieldType, cards: int, *, average: bool = False) -> Cell:
    if field_type == FieldType.MONEY or (average and field_type != FieldType.NUMBER):
        exact = number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return Cell(str(exact), float(exact), cards)
    if field_type in (FieldType.INTEGER, FieldType.RATING):
        return Cell(str(int(number)), float(number), cards)
    # NUMBER: the nearest double (float() of a Decimal rounds once, correctly), written the
    # same on both databases.
    nearest = float(number)
    return Cell(_plain(nearest), nearest, cards)


# --- periods -----------------------------------------------------------------------------------


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """When a local day starts, in UTC."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


@lru_cache(maxsize=128)
def _offsets(zone: str, low: datetime, high: datetime) -> tuple[tuple[datetime, int], ...]:
    """The zone's UTC offsets in seconds over [low, high]: (since, offset), the first since
    `low`, each next from the second it starts (found by bisection between samples a week
    apart; zones change their offset a few times a year at most)."""
    tz = ZoneInfo(zone)

    def offset(moment: datetime) -> int:
        delta = moment.astimezone(tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    found = [(low, offset(low))]
    step = timedelta(days=7)
    moment = low
    while moment < high:
        following = min(moment + step, high)
        if offset(following) != offset(moment):
            before, after = moment, following
            while after - before > timedelta(seconds=1):
                middle = (before + (after - before) / 2).replace(microsecond=0)
                if offset(middle) == offset(before):
                    before = middle
                else:
                    after = middle
            found.append((after, offset(after)))
        moment = following
    return tuple(found)


def _offset_sql(
    sql: str, instant: Callable[[datetime], str], offsets: Sequence[tuple[datetime, int]]
) -> str:
    """The UTC offset in seconds at the moment `sql`, from the zone's `offsets`: CASEs that
    halve them, so a row makes a dozen comparisons rather than one per change of offset (a
    date typed as 2206 instead of 2026 makes them 360)."""
    if len(offsets) == 1:
        return str(offsets[0][1])
    middle = len(offsets) // 2
    return (
        f"(CASE WHEN {sql} >= {instant(offsets[middle][0])} "
        f"THEN {_offset_sql(sql, instant, offsets[middle:])} "
        f"ELSE {_offset_sql(sql, instant, offsets[:middle])} END)"
    )


# Offsets are worked out over these years at most; a moment outside takes the offset of the
# nearest end (a date in year 9000 needs no daylight saving time, and costs no time).
OFFSET_YEARS = (1900, 2200)


def _offset_years(low: datetime, high: datetime) -> tuple[datetime, datetime]:
    """The whole years holding [low, high], within OFFSET_YEARS (so results can be cached)."""
    first = min(max(low.year, OFFSET_YEARS[0]), OFFSET_YEARS[1] - 1)
    last = max(min(high.year + 1, OFFSET_YEARS[1]), first + 1)
    return datetime(first, 1, 1, tzinfo=UTC), datetime(last, 1, 1, tzinfo=UTC)


_PG_UNITS = {
    DateBucket.DAY: "day",
    DateBucket.WEEK: "week",
    DateBucket.MONTH: "month",
    DateBucket.QUARTER: "quarter",
    DateBucket.YEAR: "year",
}


def _truncated(dialect: str, bucket: DateBucket, local: str, *, is_date: bool) -> str:
    """SQL for the first day ('YYYY-MM-DD') of the period holding a local date or time."""
    if dialect == "sqlite":
        return {
            DateBucket.DAY: f"date({local})",
            DateBucket.WEEK: f"date({local}, 'weekday 0', '-6 days')",
            DateBucket.MONTH: f"strftime('%Y-%m-01', {local})",
            DateBucket.QUARTER: (
                f"date({local}, 'start of month', '-' || "
                f"((CAST(strftime('%m', {local}) AS INTEGER) - 1) % 3) || ' months')"
            ),
            DateBucket.YEAR: f"strftime('%Y-01-01', {local})",
        }[bucket]
    if is_date:
        moment = f"CAST(CAST({local} AS DATE) AS TIMESTAMP)"
        return f"to_char(date_trunc('{_PG_UNITS[bucket]}', {moment}), 'YYYY-MM-DD')"
    # A local time before year 1 (1 BC) would read as year 1: it has no period, as on SQLite.
    return (
        f"CASE WHEN {local} >= TIMESTAMP '0001-01-01' THEN "
        f"to_char(date_trunc('{_PG_UNITS[bucket]}', {local}), 'YYYY-MM-DD') END"
    )


def _period_start(label: str | None) -> date | None:
    """The day a period label names; None for none, or for a period beyond the calendar's
    ends (year 0 or 10000: a value stored before such values were refused)."""
    try:
        return date.fromisoformat(label) if label is not None else None
    except ValueError:
        return None


def _bucket_start(bucket: DateBucket, day: date) -> date:
    if bucket == DateBucket.DAY:
        return day
    if bucket == DateBucket.WEEK:
        return day - timedelta(days=day.weekday())
    if bucket == DateBucket.MONTH:
        return day.replace(day=1)
    if bucket == DateBucket.QUARTER:
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def _next_start(bucket: DateBucket, start: date) -> date:
    if bucket == DateBucket.DAY:
        return start + timedelta(days=1)
    if bucket == DateBucket.WEEK:
        return start + timedelta(days=7)
    months = {DateBucket.MONTH: 1, DateBucket.QUARTER: 3, DateBucket.YEAR: 12}[bucket]
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)

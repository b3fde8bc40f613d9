"""Statistics an admin defines on a category (saved, named, ordered) for anyone to run as a
report: a kind (COUNT, SUM, ...) over a built-in or custom field, grouped by an option-like
field, the country or a relation, per period of a date, over the cards a filter picks. Activity
statistics count the to-dos or notes on those cards instead, grouped and dated by their own
fields (to-dos per assignee, completed per month, notes per author).

Every key a statistic names is checked against the category when it is saved, and saved with
where it lives (a custom field, a card's built-in, a relation), so a field added later under
the same key changes nothing. A change to the category that would leave a statistic invalid
(archiving a field it uses, changing its type, deleting its relation) is refused naming the
statistic (`check_category_statistics`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.categories import Category, FieldDefinition, FieldType
from models.statistics import (
    DateBucket,
    Source,
    Statistic,
    StatisticKind,
    StatisticSubject,
    TodoState,
)
from models.types import utcnow
from services.auth import Viewer
from services.categories import fields_of, relation_keys, relations_of
from services.contact_query import ContactCondition, card_condition
from services.errors import ErrorCode, UserFacingError, not_found, refuse_clearing
from services.filter_data import condition_from_data, condition_to_data
from services.locks import lock_category_shapes

MAX_NAME_LENGTH = 200
MAX_PER_CATEGORY = 100

# A card's own fields a statistic may use, by their API names, with the type of their values.
BUILT_INS: dict[str, FieldType] = {
    "name": FieldType.TEXT,
    "orgNumber": FieldType.TEXT,
    "email": FieldType.EMAIL,
    "phone": FieldType.PHONE,
    "website": FieldType.URL,
    "city": FieldType.TEXT,
    "country": FieldType.TEXT,
    "createdAt": FieldType.DATETIME,
    "updatedAt": FieldType.DATETIME,
}
NUMERIC = frozenset({FieldType.INTEGER, FieldType.NUMBER, FieldType.MONEY, FieldType.RATING})
# The field types each kind works on (COUNT counts cards and takes no field).
KIND_TYPES: dict[StatisticKind, frozenset[FieldType]] = {
    StatisticKind.SUM: NUMERIC,
    StatisticKind.AVG: NUMERIC,
    StatisticKind.MIN: NUMERIC | {FieldType.DATE, FieldType.DATETIME},
    StatisticKind.MAX: NUMERIC | {FieldType.DATE, FieldType.DATETIME},
    StatisticKind.COUNT_DISTINCT: frozenset(FieldType)
    - {FieldType.LONG_TEXT, FieldType.MULTI_SELECT},
    StatisticKind.COUNT_EMPTY: frozenset(FieldType),
    StatisticKind.COUNT_NOT_EMPTY: frozenset(FieldType),
}
GROUP_TYPES = frozenset(
    {FieldType.SELECT, FieldType.MULTI_SELECT, FieldType.BOOLEAN, FieldType.USER}
)
GROUP_BUILT_INS = frozenset({"country"})
BUCKET_TYPES = frozenset({FieldType.DATE, FieldType.DATETIME})
BUCKET_BUILT_INS = frozenset({"createdAt"})
# What statistics of to-dos and notes group by and date by: their own fields, by API names.
ACTIVITY_GROUPS: dict[StatisticSubject, tuple[str, ...]] = {
    StatisticSubject.TODOS: ("assignee", "status", "priority", "createdBy", "completedBy"),
    StatisticSubject.NOTES: ("author",),
}
ACTIVITY_DATES: dict[StatisticSubject, tuple[str, ...]] = {
    StatisticSubject.TODOS: ("createdAt", "completedAt", "dueAt"),
    StatisticSubject.NOTES: ("createdAt",),
}


@dataclass(frozen=True)
class CategoryShape:
    """What statistics of a category may name: its active custom fields and its relations."""

    category_id: int
    fields: Sequence[FieldDefinition]
    relations: frozenset[str]

    @property
    def active(self) -> dict[str, FieldDefinition]:
        return {f.key: f for f in self.fields if f.archived_at is None}


async def shape_of(session: AsyncSession, category_id: int) -> CategoryShape:
    relations = relation_keys(await relations_of(session, [category_id]), category_id)
    return CategoryShape(category_id, await fields_of(session, [category_id]), frozenset(relations))


# --- checking a statistic -------------------------------------------------------------------


def _key_type(
    shape: CategoryShape, key: str, source: Source | None, path: str
) -> tuple[Source, FieldType | None]:
    """Where `key` lives (a custom field first, then a built-in, then a relation; or where it
    was saved to live) and the type of its values (None for a relation)."""
    active = shape.active
    if source in (None, Source.FIELD) and key in active:
        return Source.FIELD, FieldType(active[key].type)
    if source in (None, Source.BUILT_IN) and key in BUILT_INS:
        return Source.BUILT_IN, BUILT_INS[key]
    if source in (None, Source.RELATION) and key in shape.relations:
        return Source.RELATION, None
    archived = {f.key for f in shape.fields if f.archived_at is not None}
    why = f"The field {key} is archived" if key in archived else f"The category has no {key!r}"
    raise UserFacingError.one(why, code=ErrorCode.UNKNOWN_FIELD, field=[path])


def check(statistic: Statistic, shape: CategoryShape, dialect: str) -> None:
    """Check a statistic against its category, and note where each key it names lives."""
    subject = StatisticSubject(statistic.subject)
    if subject != StatisticSubject.CARDS:
        _check_activity(statistic, subject)
    else:
        _check_cards(statistic, shape)
    if statistic.filter is not None:
        condition = condition_from_data(statistic.filter, ["filter"])
        card_condition(dialect, shape.fields, condition)


def _check_cards(statistic: Statistic, shape: CategoryShape) -> None:
    if statistic.todo_state is not None:
        raise UserFacingError.one(
            "todoState picks the to-dos a TODOS statistic counts", field=["todoState"]
        )
    kind = StatisticKind(statistic.kind)
    if kind == StatisticKind.COUNT:
        if statistic.field_key is not None:
            raise UserFacingError.one(
                "COUNT counts cards and takes no field (COUNT_NOT_EMPTY counts the cards "
                "that have a value)",
                field=["fieldKey"],
            )
        statistic.field_source = None
    else:
        if statistic.field_key is None:
            raise UserFacingError.one(
                f"{kind} needs the field it is over", code=ErrorCode.REQUIRED, field=["fieldKey"]
            )
        source, field_type = _key_type(
            shape, statistic.field_key, _source(statistic.field_source), "fieldKey"
        )
        if source == Source.RELATION or field_type not in KIND_TYPES[kind]:
            raise UserFacingError.one(
                f"{kind} does not work on {statistic.field_key} "
                f"({field_type or 'a relation'}); it works on "
                + ", ".join(sorted(KIND_TYPES[kind])),
                field=["fieldKey"],
            )
        statistic.field_source = source
    if statistic.group_by is not None:
        source, field_type = _key_type(
            shape, statistic.group_by, _source(statistic.group_source), "groupBy"
        )
        groups = (
            source == Source.RELATION
            or (source == Source.FIELD and field_type in GROUP_TYPES)
            or (source == Source.BUILT_IN and statistic.group_by in GROUP_BUILT_INS)
        )
        if not groups:
            raise UserFacingError.one(
                f"A statistic groups by a SELECT, MULTI_SELECT, BOOLEAN or USER field, the "
                f"country or a relation; {statistic.group_by} is {field_type}",
                field=["groupBy"],
            )
        statistic.group_source = source
    else:
        statistic.group_source = None
    if _has_bucket(statistic):
        _check_bucket(statistic, shape)


def _check_activity(statistic: Statistic, subject: StatisticSubject) -> None:
    """A statistic of the to-dos or notes on the cards counts them, grouped and dated by
    their own fields (which are the same in every category)."""
    things = "to-dos" if subject == StatisticSubject.TODOS else "notes"
    if statistic.kind != StatisticKind.COUNT:
        raise UserFacingError.one(
            f"A statistic of {things} counts them: its kind is COUNT", field=["kind"]
        )
    if statistic.field_key is not None:
        raise UserFacingError.one(
            f"A statistic of {things} counts them and takes no field", field=["fieldKey"]
        )
    statistic.field_source = None
    if statistic.todo_state is not None and subject != StatisticSubject.TODOS:
        raise UserFacingError.one(
            "todoState picks the to-dos a TODOS statistic counts", field=["todoState"]
        )
    groups = ACTIVITY_GROUPS[subject]
    if statistic.group_by is not None and statistic.group_by not in groups:
        raise UserFacingError.one(
            f"A statistic of {things} groups by " + _either(groups), field=["groupBy"]
        )
    statistic.group_source = Source.BUILT_IN if statistic.group_by is not None else None
    if _has_bucket(statistic):
        statistic.bucket_on = statistic.bucket_on or "createdAt"
        dates = ACTIVITY_DATES[subject]
        if statistic.bucket_on not in dates:
            raise UserFacingError.one(
                f"Periods of {things} are of " + _either(dates), field=["bucketOn"]
            )
        statistic.bucket_source = Source.BUILT_IN


def _either(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _has_bucket(statistic: Statistic) -> bool:
    """Whether it has periods; a date to have them of needs them."""
    if statistic.bucket is None:
        if statistic.bucket_on is not None:
            raise UserFacingError.one(
                "bucketOn needs a bucket (DAY, WEEK, MONTH, QUARTER or YEAR)",
                code=ErrorCode.REQUIRED,
                field=["bucket"],
            )
        statistic.bucket_source = None
        return False
    return True


def _check_bucket(statistic: Statistic, shape: CategoryShape) -> None:
    statistic.bucket_on = statistic.bucket_on or "createdAt"
    source, field_type = _key_type(
        shape, statistic.bucket_on, _source(statistic.bucket_source), "bucketOn"
    )
    dated = (source == Source.FIELD and field_type in BUCKET_TYPES) or (
        source == Source.BUILT_IN and statistic.bucket_on in BUCKET_BUILT_INS
    )
    if not dated:
        raise UserFacingError.one(
            "Periods are of createdAt or of a DATE or DATETIME field; "
            f"{statistic.bucket_on} is {field_type or 'a relation'}",
            field=["bucketOn"],
        )
    statistic.bucket_source = source


def _source(value: str | None) -> Source | None:
    return Source(value) if value is not None else None


def _name(value: Any) -> str:
    name = str(value or "").strip()
    if not name:
        raise UserFacingError.one(
            "A statistic needs a name", code=ErrorCode.REQUIRED, field=["name"]
        )
    if len(name) > MAX_NAME_LENGTH:
        raise UserFacingError.one(
            f"A statistic's name is at most {MAX_NAME_LENGTH} characters long", field=["name"]
        )
    return name


# --- defining statistics ------------------------------------------------------------------------


@dataclass
class StatisticSpec:
    """What an admin sets on a statistic; on update only the settings given change."""

    name: str | None = None
    subject: StatisticSubject | None = None
    kind: StatisticKind | None = None
    todo_state: TodoState | None = None
    field_key: str | None = None
    group_by: str | None = None
    bucket: DateBucket | None = None
    bucket_on: str | None = None
    filter: ContactCondition | None = None


# Settings that may be cleared with null, by their names here and in the API.
CLEARABLE = {
    "todo_state": "todoState",
    "field_key": "fieldKey",
    "group_by": "groupBy",
    "bucket": "bucket",
    "bucket_on": "bucketOn",
    "filter": "filter",
}


# The keys a statistic names, with where each was found to live.
_SOURCES = {"field_key": "field_source", "group_by": "group_source", "bucket_on": "bucket_source"}


def named_keys(statistic: Statistic) -> list[tuple[str, str | None]]:
    """The keys a statistic names (its field, its grouping, its date), with where each lives."""
    pairs = (
        (getattr(statistic, key), getattr(statistic, source)) for key, source in _SOURCES.items()
    )
    return [(key, source) for key, source in pairs if key is not None]


def _apply(statistic: Statistic, changes: Mapping[str, Any]) -> None:
    """Set what was given; a key given anew is looked up anew."""
    for name, value in changes.items():
        if name == "name":
            statistic.name = _name(value)
        elif name == "kind":
            statistic.kind = StatisticKind(value)
        elif name == "subject":
            subject = StatisticSubject(value)
            if subject != statistic.subject:
                # Its keys now name fields of something else: each is looked up anew.
                for source in _SOURCES.values():
                    setattr(statistic, source, None)
            statistic.subject = subject
        elif name == "todo_state":
            statistic.todo_state = TodoState(value) if value is not None else None
        elif name == "filter":
            statistic.filter = condition_to_data(value) if value is not None else None
        elif name in _SOURCES:
            setattr(statistic, name, value)
            setattr(statistic, _SOURCES[name], None)
        elif name == "bucket":
            statistic.bucket = DateBucket(value) if value is not None else None
            if value is None and "bucket_on" not in changes:
                # Its date goes with it (it may only have been the createdAt it defaults to).
                statistic.bucket_on = statistic.bucket_source = None
        else:
            raise ValueError(f"unknown statistic setting {name!r}")


async def _dialect(session: AsyncSession) -> str:
    return (await session.connection()).dialect.name


async def create_statistic(
    session: AsyncSession, *, viewer: Viewer, category_id: int, changes: Mapping[str, Any]
) -> Statistic:
    """A new statistic, last of its category's."""
    # Held shared, like a card writer: a field is not converted underneath the check.
    await lock_category_shapes(session, [category_id], exclusive=False)
    await _category_to_add_to(session, category_id)
    count, last = (
        await session.execute(
            select(func.count(), func.max(col(Statistic.position))).where(
                col(Statistic.category_id) == category_id
            )
        )
    ).one()
    if count >= MAX_PER_CATEGORY:
        raise UserFacingError.one(
            f"A category has at most {MAX_PER_CATEGORY} statistics", field=["categoryId"]
        )
    statistic = Statistic(
        category_id=category_id,
        name="",
        kind=StatisticKind.COUNT,
        position=(last + 1) if last is not None else 0,
        created_by_id=viewer.id,
    )
    if "name" not in changes:
        changes = {**changes, "name": None}
    _apply(statistic, changes)
    check(statistic, await shape_of(session, category_id), await _dialect(session))
    session.add(statistic)
    await session.flush()
    return statistic


async def _category_to_add_to(session: AsyncSession, category_id: int) -> Category:
    """The category, its row locked so that statistics are added and ordered one at a time
    (their count and positions stay right); FOR NO KEY UPDATE lets cards be written meanwhile."""
    category = await session.get(
        Category, category_id, with_for_update={"key_share": True}, populate_existing=True
    )
    if category is None:
        raise not_found("The category", ["categoryId"])
    return category


async def _statistic_to_change(session: AsyncSession, statistic_id: int) -> Statistic:
    found = await session.get(Statistic, statistic_id)
    if found is None:
        raise not_found("The statistic", ["id"])
    await lock_category_shapes(session, [found.category_id], exclusive=False)
    statistic = await session.get(
        Statistic, statistic_id, with_for_update=True, populate_existing=True
    )
    if statistic is None:
        raise not_found("The statistic", ["id"])
    return statistic


async def update_statistic(
    session: AsyncSession, *, statistic_id: int, changes: Mapping[str, Any]
) -> Statistic:
    refuse_clearing(changes, "name", "kind", "subject")
    statistic = await _statistic_to_change(session, statistic_id)
    _apply(statistic, changes)
    check(statistic, await shape_of(session, statistic.category_id), await _dialect(session))
    statistic.updated_at = utcnow()
    await session.flush()
    return statistic


async def delete_statistic(session: AsyncSession, *, statistic_id: int) -> Statistic:
    statistic = await _statistic_to_change(session, statistic_id)
    await session.delete(statistic)
    await session.flush()
    return statistic


async def reorder_statistics(
    session: AsyncSession, *, category_id: int, statistic_ids: Sequence[int]
) -> list[Statistic]:
    await lock_category_shapes(session, [category_id], exclusive=False)
    await _category_to_add_to(session, category_id)
    statistics = (await statistics_of(session, [category_id], for_update=True))[category_id]
    given = list(statistic_ids)
    if len(set(given)) != len(given) or set(given) != {s.id for s in statistics}:
        raise UserFacingError.one(
            "List every statistic of the category exactly once", field=["statisticIds"]
        )
    position = {statistic_id: i for i, statistic_id in enumerate(given)}
    for statistic in statistics:
        assert statistic.id is not None
        statistic.position = position[statistic.id]
    await session.flush()
    return sorted(statistics, key=lambda s: s.position)


async def statistics_of(
    session: AsyncSession, category_ids: Sequence[int], *, for_update: bool = False
) -> dict[int, list[Statistic]]:
    """Each category's statistics, in their order."""
    query = (
        select(Statistic)
        .where(col(Statistic.category_id).in_(category_ids))
        .order_by(col(Statistic.position), col(Statistic.id))
    )
    if for_update:
        query = query.with_for_update()
    found: dict[int, list[Statistic]] = {category_id: [] for category_id in category_ids}
    for statistic in (await session.execute(query)).scalars():
        found[statistic.category_id].append(statistic)
    return found


async def check_category_statistics(
    session: AsyncSession, category_id: int, *, change: str, field: Sequence[str]
) -> None:
    """After `change` to a category (in this transaction), refuse it if a statistic of the
    category no longer holds, naming the statistic."""
    shape = await shape_of(session, category_id)
    dialect = await _dialect(session)
    for statistic in (await statistics_of(session, [category_id]))[category_id]:
        probe = Statistic.model_validate(statistic.model_dump())
        try:
            check(probe, shape, dialect)
        except UserFacingError as exc:
            raise UserFacingError.one(
                f"The statistic “{statistic.name}” would no longer hold ({exc}); change or "
                f"delete it before {change}",
                code=ErrorCode.IN_USE,
                field=list(field),
            ) from None

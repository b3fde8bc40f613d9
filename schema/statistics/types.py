"""Statistics as the API shows them."""

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from models.statistics import DateBucket, StatisticKind, StatisticSubject, TodoState
from models.statistics import Statistic as StatisticModel
from schema.categories.types import Category
from schema.common import Info, Node, existing, node_type
from services.ids import encode_id

strawberry.enum(
    StatisticSubject,
    description="What a statistic is about: CARDS, or the TODOS or NOTES on them (a private "
    "note counts only in its author's reports).",
)
strawberry.enum(
    TodoState,
    description="Which to-dos count: OPEN, DONE, or OVERDUE (open and past due when the report "
    "runs).",
)
strawberry.enum(
    StatisticKind,
    description="COUNT counts cards (or to-dos, notes); SUM, AVG, MIN and MAX aggregate a "
    "field's values; COUNT_DISTINCT counts distinct values; COUNT_EMPTY and COUNT_NOT_EMPTY "
    "count cards without and with a value.",
)
strawberry.enum(DateBucket, description="A period of a report's rows; weeks start on Monday.")


@node_type(StatisticModel)
@strawberry.type(description="A statistic of a category, run as a report.")
class Statistic(Node):
    name: str
    subject: StatisticSubject
    kind: StatisticKind
    todo_state: TodoState | None = strawberry.field(description="TODOS only: which count.")
    field_key: str | None = strawberry.field(
        description="The custom field (by key) or the card's own field (name, orgNumber, "
        "email, phone, website, city, country, createdAt, updatedAt) it is over; null for "
        "COUNT."
    )
    group_by: str | None = strawberry.field(
        description="What it groups by: a SELECT, MULTI_SELECT, BOOLEAN or USER field's key, "
        "country, or a relation's key as seen from this category; for to-dos assignee, "
        "status, priority, createdBy or completedBy; for notes author."
    )
    bucket: DateBucket | None = strawberry.field(description="A row per period, if set.")
    bucket_on: str | None = strawberry.field(
        description="The date its periods are of: createdAt, or a DATE or DATETIME field's "
        "key; for to-dos createdAt, completedAt or dueAt."
    )
    filter: JSON | None = strawberry.field(
        description="The cards it counts: a ContactFilter, as sent (null: every card)."
    )
    position: int
    created_at: datetime
    updated_at: datetime
    _model: strawberry.Private[StatisticModel]

    @classmethod
    def of(cls, model: StatisticModel) -> "Statistic":
        assert model.id is not None
        return cls(
            id=strawberry.ID(encode_id("Statistic", model.id)),
            name=model.name,
            subject=StatisticSubject(model.subject),
            kind=StatisticKind(model.kind),
            todo_state=TodoState(model.todo_state) if model.todo_state else None,
            field_key=model.field_key,
            group_by=model.group_by,
            bucket=DateBucket(model.bucket) if model.bucket else None,
            bucket_on=model.bucket_on,
            filter=cast("JSON | None", model.filter),
            position=model.position,
            created_at=model.created_at,
            updated_at=model.updated_at,
            _model=model,
        )

    @strawberry.field
    async def category(self, info: Info) -> Category:
        return Category.of(
            existing(await info.context.loaders.category.load(self._model.category_id))
        )

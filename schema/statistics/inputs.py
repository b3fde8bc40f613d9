"""What admins send to define statistics, and the payloads they get."""

import strawberry

from models.statistics import DateBucket, StatisticKind, StatisticSubject, TodoState
from schema import cost
from schema.common import UserError, user_errors_field
from schema.contacts.filters import ContactFilter
from schema.statistics.types import Statistic

# Settings of a statistic by their input names, with their service names.
SETTINGS = {
    "name": "name",
    "subject": "subject",
    "kind": "kind",
    "todo_state": "todo_state",
    "field_key": "field_key",
    "group_by": "group_by",
    "bucket": "bucket",
    "bucket_on": "bucket_on",
    "filter": "filter",
}


@strawberry.input
class StatisticCreateInput:
    category_id: strawberry.ID
    name: str = strawberry.field(description="At most 200 characters.")
    subject: StatisticSubject = strawberry.field(
        default=StatisticSubject.CARDS,
        description="What it counts: the cards, or the to-dos or notes on them.",
    )
    kind: StatisticKind = strawberry.field(description="COUNT for to-dos and notes.")
    todo_state: TodoState | None = strawberry.field(
        default=None, description="TODOS only: the to-dos it counts (left out: all of them)."
    )
    field_key: str | None = strawberry.field(
        default=None,
        description="A custom field's key, or a card's own field (name, orgNumber, email, "
        "phone, website, city, country, createdAt, updatedAt); a custom field of the same key "
        "wins. Required but for COUNT.",
    )
    group_by: str | None = strawberry.field(
        default=None,
        description="A SELECT, MULTI_SELECT, BOOLEAN or USER field's key, country, or a "
        "relation's key as seen from this category; for to-dos assignee, status, priority, "
        "createdBy or completedBy; for notes author.",
    )
    bucket: DateBucket | None = None
    bucket_on: str | None = strawberry.field(
        default=None,
        description="createdAt (when left out) or a DATE or DATETIME field's key; for to-dos "
        "createdAt, completedAt or dueAt.",
    )
    filter: ContactFilter | None = strawberry.field(
        default=None,
        description="The cards it counts, or whose to-dos or notes it counts (left out: every "
        "card).",
    )


@strawberry.input(description="Omitted fields stay; null clears the optional ones.")
class StatisticUpdateInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    subject: StatisticSubject | None = strawberry.UNSET
    kind: StatisticKind | None = strawberry.UNSET
    todo_state: TodoState | None = strawberry.UNSET
    field_key: str | None = strawberry.UNSET
    group_by: str | None = strawberry.UNSET
    bucket: DateBucket | None = strawberry.UNSET
    bucket_on: str | None = strawberry.UNSET
    filter: ContactFilter | None = strawberry.UNSET


@strawberry.input
class StatisticDeleteInput:
    id: strawberry.ID


@strawberry.input
class StatisticReorderInput:
    category_id: strawberry.ID
    statistic_ids: list[strawberry.ID] = strawberry.field(
        description="Every statistic of the category, in the new order."
    )


@strawberry.type
class StatisticPayload:
    statistic: Statistic | None = None
    user_errors: list[UserError] = user_errors_field()


@strawberry.type
class StatisticReorderPayload:
    statistics: list[Statistic] | None = strawberry.field(default=None, metadata=cost.typical(20))
    user_errors: list[UserError] = user_errors_field()

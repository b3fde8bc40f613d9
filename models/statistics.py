"""Statistics an admin defines on a category, run as reports."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.types import JSONType, UTCDateTime, utcnow


class StatisticKind(StrEnum):
    COUNT = "COUNT"  # cards
    SUM = "SUM"
    AVG = "AVG"
    MIN = "MIN"
    MAX = "MAX"
    COUNT_DISTINCT = "COUNT_DISTINCT"  # distinct values among the cards
    COUNT_EMPTY = "COUNT_EMPTY"  # cards without a value
    COUNT_NOT_EMPTY = "COUNT_NOT_EMPTY"


class StatisticSubject(StrEnum):
    """What a statistic counts or aggregates."""

    CARDS = "CARDS"  # the category's cards
    TODOS = "TODOS"  # the to-dos on its cards
    NOTES = "NOTES"  # the notes on its cards (a private note counts for its author only)


class TodoState(StrEnum):
    """Which to-dos a to-do statistic counts (when the report runs)."""

    OPEN = "OPEN"
    DONE = "DONE"
    OVERDUE = "OVERDUE"  # open and past their due time


class DateBucket(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"  # starting on Monday
    MONTH = "MONTH"
    QUARTER = "QUARTER"
    YEAR = "YEAR"


class Source(StrEnum):
    """Where a key a statistic names lives: saved with it, so that a field or relation added
    later under the same key does not change what the statistic means."""

    FIELD = "FIELD"  # a custom field of the category
    BUILT_IN = "BUILT_IN"  # a card's own (name, country, createdAt, ...), or a to-do's or note's
    RELATION = "RELATION"  # a relation of the category (groupBy only)


class Statistic(SQLModel, table=True):
    __table_args__ = (Index("ix_statistic_category", "category_id", "position", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    category_id: int = Field(foreign_key="category.id", ondelete="CASCADE")
    name: str = Field(max_length=200)
    subject: str = Field(default=StatisticSubject.CARDS, max_length=8)
    kind: str = Field(max_length=16)
    # Which to-dos count (TODOS only; none: all of them).
    todo_state: str | None = Field(default=None, max_length=8)
    # What it aggregates (none for COUNT).
    field_key: str | None = Field(default=None, max_length=64)
    field_source: str | None = Field(default=None, max_length=8)
    # What it groups by: a SELECT, MULTI_SELECT, BOOLEAN or USER field, the country, or a
    # relation (by its key or inverse key, as seen from this category); for to-dos and notes,
    # one of their own (assignee, status, author, ...).
    group_by: str | None = Field(default=None, max_length=64)
    group_source: str | None = Field(default=None, max_length=8)
    # A period per row: on the card's creation time or on a DATE or DATETIME field; for to-dos
    # and notes, on one of their times (createdAt, completedAt, dueAt).
    bucket: str | None = Field(default=None, max_length=8)
    bucket_on: str | None = Field(default=None, max_length=64)
    bucket_source: str | None = Field(default=None, max_length=8)
    # Which cards count (or whose to-dos or notes do): a ContactFilter, as the API spells it.
    filter: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    position: int = Field(default=0)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

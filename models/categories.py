"""Categories of contacts, their custom field definitions and the relations between them."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import JSONType, UTCDateTime, utcnow


class FieldType(StrEnum):
    TEXT = "TEXT"
    LONG_TEXT = "LONG_TEXT"
    INTEGER = "INTEGER"
    NUMBER = "NUMBER"
    MONEY = "MONEY"
    BOOLEAN = "BOOLEAN"
    DATE = "DATE"
    DATETIME = "DATETIME"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    URL = "URL"
    SELECT = "SELECT"
    MULTI_SELECT = "MULTI_SELECT"
    RATING = "RATING"
    USER = "USER"


class RelationCardinality(StrEnum):
    ONE_TO_MANY = "ONE_TO_MANY"
    MANY_TO_MANY = "MANY_TO_MANY"


class Category(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FieldDefinition(SQLModel, table=True):
    """A typed custom field of a category. The key is immutable; the label may change."""

    __tablename__ = "field_definition"
    __table_args__ = (UniqueConstraint("category_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    category_id: int = Field(foreign_key="category.id", index=True, ondelete="CASCADE")
    key: str = Field(max_length=64)
    label: str = Field(max_length=200)
    type: str = Field(max_length=16)
    required: bool = Field(default=False)
    unique: bool = Field(default=False)
    indexed: bool = Field(default=False)
    # [{"value": ..., "label": ..., "color": ...}] for SELECT and MULTI_SELECT
    options: list[dict[str, Any]] | None = Field(default=None, sa_type=JSONType)
    # {"min", "max", "minLength", "maxLength", "pattern"}, each optional
    validation: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    default_value: Any | None = Field(default=None, sa_type=JSONType, nullable=True)
    currency: str | None = Field(default=None, max_length=3)
    position: int = Field(default=0)
    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CategoryRelation(SQLModel, table=True):
    """A named link between cards of two categories (or of one category with itself).

    Seen from `from_category` the relation is called `key`; seen from `to_category`, `inverse_key`.
    ONE_TO_MANY means a card on the `to` side has at most one card on the `from` side.
    """

    __tablename__ = "category_relation"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64)
    name: str = Field(max_length=200)
    inverse_key: str = Field(max_length=64)
    inverse_name: str = Field(max_length=200)
    from_category_id: int = Field(foreign_key="category.id", index=True, ondelete="CASCADE")
    to_category_id: int = Field(foreign_key="category.id", index=True, ondelete="CASCADE")
    cardinality: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

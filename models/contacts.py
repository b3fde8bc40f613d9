"""Contact cards, the persons who work there, and links between cards."""

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import JSONType, UTCDateTime, utcnow


class Contact(SQLModel, table=True):
    __table_args__ = (
        # Keyset pagination over the built-in sort orders of one category.
        Index("ix_contact_category_name", "category_id", "name", "id"),
        Index("ix_contact_category_created", "category_id", "created_at", "id"),
        Index("ix_contact_category_updated", "category_id", "updated_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    category_id: int = Field(foreign_key="category.id", ondelete="RESTRICT")
    name: str = Field(max_length=300)
    org_number: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    website: str | None = Field(default=None, max_length=2048)
    address_street: str | None = Field(default=None, max_length=300)
    address_postal_code: str | None = Field(default=None, max_length=32)
    address_city: str | None = Field(default=None, max_length=200)
    address_region: str | None = Field(default=None, max_length=200)
    address_country: str | None = Field(default=None, max_length=2)
    # Custom values keyed by field key. Indexed and unique fields get expression indexes
    # (services/field_index.py) so filters, sorts and uniqueness use them.
    custom_values: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # Lower-cased name, org number, e-mail and text values: what `search` looks through.
    search_text: str = Field(default="", sa_type=Text)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    # Counts every change of the card (details, values, persons, deletion), so a client can
    # make an update conditional on the version it read.
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    def touch(self) -> None:
        """Record a change of the card: a new version and modification time."""
        self.version += 1
        self.updated_at = utcnow()


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True, ondelete="CASCADE")
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    mobile: str | None = Field(default=None, max_length=64)
    position: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ContactLink(SQLModel, table=True):
    __tablename__ = "contact_link"
    __table_args__ = (
        UniqueConstraint("relation_id", "from_contact_id", "to_contact_id"),
        # Equals to_contact_id for ONE_TO_MANY relations and is NULL otherwise, so this unique
        # constraint lets the database refuse a second parent (NULLs never collide).
        UniqueConstraint("relation_id", "single_parent_id"),
        Index("ix_contact_link_to", "relation_id", "to_contact_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    relation_id: int = Field(foreign_key="category_relation.id", ondelete="CASCADE")
    from_contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE")
    to_contact_id: int = Field(foreign_key="contact.id", index=True, ondelete="CASCADE")
    single_parent_id: int | None = Field(default=None)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

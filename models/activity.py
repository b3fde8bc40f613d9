"""The history of cards (and later project rooms): one row per change, written in the same
transaction as the change itself."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from models.types import JSONType, UTCDateTime, utcnow


class ActivityKind(StrEnum):
    CONTACT_CREATED = "CONTACT_CREATED"
    CONTACT_UPDATED = "CONTACT_UPDATED"
    CONTACT_DELETED = "CONTACT_DELETED"
    CONTACT_RESTORED = "CONTACT_RESTORED"
    PERSON_ADDED = "PERSON_ADDED"
    PERSON_UPDATED = "PERSON_UPDATED"
    PERSON_REMOVED = "PERSON_REMOVED"
    CONTACT_LINKED = "CONTACT_LINKED"
    CONTACT_UNLINKED = "CONTACT_UNLINKED"
    NOTE_ADDED = "NOTE_ADDED"
    NOTE_EDITED = "NOTE_EDITED"
    NOTE_DELETED = "NOTE_DELETED"
    TODO_CREATED = "TODO_CREATED"
    TODO_UPDATED = "TODO_UPDATED"
    TODO_COMPLETED = "TODO_COMPLETED"
    TODO_REOPENED = "TODO_REOPENED"
    TODO_DELETED = "TODO_DELETED"
    FILE_ADDED = "FILE_ADDED"
    FILE_DELETED = "FILE_DELETED"
    ROOM_CATEGORY_LINKED = "ROOM_CATEGORY_LINKED"
    ROOM_CATEGORY_UNLINKED = "ROOM_CATEGORY_UNLINKED"
    ROOM_MEMBER_ADDED = "ROOM_MEMBER_ADDED"
    ROOM_MEMBER_REMOVED = "ROOM_MEMBER_REMOVED"


class ActivityEvent(SQLModel, table=True):
    __tablename__ = "activity_event"
    __table_args__ = (
        # A card's history, newest first.
        Index("ix_activity_contact", "contact_id", "id"),
        # A room's own history (its to-dos, notes, files, members), newest first.
        Index("ix_activity_room", "room_id", "id"),
        # The order a live reader follows (see services/activity.py).
        Index("ix_activity_order", "tx", "id"),
        # Ids are never handed out twice on SQLite either (by default it reuses the highest
        # ids once their rows are gone), or a live reader past them would skip new events.
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    # The writing transaction's id on PostgreSQL (0 on SQLite, where writers take turns).
    tx: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    kind: str = Field(max_length=32)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="CASCADE")
    # Set for events of a project room's own items (which have no card).
    room_id: int | None = Field(default=None, foreign_key="project_room.id", ondelete="CASCADE")
    # What the event is about ("Note", 12): resolvable as a node while it exists.
    subject_type: str | None = Field(default=None, max_length=32)
    subject_id: int | None = Field(default=None)
    # Set for events only one user may see (a private note's): that user.
    visible_to_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="CASCADE"
    )
    # What changed ({"changes": [{"field", "label", "before", "after"}], "title": ...}).
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)

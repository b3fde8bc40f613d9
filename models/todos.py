"""To-dos on a card, assigned to a colleague."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class TodoStatus(StrEnum):
    OPEN = "OPEN"
    DONE = "DONE"


class Priority(StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


class Todo(SQLModel, table=True):
    __table_args__ = (
        Index("ix_todo_contact", "contact_id", "status", "due_at", "id"),
        Index("ix_todo_assignee", "assignee_id", "status", "due_at", "id"),
        Index("ix_todo_room", "room_id", "status", "due_at", "id"),
        Index("ix_todo_in_room", "in_room_id", "status", "due_at", "id"),
        CheckConstraint("(contact_id IS NULL) <> (room_id IS NULL)", name="ck_todo_one_owner"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # On a card, or a project room's own.
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="CASCADE")
    room_id: int | None = Field(default=None, foreign_key="project_room.id", ondelete="CASCADE")
    # The room that shows it: its own, or the one gathering its card's category (none while
    # the card is in the bin). Kept by services/room_scope.py, so that a room's lists read one
    # index range instead of going through every card of its categories.
    in_room_id: int | None = Field(default=None, foreign_key="project_room.id", ondelete="SET NULL")
    title: str = Field(max_length=300)
    description: str | None = Field(default=None, sa_type=Text)
    # When it is due: a moment, or (due_date set) the end of a day in the service's time zone.
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    due_date: date | None = Field(default=None)
    priority: str = Field(default=Priority.NORMAL, max_length=8)
    status: str = Field(default=TodoStatus.OPEN, max_length=8)
    assignee_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_by_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

"""Notes written on a card."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class NoteVisibility(StrEnum):
    TEAM = "TEAM"
    PRIVATE = "PRIVATE"  # its author's only


class Note(SQLModel, table=True):
    __table_args__ = (
        Index("ix_note_contact", "contact_id", "created_at", "id"),
        Index("ix_note_room", "room_id", "created_at", "id"),
        Index("ix_note_in_room", "in_room_id", "pinned", "created_at", "id"),
        CheckConstraint("(contact_id IS NULL) <> (room_id IS NULL)", name="ck_note_one_owner"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # On a card, or a project room's own.
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="CASCADE")
    room_id: int | None = Field(default=None, foreign_key="project_room.id", ondelete="CASCADE")
    # The room that shows it: its own, or the one gathering its card's category (none while
    # the card is in the bin). Kept by services/room_scope.py, so that a room's lists read one
    # index range instead of going through every card of its categories.
    in_room_id: int | None = Field(default=None, foreign_key="project_room.id", ondelete="SET NULL")
    author_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    body: str = Field(sa_type=Text)
    visibility: str = Field(default=NoteVisibility.TEAM, max_length=8)
    pinned: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

"""Project rooms: a team's shared view of the cards of some categories, plus the room's own
to-dos, notes and files, for the members of the room."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class ProjectRoom(SQLModel, table=True):
    __tablename__ = "project_room"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RoomCategory(SQLModel, table=True):
    """A category whose cards a room gathers: at most one room per category (its key)."""

    __tablename__ = "room_category"

    category_id: int = Field(foreign_key="category.id", primary_key=True, ondelete="CASCADE")
    room_id: int = Field(foreign_key="project_room.id", index=True, ondelete="CASCADE")
    linked_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    linked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RoomMember(SQLModel, table=True):
    __tablename__ = "room_member"

    room_id: int = Field(foreign_key="project_room.id", primary_key=True, ondelete="CASCADE")
    # Indexed for "the rooms I am in", asked with every room-scoped read.
    user_id: int = Field(
        foreign_key="user_account.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    added_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

"""Files on a card: metadata here, the bytes in storage (a local folder or S3)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Column, Index
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class FileState(StrEnum):
    PENDING = "PENDING"  # a direct upload was granted and is not confirmed yet
    READY = "READY"


class StoredFile(SQLModel, table=True):
    __tablename__ = "stored_file"
    __table_args__ = (
        Index("ix_stored_file_contact", "contact_id", "created_at", "id"),
        Index("ix_stored_file_room", "room_id", "created_at", "id"),
        Index("ix_stored_file_in_room", "in_room_id", "state", "created_at", "id"),
        CheckConstraint(
            "(contact_id IS NULL) <> (room_id IS NULL)", name="ck_stored_file_one_owner"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # On a card, or a project room's own.
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="CASCADE")
    room_id: int | None = Field(default=None, foreign_key="project_room.id", ondelete="CASCADE")
    # The room that shows it: its own, or the one gathering its card's category (none while
    # the card is in the bin). Kept by services/room_scope.py, so that a room's lists read one
    # index range instead of going through every card of its categories.
    in_room_id: int | None = Field(default=None, foreign_key="project_room.id", ondelete="SET NULL")
    name: str = Field(max_length=255)
    content_type: str = Field(max_length=255)
    size: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    sha256: str | None = Field(default=None, max_length=64)
    storage_key: str = Field(max_length=500, unique=True)
    state: str = Field(default=FileState.READY, max_length=8)
    uploaded_by_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

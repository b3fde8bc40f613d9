"""Imports of contact cards from a CSV or XLSX file, run in the background."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.types import JSONType, UTCDateTime, utcnow


class ImportMode(StrEnum):
    ALL_OR_NOTHING = "ALL_OR_NOTHING"  # one bad row and nothing is imported
    SKIP_INVALID = "SKIP_INVALID"  # bad rows are reported and left out


class ImportState(StrEnum):
    PENDING = "PENDING"  # waiting for a worker
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"  # every row imported, or every good one (SKIP_INVALID)
    FAILED = "FAILED"  # nothing imported (ALL_OR_NOTHING), or the file could not be read


class ContactImport(SQLModel, table=True):
    __tablename__ = "contact_import"
    __table_args__ = (Index("ix_contact_import_state", "state", "lease_until"),)

    id: int | None = Field(default=None, primary_key=True)
    # Kept when the category or the user goes (the import then fails, and its file is
    # deleted), so that no file is left in storage without a row naming it.
    category_id: int | None = Field(default=None, foreign_key="category.id", ondelete="SET NULL")
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    mode: str = Field(max_length=16)
    state: str = Field(default=ImportState.PENDING, max_length=16)
    # The uploaded file, in storage until the import ends.
    file_name: str = Field(max_length=255)
    storage_key: str = Field(max_length=200)
    size: int
    # How to read it: the format, encoding, delimiter and sheet, as detected or given.
    reading: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    # Which column goes to which field ([{"column": header, "field": key}]), and the field
    # whose value finds the card to update instead of adding one.
    mapping: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    upsert_on: str | None = Field(default=None, max_length=64)
    time_zone: str = Field(max_length=64)
    # Progress: rows read (the next run resumes after them), cards created and updated, rows
    # left out, and the problems found (the first MAX_ERRORS of error_count).
    rows_done: int = Field(default=0)
    created_count: int = Field(default=0)
    updated_count: int = Field(default=0)
    skipped_count: int = Field(default=0)
    error_count: int = Field(default=0)
    errors: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    failure: str | None = Field(default=None, max_length=1000)
    # While RUNNING: the worker holds it until then, and renews that as it goes.
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

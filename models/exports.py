"""Exports asked for: what to put in the file, kept until its download link expires. The file
itself is written when it is downloaded, streaming, never stored."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.types import JSONType, UTCDateTime, utcnow


class ExportKind(StrEnum):
    CONTACTS = "CONTACTS"  # a category's cards, as its list shows them
    REPORT = "REPORT"  # a report of its statistics


class ExportFormat(StrEnum):
    CSV = "CSV"
    XLSX = "XLSX"


class Export(SQLModel, table=True):
    __table_args__ = (Index("ix_export_expires", "expires_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)
    format: str = Field(max_length=4)
    category_id: int = Field(foreign_key="category.id", ondelete="CASCADE")
    # The request, as the API spells it: filter, search and order of a list; statistics and
    # period of a report.
    parameters: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    time_zone: str = Field(max_length=64)
    created_by_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)

"""Secrets the service makes for itself and every worker and host must share."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class ServiceSecret(SQLModel, table=True):
    __tablename__ = "service_secret"

    # What the secret is for, e.g. "download-links".
    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

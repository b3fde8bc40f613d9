"""The mail outbox: mails written in the same transaction as what caused them, and delivered
after commit by a sender that claims them one at a time."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class MailKind(StrEnum):
    TODO_ASSIGNED = "TODO_ASSIGNED"
    INVITATION = "INVITATION"
    PASSWORD_RESET = "PASSWORD_RESET"
    DIGEST = "DIGEST"


class MailState(StrEnum):
    PENDING = "PENDING"  # waiting for its (next) attempt
    SENT = "SENT"
    FAILED = "FAILED"  # refused for good; an admin may retry it


class OutboundMail(SQLModel, table=True):
    __tablename__ = "outbound_mail"
    __table_args__ = (Index("ix_outbound_mail_due", "state", "next_attempt_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    to_address: str = Field(max_length=320)
    to_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    subject: str = Field(max_length=300)
    text_body: str = Field(sa_type=Text)
    html_body: str = Field(sa_type=Text)
    # At most one mail per key (a user's digest of one day), whatever the number of workers.
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    # Carries a secret (an invitation or reset link): its bodies are blanked once sent.
    sensitive: bool = Field(default=False)
    state: str = Field(default=MailState.PENDING, max_length=8)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # A sender that claimed the mail holds it until then; after that another may take it.
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

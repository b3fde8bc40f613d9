"""The mail outbox: mails are rows written in the transaction of the change that causes them, so
a rolled-back change sends nothing and a committed one cannot lose its mail. The sender
(services/mail_sender.py) delivers them after commit; admins list and retry them here.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.contacts import Contact
from models.mail import MailKind, MailState, OutboundMail
from models.todos import Todo
from models.types import utcnow
from models.users import Invitation, PasswordReset, User
from services import mail_templates as templates
from services.effects import signal_after_commit
from services.errors import ErrorCode, UserFacingError, not_found
from services.ids import encode_id
from services.pagination import (
    PageRequest,
    SortKey,
    decode_cursor,
    encode_cursor,
    fingerprint,
)
from services.settings import Settings

MAIL_TOPIC = "mail"  # the signal that wakes the sender


async def queue_mail(
    session: AsyncSession,
    *,
    kind: MailKind,
    to_address: str,
    to_user_id: int | None,
    subject: str,
    text: str,
    html: str,
    dedupe_key: str | None = None,
    sensitive: bool = False,
) -> OutboundMail | None:
    """Write a PENDING mail in the session's transaction; None when a mail with the same
    `dedupe_key` exists already (written by another worker a moment ago, say).

    One INSERT ... ON CONFLICT DO NOTHING: a read first would let two workers both find no
    mail and both write one. `sensitive` mails carry a secret; their bodies are blanked once
    sent.
    """
    now = utcnow()
    values: dict[str, Any] = {
        "kind": kind,
        "to_address": to_address,
        "to_user_id": to_user_id,
        "subject": templates.one_line(subject),
        "text_body": text,
        "html_body": html,
        "dedupe_key": dedupe_key,
        "sensitive": sensitive,
        "state": MailState.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    dialect = (await session.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(OutboundMail)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboundMail)
    )
    mail: OutboundMail | None = (await session.execute(statement)).scalar_one_or_none()
    if mail is not None:
        signal_after_commit(session, MAIL_TOPIC)
    return mail


# --- what causes mail ------------------------------------------------------------------------


def _expiry(settings: Settings, moment: datetime) -> str:
    return templates.format_due(moment, None, settings.time_zone)


async def queue_invitation(
    session: AsyncSession,
    settings: Settings,
    *,
    invitation: Invitation,
    token: str,
    invited_by: User,
) -> None:
    content = templates.invitation(
        public_url=settings.public_url,
        email=invitation.email,
        role=invitation.role,
        invited_by=invited_by.name,
        token=token,
        expires=_expiry(settings, invitation.expires_at),
    )
    await queue_mail(
        session,
        kind=MailKind.INVITATION,
        to_address=invitation.email,
        to_user_id=None,
        subject=content.subject,
        text=content.text,
        html=content.html,
        sensitive=True,
    )


async def queue_password_reset(
    session: AsyncSession, settings: Settings, *, user: User, reset: PasswordReset, token: str
) -> None:
    content = templates.password_reset(
        public_url=settings.public_url,
        name=user.name,
        token=token,
        expires=_expiry(settings, reset.expires_at),
    )
    await queue_mail(
        session,
        kind=MailKind.PASSWORD_RESET,
        to_address=user.email,
        to_user_id=user.id,
        subject=content.subject,
        text=content.text,
        html=content.html,
        sensitive=True,
    )


async def queue_todo_assigned(
    session: AsyncSession,
    settings: Settings,
    *,
    todo: Todo,
    contact: Contact | None,
    assignee: User,
    assigned_by: User,
    room_name: str | None = None,
) -> None:
    """Tell `assignee` about a to-do just assigned (or reassigned) to them, in the caller's
    transaction; a to-do of no card is a project room's (`room_name`). Nobody is mailed about
    a to-do they assigned to themselves."""
    if assignee.id is not None and assignee.id == assigned_by.id:
        return
    if contact is not None:
        assert contact.id is not None
        subject_id = encode_id("Contact", contact.id)
    else:
        if todo.id is None:
            await session.flush()  # the to-do's ID is the link
        assert todo.id is not None
        subject_id = encode_id("Todo", todo.id)
    content = templates.todo_assigned(
        public_url=settings.public_url,
        assignee=assignee.name,
        assigned_by=assigned_by.name,
        title=todo.title,
        description=todo.description,
        card_name=contact.name if contact is not None else None,
        subject_id=subject_id,
        due=templates.format_due(todo.due_at, todo.due_date, settings.time_zone),
        priority=todo.priority,
        room_name=room_name,
    )
    await queue_mail(
        session,
        kind=MailKind.TODO_ASSIGNED,
        to_address=assignee.email,
        to_user_id=assignee.id,
        subject=content.subject,
        text=content.text,
        html=content.html,
    )


# --- the outbox as admins see it ---------------------------------------------------------------


@dataclass(frozen=True)
class MailRow:
    """A mail as the API lists it (its bodies, which may hold a secret, are never read)."""

    id: int
    kind: str
    to_address: str
    subject: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime


_LISTED = (
    col(OutboundMail.id),
    col(OutboundMail.kind),
    col(OutboundMail.to_address),
    col(OutboundMail.subject),
    col(OutboundMail.state),
    col(OutboundMail.attempts),
    col(OutboundMail.last_error),
    col(OutboundMail.created_at),
    col(OutboundMail.sent_at),
    col(OutboundMail.next_attempt_at),
)


def _mail_row(row: Any) -> MailRow:
    return MailRow(**row._mapping)


_NEWEST_FIRST = [SortKey(col(OutboundMail.id), descending=True, kind=int)]


@dataclass(frozen=True)
class OutboxPage:
    mails: list[MailRow]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    state: MailState | None

    async def total_count(self, session: AsyncSession) -> int:
        query = select(func.count()).select_from(OutboundMail)
        if self.state is not None:
            query = query.where(col(OutboundMail.state) == self.state)
        count: int = (await session.execute(query)).scalar_one()
        return count


async def outbox_page(
    session: AsyncSession, *, state: MailState | None, page: PageRequest
) -> OutboxPage:
    """One page of the outbox, newest first, optionally of one state."""
    fp = fingerprint("outbox")
    query = select(*_LISTED)
    if state is not None:
        query = query.where(col(OutboundMail.state) == state)
    if page.after is not None:
        (older_than,) = decode_cursor(page.after, fp, _NEWEST_FIRST)
        query = query.where(col(OutboundMail.id) < older_than)
    size = page.size
    rows = (
        await session.execute(query.order_by(col(OutboundMail.id).desc()).limit(size + 1))
    ).all()
    mails = [_mail_row(row) for row in rows[:size]]
    return OutboxPage(
        mails=mails,
        cursors=[encode_cursor(fp, [mail.id]) for mail in mails],
        has_next=len(rows) > size,
        has_previous=page.after is not None,
        state=state,
    )


async def retry_mail(session: AsyncSession, *, mail_id: int) -> MailRow:
    """Put a FAILED mail back in line, due now (its attempts and last error stay as history).
    One conditional UPDATE, so two admins retrying at once cannot both succeed."""
    now = utcnow()
    retried = (
        await session.execute(
            update(OutboundMail)
            .where(col(OutboundMail.id) == mail_id, col(OutboundMail.state) == MailState.FAILED)
            .values(state=MailState.PENDING, next_attempt_at=now, lease_until=None)
            .returning(*_LISTED)
        )
    ).first()
    if retried is not None:
        signal_after_commit(session, MAIL_TOPIC)
        return _mail_row(retried)
    found = select(col(OutboundMail.state)).where(col(OutboundMail.id) == mail_id)
    state = (await session.execute(found)).scalar_one_or_none()
    if state is None:
        raise not_found("The mail", ["id"])
    why = {
        MailState.SENT: "was sent already",
        MailState.PENDING: "is waiting for delivery already",
    }.get(MailState(state), f"is {state}")
    raise UserFacingError.one(
        f"The mail {why}; only a FAILED mail can be retried",
        code=ErrorCode.CONFLICT,
        field=["id"],
    )

"""The daily digest: each morning, everyone with open to-dos due today or overdue gets one mail.

Every worker's sender asks now and then (services/mail_sender.py); the first one past
CRM_DIGEST_HOUR in CRM_TIME_ZONE writes the mails, and the others find them written: each
carries the key `digest:<user id>:<local date>`, which the outbox holds at most once.

Days are those of CRM_TIME_ZONE: a to-do due on a date is due at the end of that date there,
one due at a moment is due then.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.contacts import Contact
from models.mail import MailKind, OutboundMail
from models.rooms import ProjectRoom, RoomMember
from models.todos import Todo, TodoStatus
from models.users import Role, User
from services import mail_templates as templates
from services.mail import queue_mail
from services.settings import Settings


def end_of_day(day: date, time_zone: str) -> datetime:
    """The moment (UTC) a to-do due on `day` falls due: the day's end in the time zone."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(time_zone)).astimezone(
        UTC
    )


def digest_key(user_id: int, day: date) -> str:
    return f"digest:{user_id}:{day.isoformat()}"


def digest_day(settings: Settings, now: datetime) -> date | None:
    """The local date whose digest is due at `now`, or None before CRM_DIGEST_HOUR."""
    local = now.astimezone(ZoneInfo(settings.time_zone))
    return local.date() if local.hour >= settings.digest_hour else None


@dataclass(frozen=True)
class _DueTodo:
    title: str
    due: datetime  # when it falls due (a date's end, or its moment)
    overdue: bool
    line: templates.DigestLine


@dataclass
class _Recipient:
    name: str
    email: str
    todos: list[_DueTodo]


@dataclass(frozen=True)
class DigestMail:
    user_id: int
    email: str
    key: str
    content: templates.MailContent


async def digests_due(
    session: AsyncSession, settings: Settings, *, now: datetime
) -> list[DigestMail]:
    """Today's digest for every active user with open to-dos due by the end of today, but for
    those written already; nothing before CRM_DIGEST_HOUR. Only reads."""
    day = digest_day(settings, now)
    if day is None:
        return []
    recipients = await _due_todos(session, settings, day=day, now=now)
    if not recipients:
        return []
    keys = {user_id: digest_key(user_id, day) for user_id in recipients}
    # Only to skip rendering what exists: the insert (write_digests) makes it once per day.
    written = set(
        (
            await session.execute(
                select(col(OutboundMail.dedupe_key)).where(
                    col(OutboundMail.dedupe_key).in_(list(keys.values()))
                )
            )
        ).scalars()
    )
    mails = []
    for user_id, recipient in recipients.items():
        if keys[user_id] in written:
            continue
        todos = sorted(recipient.todos, key=lambda todo: (todo.due, todo.title))
        content = templates.digest(
            public_url=settings.public_url,
            name=recipient.name,
            day=day,
            overdue=[todo.line for todo in todos if todo.overdue],
            today=[todo.line for todo in todos if not todo.overdue],
        )
        mails.append(DigestMail(user_id, recipient.email, keys[user_id], content))
    return mails


async def write_digests(session: AsyncSession, mails: list[DigestMail]) -> int:
    """Queue the digests; how many were new (another worker may have written some meanwhile)."""
    queued = 0
    for mail in mails:
        written = await queue_mail(
            session,
            kind=MailKind.DIGEST,
            to_address=mail.email,
            to_user_id=mail.user_id,
            subject=mail.content.subject,
            text=mail.content.text,
            html=mail.content.html,
            dedupe_key=mail.key,
        )
        queued += written is not None
    return queued


async def _due_todos(
    session: AsyncSession, settings: Settings, *, day: date, now: datetime
) -> dict[int, _Recipient]:
    """Open to-dos due by the end of `day`, by assignee (active users only; to-dos of cards in
    the bin, and of project rooms the assignee has left, left out)."""
    end = end_of_day(day, settings.time_zone)
    rows = await session.execute(
        select(
            col(Todo.assignee_id),
            col(User.name),
            col(User.email),
            col(Todo.title),
            col(Todo.due_at),
            col(Todo.due_date),
            col(Todo.priority),
            # Where it is: its card, or the project room it is the own of.
            func.coalesce(col(Contact.name), col(ProjectRoom.name)),
        )
        .join(User, col(User.id) == col(Todo.assignee_id))
        .outerjoin(Contact, col(Contact.id) == col(Todo.contact_id))
        .outerjoin(ProjectRoom, col(ProjectRoom.id) == col(Todo.room_id))
        .where(
            col(Todo.status) == TodoStatus.OPEN,
            col(User.active).is_(True),
            or_(col(Todo.contact_id).is_(None), col(Contact.deleted_at).is_(None)),
            # A room's own to-do only while its assignee may enter the room.
            or_(
                col(Todo.room_id).is_(None),
                col(User.role) == Role.ADMIN,
                exists().where(
                    col(RoomMember.room_id) == col(Todo.room_id),
                    col(RoomMember.user_id) == col(Todo.assignee_id),
                ),
            ),
            or_(
                col(Todo.due_date) <= day,
                and_(col(Todo.due_date).is_(None), col(Todo.due_at) <= end),
            ),
        )
    )
    recipients: dict[int, _Recipient] = {}
    grouped: dict[int, list[_DueTodo]] = defaultdict(list)
    for user_id, name, email, title, due_at, due_date, priority, card_name in rows.all():
        assert user_id is not None  # joined to its user
        recipients.setdefault(user_id, _Recipient(name, email, grouped[user_id]))
        if due_date is not None:
            due, overdue = end_of_day(due_date, settings.time_zone), due_date < day
        else:
            assert due_at is not None  # the query asks for a date or a moment
            due, overdue = due_at, due_at < now
        line = templates.DigestLine(
            title=title,
            card_name=card_name,
            due=templates.format_due(due_at, due_date, settings.time_zone),
            priority=priority,
        )
        grouped[user_id].append(_DueTodo(title, due, overdue, line))
    return recipients

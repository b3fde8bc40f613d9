"""To-dos on cards: created by one person, assigned to a colleague (who is mailed), completed
and reopened, and in the card's history."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import exists, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models.activity import ActivityKind
from models.contacts import Contact
from models.rooms import ProjectRoom
from models.todos import Priority, Todo, TodoStatus
from models.types import utcnow
from models.users import Role, User
from services.activity import Change, record
from services.auth import Viewer
from services.errors import ErrorCode, UserFacingError, not_found, refuse_clearing
from services.ids import encode_id
from services.mail import queue_todo_assigned
from services.owners import check_room_access, owner_to_write
from services.pagination import (
    SortKey,
    after_condition,
    count_per_scope,
    decode_cursor,
    encode_cursor,
    fingerprint,
    first_rows_per_scope,
    order_by,
)
from services.room_scope import gathered_by, may_enter
from services.settings import Settings
from services.values import storable, to_utc

MAX_TITLE_LENGTH = 300
MAX_DESCRIPTION_LENGTH = 10_000


# --- checking what a client sent -------------------------------------------------------------


def _title(value: Any) -> str:
    title = str(value or "").strip()
    if not title:
        raise UserFacingError.one("A to-do needs a title", code=ErrorCode.REQUIRED, field=["title"])
    if len(title) > MAX_TITLE_LENGTH:
        raise UserFacingError.one(
            f"A title is at most {MAX_TITLE_LENGTH} characters long", field=["title"]
        )
    return title


def _description(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise UserFacingError.one(
            f"A description is at most {MAX_DESCRIPTION_LENGTH:,} characters long",
            field=["description"],
        )
    return text or None


@dataclass(frozen=True)
class Due:
    """When a to-do is due: a moment, or a whole day (then at its end, in the service's time
    zone, so that it sorts and counts as overdue the day after)."""

    at: datetime | None
    on: date | None

    @classmethod
    def of(cls, settings: Settings, *, due_at: datetime | None, due_date: date | None) -> "Due":
        if due_at is not None and due_date is not None:
            raise UserFacingError.one(
                "Give either dueAt (a moment) or dueDate (a day), not both", field=["dueDate"]
            )
        if due_date is not None:
            end_of_day = datetime.combine(due_date, time.max, ZoneInfo(settings.time_zone))
            try:
                return cls(storable(to_utc(end_of_day)), due_date)
            except ValueError:
                raise UserFacingError.one(
                    f"The due date {due_date.isoformat()} is out of range: give a day from "
                    "0001-01-02 to 9999-12-29",
                    field=["dueDate"],
                ) from None
        if due_at is not None:
            if due_at.tzinfo is None:
                raise UserFacingError.one(
                    "The due date-time needs a time zone, for example 2027-01-15T17:00:00+01:00",
                    field=["dueAt"],
                )
            try:
                return cls(storable(to_utc(due_at)), None)
            except ValueError as exc:
                raise UserFacingError.one(str(exc), field=["dueAt"]) from None
        return cls(None, None)


async def _assignee(session: AsyncSession, user_id: int | None) -> User | None:
    """Someone who can take work: an active MEMBER or ADMIN."""
    if user_id is None:
        return None
    user = await session.get(User, user_id)
    field = ["assigneeId"]
    if user is None:
        raise not_found("The assignee", field)
    if not user.active:
        raise UserFacingError.one(
            f"{user.name} is deactivated and cannot be assigned work", field=field
        )
    if user.role == Role.VIEWER:
        raise UserFacingError.one(
            f"{user.name} is a VIEWER and cannot be assigned work; make them a MEMBER first",
            field=field,
        )
    return user


async def _may_take_room_work(
    session: AsyncSession, user: User | None, room_id: int | None
) -> None:
    """A room's own to-do goes only to someone who may enter the room."""
    if user is None or room_id is None:
        return
    if not await may_enter(session, Viewer(user), room_id):
        raise UserFacingError.one(
            f"{user.name} is not a member of the room; add them to it first",
            field=["assigneeId"],
        )


# --- changes -----------------------------------------------------------------------------------


async def create_todo(
    session: AsyncSession,
    settings: Settings,
    *,
    viewer: Viewer,
    contact_id: int | None,
    room_id: int | None = None,
    title: str,
    description: str | None,
    due: Due,
    priority: Priority,
    assignee_id: int | None,
) -> Todo:
    """A to-do on a card, or of a project room's own (`room_id`)."""
    owner = await owner_to_write(session, viewer, contact_id=contact_id, room_id=room_id)
    todo = Todo(
        contact_id=owner.contact_id,
        room_id=owner.room_id,
        in_room_id=owner.in_room_id,
        title=_title(title),
        description=_description(description),
        due_at=due.at,
        due_date=due.on,
        priority=Priority(priority),
        created_by_id=viewer.id,
    )
    assignee = await _assignee(session, assignee_id)
    await _may_take_room_work(session, assignee, owner.room_id)
    todo.assignee_id = assignee.id if assignee else None
    session.add(todo)
    await session.flush()
    await _record(session, ActivityKind.TODO_CREATED, viewer, todo)
    if assignee is not None:
        await _mail_assignee(session, settings, viewer, todo, assignee)
    return todo


async def _mail_assignee(
    session: AsyncSession, settings: Settings, viewer: Viewer, todo: Todo, assignee: User
) -> None:
    contact = await session.get(Contact, todo.contact_id) if todo.contact_id else None
    room = await session.get(ProjectRoom, todo.room_id) if todo.room_id else None
    await queue_todo_assigned(
        session,
        settings,
        todo=todo,
        contact=contact,
        assignee=assignee,
        assigned_by=viewer.user,
        room_name=room.name if room is not None else None,
    )


TODO_DETAILS = (
    ("title", "title", "Title"),
    ("description", "description", "Description"),
    ("due_at", "dueAt", "Due"),
    ("due_date", "dueDate", "Due date"),
    ("priority", "priority", "Priority"),
    ("assignee_id", "assignee", "Assignee"),
)


def _snapshot(todo: Todo) -> dict[str, Any]:
    return {attribute: getattr(todo, attribute) for attribute, _, _ in TODO_DETAILS}


def _shown(attribute: str, value: Any) -> Any:
    """A value as the history shows it (the API's form)."""
    if value is None:
        return None
    if attribute == "assignee_id":
        return encode_id("User", value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


async def update_todo(
    session: AsyncSession,
    settings: Settings,
    *,
    viewer: Viewer,
    todo_id: int,
    changes: Mapping[str, Any],
) -> Todo:
    """Change a to-do; `changes` holds what the client sent (null clears the description, the
    due date and the assignee). A new assignee is mailed."""
    refuse_clearing(changes, "title", "priority")
    todo = await _todo(session, viewer, todo_id)
    before = _snapshot(todo)
    if "title" in changes:
        todo.title = _title(changes["title"])
    if "description" in changes:
        todo.description = _description(changes["description"])
    if "due_at" in changes or "due_date" in changes:
        due = Due.of(settings, due_at=changes.get("due_at"), due_date=changes.get("due_date"))
        todo.due_at, todo.due_date = due.at, due.on
    if "priority" in changes:
        todo.priority = Priority(changes["priority"])
    assignee = None
    if "assignee_id" in changes:
        assignee = await _assignee(session, changes["assignee_id"])
        await _may_take_room_work(session, assignee, todo.room_id)
        todo.assignee_id = assignee.id if assignee else None
    changed = [
        Change(name, label, _shown(attribute, before[attribute]), _shown(attribute, after))
        for attribute, name, label in TODO_DETAILS
        if before[attribute] != (after := getattr(todo, attribute))
    ]
    if not changed:
        return todo
    todo.updated_at = utcnow()
    await session.flush()
    await _record(session, ActivityKind.TODO_UPDATED, viewer, todo, changed)
    if assignee is not None and assignee.id != before["assignee_id"]:
        await _mail_assignee(session, settings, viewer, todo, assignee)
    return todo


async def set_todo_done(session: AsyncSession, *, viewer: Viewer, todo_id: int, done: bool) -> Todo:
    """Complete an open to-do, or reopen a done one; already so, nothing changes."""
    todo = await _todo(session, viewer, todo_id)
    if (todo.status == TodoStatus.DONE) == done:
        return todo
    todo.status = TodoStatus.DONE if done else TodoStatus.OPEN
    todo.completed_at = utcnow() if done else None
    todo.completed_by_id = viewer.id if done else None
    todo.updated_at = utcnow()
    await session.flush()
    kind = ActivityKind.TODO_COMPLETED if done else ActivityKind.TODO_REOPENED
    await _record(session, kind, viewer, todo)
    return todo


async def delete_todo(session: AsyncSession, *, viewer: Viewer, todo_id: int) -> Todo:
    todo = await _todo(session, viewer, todo_id)
    await session.delete(todo)
    await session.flush()
    await _record(session, ActivityKind.TODO_DELETED, viewer, todo)
    return todo


async def _todo(session: AsyncSession, viewer: Viewer, todo_id: int) -> Todo:
    """A to-do to change, locked, on a card that is not in the bin or of a room the viewer
    may enter (another room's is not found, as if it did not exist)."""
    todo = await session.get(Todo, todo_id, with_for_update=True, populate_existing=True)
    if todo is None or not await check_room_access(session, viewer, todo.room_id):
        raise not_found("The to-do", ["id"])
    if todo.contact_id is not None:
        contact = await session.get(Contact, todo.contact_id)
        if contact is not None and contact.deleted_at is not None:
            raise UserFacingError.one(
                "The to-do's card is deleted; restore it first",
                code=ErrorCode.ARCHIVED,
                field=["id"],
            )
    return todo


async def _record(
    session: AsyncSession,
    kind: ActivityKind,
    viewer: Viewer,
    todo: Todo,
    changes: Sequence[Change] = (),
) -> None:
    await record(
        session,
        kind,
        actor_id=viewer.id,
        contact_id=todo.contact_id,
        room_id=todo.room_id,
        subject=("Todo", todo.id),
        changes=changes,
        details={"title": todo.title},
    )


# --- lists -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TodoFilter:
    status: TodoStatus | None = None
    assignee_id: int | None = None
    # Due on or after / before these moments (a due date counts at the end of its day).
    due_from: datetime | None = None
    due_before: datetime | None = None
    # The project rooms whose own to-dos the viewer may see (None: every room, for admins).
    rooms: frozenset[int] | None = None


# A person's list leaves out the to-dos of cards in the bin (as the digest does); a card's own
# list shows them, so that the bin still tells what was planned.
_CARD_NOT_IN_BIN = ~exists().where(
    col(Contact.id) == col(Todo.contact_id), col(Contact.deleted_at).is_not(None)
)


@dataclass
class TodoPage:
    todos: list[Todo]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    total: int


# Soonest due first (overdue ones are due soonest of all), those without a due date last.
_UNDATED = col(Todo.due_at).is_(None)
TODO_ORDER = [
    SortKey(_UNDATED, kind=bool),
    SortKey(col(Todo.due_at), nullable=True, kind=datetime),
    SortKey(col(Todo.id), kind=int),
]


# Whose to-dos a list shows: a card's, a person's, or all that a project room gathers.
TodoOwner = Literal["contact", "assignee", "room"]


def _scopes(owner: TodoOwner, owner_ids: Sequence[int]) -> dict[int, ColumnElement[bool]]:
    if owner == "room":
        return {room_id: gathered_by(Todo, room_id) for room_id in owner_ids}
    column = col(Todo.contact_id) if owner == "contact" else col(Todo.assignee_id)
    return {owner_id: column == owner_id for owner_id in owner_ids}


async def todos_of(
    session: AsyncSession,
    *,
    owner: TodoOwner,
    owner_ids: Sequence[int],
    filter: TodoFilter,
    first: int,
    after: str | None,
) -> dict[int, TodoPage]:
    """One page of to-dos for each owner (card, assignee or room), soonest due first: one
    statement for the pages of all the owners, one for their totals."""
    fp = fingerprint("todos", owner, filter)
    matching: list[ColumnElement[bool]] = []
    if filter.status is not None:
        matching.append(col(Todo.status) == filter.status)
    if filter.assignee_id is not None:
        matching.append(col(Todo.assignee_id) == filter.assignee_id)
    if filter.due_from is not None:
        matching.append(col(Todo.due_at) >= filter.due_from)
    if filter.due_before is not None:
        matching.append(col(Todo.due_at) < filter.due_before)
    if owner == "assignee":
        matching.append(_CARD_NOT_IN_BIN)
    if filter.rooms is not None:
        # A room's own to-dos only for those who may enter it.
        matching.append(or_(col(Todo.room_id).is_(None), col(Todo.room_id).in_(filter.rooms)))
    after_cursor = []
    if after is not None:
        after_cursor.append(
            after_condition(TODO_ORDER, decode_cursor(after, fp, TODO_ORDER), reverse=False)
        )
    scopes = _scopes(owner, owner_ids)
    rows = await session.execute(
        first_rows_per_scope(
            Todo,
            scopes,
            [*matching, *after_cursor],
            order_by(TODO_ORDER, reverse=False, dialect=(await session.connection()).dialect.name),
            first + 1,
        )
    )
    totals: dict[int, int] = dict((await session.execute(count_per_scope(scopes, matching))).all())
    pages = {
        owner_id: TodoPage([], [], False, after is not None, totals.get(owner_id, 0))
        for owner_id in owner_ids
    }
    for todo, owner_id in rows:
        page = pages[owner_id]
        if len(page.todos) == first:
            page.has_next = True
            continue
        page.todos.append(todo)
        page.cursors.append(encode_cursor(fp, [todo.due_at is None, todo.due_at, todo.id]))
    return pages

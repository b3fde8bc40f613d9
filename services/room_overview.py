"""Where a project room's work stands, counted in SQL (never by loading to-dos): to-dos open,
overdue, due and done this week, open to-dos per assignee, notes written this week."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models.notes import Note, NoteVisibility
from models.todos import Todo, TodoStatus
from services.auth import Viewer
from services.pagination import count_per_scope
from services.room_scope import gathered_by
from services.values import to_utc


@dataclass(frozen=True)
class Week:
    """This week, Monday to Sunday in the service's time zone, as UTC moments."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, now: datetime, time_zone: str) -> "Week":
        local = now.astimezone(ZoneInfo(time_zone))
        monday = local.date() - timedelta(days=local.weekday())
        start = datetime.combine(monday, time.min, ZoneInfo(time_zone))
        end = datetime.combine(monday + timedelta(days=7), time.min, ZoneInfo(time_zone))
        return cls(to_utc(start), to_utc(end))


@dataclass(frozen=True)
class AssigneeLoad:
    assignee_id: int | None  # None: open to-dos nobody has taken
    open: int
    overdue: int


@dataclass(frozen=True)
class RoomFigures:
    open: int
    overdue: int
    due_this_week: int
    done_this_week: int
    notes_this_week: int
    load: list[AssigneeLoad]


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def room_figures(
    session: AsyncSession,
    *,
    viewer: Viewer,
    room_ids: Sequence[int],
    now: datetime,
    time_zone: str,
) -> dict[int, RoomFigures]:
    """Each room's figures in three statements, whatever the number of rooms and to-dos."""
    week = Week.of(now, time_zone)
    is_open = col(Todo.status) == TodoStatus.OPEN
    overdue = is_open & (col(Todo.due_at) < now)
    due_this_week = is_open & (col(Todo.due_at) >= week.start) & (col(Todo.due_at) < week.end)
    done_this_week = (col(Todo.status) == TodoStatus.DONE) & (col(Todo.completed_at) >= week.start)
    counts = await session.execute(
        union_all(
            *(
                select(
                    literal(room_id),
                    _count(is_open),
                    _count(overdue),
                    _count(due_this_week),
                    _count(done_this_week),
                )
                # Only the rows the figures count: done ones of earlier weeks are most of a
                # room's to-dos after a while.
                .where(gathered_by(Todo, room_id), or_(is_open, done_this_week))
                for room_id in room_ids
            )
        )
    )
    per_assignee = await session.execute(
        union_all(
            *(
                select(literal(room_id), col(Todo.assignee_id), func.count(), _count(overdue))
                .where(gathered_by(Todo, room_id), is_open)
                .group_by(col(Todo.assignee_id))
                for room_id in room_ids
            )
        )
    )
    notes: dict[int, int] = dict(
        (
            await session.execute(
                count_per_scope(
                    {room_id: gathered_by(Note, room_id) for room_id in room_ids},
                    [
                        col(Note.created_at) >= week.start,
                        or_(
                            col(Note.visibility) == NoteVisibility.TEAM,
                            col(Note.author_id) == viewer.id,
                        ),
                    ],
                )
            )
        ).all()
    )
    loads: dict[int, list[AssigneeLoad]] = {room_id: [] for room_id in room_ids}
    for room_id, assignee_id, open_count, late in per_assignee:
        loads[room_id].append(AssigneeLoad(assignee_id, open_count, int(late)))
    figures = {}
    for room_id, *values in counts:
        open_count, overdue_count, due_count, done_count = (int(value) for value in values)
        load = sorted(
            loads[room_id],
            # Most loaded first; nobody's to-dos last; then by id, so the order is stable.
            key=lambda item: (item.assignee_id is None, -item.open, item.assignee_id or 0),
        )
        figures[room_id] = RoomFigures(
            open_count, overdue_count, due_count, done_count, notes.get(room_id, 0), load
        )
    return figures

"""A project room's overview: the figures a wall dashboard shows, counted in SQL."""

import strawberry

from resolvers import rooms as resolve
from schema import cost
from schema.activity.types import ActivityEvent
from schema.common import Info
from schema.files.types import File
from schema.node import visible
from schema.users.types import User
from services.room_overview import AssigneeLoad as LoadRow
from services.room_overview import RoomFigures

MAX_LIST = 20


@strawberry.type(description="Open to-dos of one person (or of nobody yet).")
class AssigneeLoad:
    open: int
    overdue: int
    _row: strawberry.Private[LoadRow]

    @strawberry.field(description="Null for to-dos nobody has taken yet.")
    async def assignee(self, info: Info) -> User | None:
        if self._row.assignee_id is None:
            return None
        return await visible(info.context, User, self._row.assignee_id)


@strawberry.type
class RoomOverview:
    open: int = strawberry.field(description="To-dos open.")
    overdue: int = strawberry.field(description="Open to-dos past their due time.")
    due_this_week: int = strawberry.field(
        description="Open to-dos due this week (Monday to Sunday in the service's time zone)."
    )
    done_this_week: int = strawberry.field(description="To-dos completed this week.")
    notes_this_week: int = strawberry.field(description="Notes written this week you may see.")
    load: list[AssigneeLoad] = strawberry.field(
        description="Open to-dos per assignee, the busiest first; nobody's last.",
        metadata=cost.typical(20),
    )
    _room_id: strawberry.Private[int]

    @classmethod
    async def of_room(cls, info: Info, room_id: int) -> "RoomOverview":
        figures: RoomFigures = await resolve.figures(info.context, room_id)
        return cls(
            open=figures.open,
            overdue=figures.overdue,
            due_this_week=figures.due_this_week,
            done_this_week=figures.done_this_week,
            notes_this_week=figures.notes_this_week,
            load=[
                AssigneeLoad(open=row.open, overdue=row.overdue, _row=row) for row in figures.load
            ],
            _room_id=room_id,
        )

    @strawberry.field(description="The newest files, at most 20.", metadata=cost.typical(10))
    async def newest_files(self, info: Info, first: int = 5) -> list[File]:
        page = await resolve.files_page(
            info.context, self._room_id, first=min(first, MAX_LIST), after=None
        )
        return [File.of(row) for row in page.files]

    @strawberry.field(
        description="The latest activity, newest first, at most 20.",
        metadata=cost.typical(10),
    )
    async def latest_activity(self, info: Info, first: int = 10) -> list[ActivityEvent]:
        page = await resolve.activity_page(
            info.context, self._room_id, first=min(first, MAX_LIST), after=None
        )
        return [ActivityEvent.of(event) for event in page.events]

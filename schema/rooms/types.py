"""Project rooms as the API shows them: what a room gathers, to its members and admins."""

from datetime import date, datetime

import strawberry

from models.rooms import ProjectRoom as RoomModel
from models.rooms import RoomMember as MemberModel
from models.todos import TodoStatus
from resolvers import rooms as resolve
from resolvers import todos as todo_resolvers
from schema import cost
from schema.activity.types import ActivityConnection
from schema.categories.types import Category
from schema.common import Info, Node, node_type
from schema.files.types import FileConnection
from schema.node import visible
from schema.notes.types import NoteConnection
from schema.rooms.overview import RoomOverview
from schema.todos.types import TodoConnection
from schema.users.types import User
from services.ids import encode_id


@strawberry.type(description="Someone in a project room.")
class RoomMember:
    added_at: datetime
    _model: strawberry.Private[MemberModel]

    @strawberry.field(description="Null when deactivated and you are not an admin.")
    async def user(self, info: Info) -> User | None:
        return await visible(info.context, User, self._model.user_id)

    @strawberry.field
    async def added_by(self, info: Info) -> User | None:
        if self._model.added_by_id is None:
            return None
        return await visible(info.context, User, self._model.added_by_id)


@node_type(RoomModel, room=lambda room: room.id)
@strawberry.type(
    description="A team's room: every to-do, note and file of the cards of its categories, "
    "plus its own, for its members (and admins)."
)
class ProjectRoom(Node):
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    _model: strawberry.Private[RoomModel]

    @classmethod
    def of(cls, model: RoomModel) -> "ProjectRoom":
        assert model.id is not None
        return cls(
            id=strawberry.ID(encode_id("ProjectRoom", model.id)),
            name=model.name,
            description=model.description,
            created_at=model.created_at,
            updated_at=model.updated_at,
            _model=model,
        )

    @property
    def pk(self) -> int:
        assert self._model.id is not None
        return self._model.id

    @strawberry.field
    async def created_by(self, info: Info) -> User | None:
        if self._model.created_by_id is None:
            return None
        return await visible(info.context, User, self._model.created_by_id)

    @strawberry.field(
        description="The categories whose cards the room gathers, by name.",
        metadata=cost.typical(5),
    )
    async def categories(self, info: Info) -> list[Category]:
        return [Category.of(c) for c in await info.context.loaders.room_categories.load(self.pk)]

    @strawberry.field(
        description="Its members, in the order they joined.", metadata=cost.typical(20)
    )
    async def members(self, info: Info) -> list[RoomMember]:
        rows = await info.context.loaders.room_members.load(self.pk)
        return [RoomMember(added_at=m.added_at, _model=m) for m in rows]

    @strawberry.field(
        description="The room's own to-dos and those of its categories' cards (but for cards "
        "in the bin), soonest due first; `dueFrom` and `dueUntil` are days in the service's "
        "time zone, both included.",
        metadata=cost.page(),
    )
    async def todos(
        self,
        info: Info,
        status: TodoStatus | None = None,
        assignee_id: strawberry.ID | None = None,
        due_from: date | None = None,
        due_until: date | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> TodoConnection:
        page = await todo_resolvers.todos_page(
            info.context,
            "room",
            self.pk,
            status=status,
            assignee_id=assignee_id,
            due_from=due_from,
            due_until=due_until,
            first=first,
            after=after,
        )
        return TodoConnection.of_page(page)

    @strawberry.field(
        description="The room's own notes and those of its categories' cards that you may "
        "see: pinned first, then newest first.",
        metadata=cost.page(),
    )
    async def notes(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> NoteConnection:
        return NoteConnection.of_page(
            await resolve.notes_page(info.context, self.pk, first=first, after=after)
        )

    @strawberry.field(
        description="The room's own files and those of its categories' cards, newest first.",
        metadata=cost.page(),
    )
    async def files(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> FileConnection:
        return FileConnection.of_page(
            await resolve.files_page(info.context, self.pk, first=first, after=after)
        )

    @strawberry.field(
        description="What happened in the room and on its categories' cards, newest first.",
        metadata=cost.page(),
    )
    async def activity(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> ActivityConnection:
        return ActivityConnection.of_page(
            await resolve.activity_page(info.context, self.pk, first=first, after=after)
        )

    @strawberry.field(
        description="Where the room's work stands: to-dos open, overdue, due and done this "
        "week, open to-dos per assignee, the newest files and the latest activity."
    )
    async def overview(self, info: Info) -> RoomOverview:
        return await RoomOverview.of_room(info, self.pk)

"""To-dos as the API shows them."""

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, cast

import strawberry

from models.todos import Priority, TodoStatus
from models.todos import Todo as TodoModel
from models.types import utcnow
from schema import cost
from schema.common import Info, Node, PageInfo, existing, node_type
from schema.node import LazyRoom, resolve_node, room_node
from services.ids import encode_id
from services.todos import TodoPage

if TYPE_CHECKING:
    from schema.contacts.types import Contact
    from schema.users.types import User

# People and cards are named through the node registry: their schemas build on this one (a
# user's to-dos, a card's to-dos).
LazyUser = Annotated["User", strawberry.lazy("schema.users.types")]


async def _user(info: Info, user_id: int | None) -> "User | None":
    if user_id is None:
        return None
    return cast("User | None", await resolve_node(info.context, "User", user_id))


strawberry.enum(TodoStatus, description="Open, or done.")
strawberry.enum(Priority, description="How urgent a to-do is.")


@node_type(TodoModel, room=lambda todo: todo.room_id)
@strawberry.type(description="Something to do about a card, assigned to a colleague.")
class Todo(Node):
    title: str
    description: str | None
    due_at: datetime | None = strawberry.field(
        description="When it is due; for a to-do due on a day, the end of that day in the "
        "organisation's time zone."
    )
    due_date: date | None = strawberry.field(description="The day it is due, if it is a day.")
    priority: Priority
    status: TodoStatus
    overdue: bool = strawberry.field(description="Open and past its due time.")
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    _model: strawberry.Private[TodoModel]

    @classmethod
    def of(cls, model: TodoModel) -> "Todo":
        assert model.id is not None
        status = TodoStatus(model.status)
        return cls(
            id=strawberry.ID(encode_id("Todo", model.id)),
            title=model.title,
            description=model.description,
            due_at=model.due_at,
            due_date=model.due_date,
            priority=Priority(model.priority),
            status=status,
            overdue=status == TodoStatus.OPEN
            and model.due_at is not None
            and model.due_at < utcnow(),
            completed_at=model.completed_at,
            created_at=model.created_at,
            updated_at=model.updated_at,
            _model=model,
        )

    @strawberry.field(description="Who does it (null when nobody, or deactivated and hidden).")
    async def assignee(self, info: Info) -> LazyUser | None:
        return await _user(info, self._model.assignee_id)

    @strawberry.field
    async def created_by(self, info: Info) -> LazyUser | None:
        return await _user(info, self._model.created_by_id)

    @strawberry.field
    async def completed_by(self, info: Info) -> LazyUser | None:
        return await _user(info, self._model.completed_by_id)

    @strawberry.field
    async def contact(
        self, info: Info
    ) -> Annotated["Contact", strawberry.lazy("schema.contacts.types")] | None:
        if self._model.contact_id is None:
            return None
        card = await resolve_node(info.context, "Contact", self._model.contact_id)
        return cast("Contact", existing(card))

    @strawberry.field(description="The project room it belongs to, when it is a room's own.")
    async def room(self, info: Info) -> LazyRoom | None:
        return await room_node(info.context, self._model.room_id)


@strawberry.type
class TodoEdge:
    cursor: str
    node: Todo


@strawberry.type
class TodoConnection:
    edges: list[TodoEdge] = strawberry.field(metadata=cost.in_page())
    page_info: PageInfo
    total_count: int = strawberry.field(description="To-dos matching, on every page.")

    @classmethod
    def of_page(cls, page: TodoPage) -> "TodoConnection":
        return cls(
            edges=[
                TodoEdge(cursor=cursor, node=Todo.of(todo))
                for todo, cursor in zip(page.todos, page.cursors, strict=True)
            ],
            page_info=PageInfo.of(
                page.cursors, has_next=page.has_next, has_previous=page.has_previous
            ),
            total_count=page.total,
        )

    @strawberry.field(metadata=cost.in_page())
    def nodes(self) -> list[Todo]:
        return [edge.node for edge in self.edges]

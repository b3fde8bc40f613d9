"""What clients send to plan work, and the payloads they get back."""

from datetime import date, datetime
from typing import Any

import strawberry

from models.todos import Priority
from schema.common import UserError, provided, user_errors_field
from schema.todos.types import Todo

TODO_SETTINGS = {
    "title": "title",
    "description": "description",
    "due_at": "due_at",
    "due_date": "due_date",
    "priority": "priority",
    "assignee_id": "assignee_id",
}


@strawberry.input(
    description="On a card (contactId) or of a project room's own (roomId). Give dueAt (a "
    "moment) or dueDate (a day), or neither."
)
class TodoCreateInput:
    contact_id: strawberry.ID | None = None
    room_id: strawberry.ID | None = None
    title: str = strawberry.field(description="At most 300 characters.")
    description: str | None = None
    due_at: datetime | None = None
    due_date: date | None = None
    priority: Priority = Priority.NORMAL
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A MEMBER or ADMIN (of the room, for a room's to-do); they are mailed at once.",
    )


@strawberry.input(
    description="Omitted fields stay; null clears the description, the due date and the "
    "assignee. A new assignee is mailed."
)
class TodoUpdateInput:
    id: strawberry.ID
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    due_at: datetime | None = strawberry.UNSET
    due_date: date | None = strawberry.UNSET
    priority: Priority | None = strawberry.UNSET
    assignee_id: strawberry.ID | None = strawberry.UNSET

    def changes(self) -> dict[str, Any]:
        return provided(self, TODO_SETTINGS)


@strawberry.input
class TodoIdInput:
    id: strawberry.ID


@strawberry.type
class TodoPayload:
    todo: Todo | None = None
    user_errors: list[UserError] = user_errors_field()

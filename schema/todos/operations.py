"""The operations on to-dos: planning, assigning, completing, reopening and deleting them
(members)."""

import strawberry

from models.todos import Priority
from models.users import Role
from resolvers import todos as resolve
from schema.common import Info, payload
from schema.permissions import requires
from schema.todos.inputs import TodoCreateInput, TodoIdInput, TodoPayload, TodoUpdateInput
from schema.todos.types import Todo


@strawberry.type
class TodoMutation:
    @strawberry.mutation(
        description="Plan something to do about a card, or in a project room; its assignee is "
        "mailed.",
        extensions=requires(Role.MEMBER),
    )
    async def todo_create(self, info: Info, input: TodoCreateInput) -> TodoPayload:
        outcome = await resolve.create_todo(
            info.context,
            contact_id=input.contact_id,
            room_id=input.room_id,
            title=input.title,
            description=input.description,
            due_at=input.due_at,
            due_date=input.due_date,
            priority=Priority(input.priority),
            assignee_id=input.assignee_id,
        )
        return payload(TodoPayload, outcome, todo=Todo.of)

    @strawberry.mutation(extensions=requires(Role.MEMBER))
    async def todo_update(self, info: Info, input: TodoUpdateInput) -> TodoPayload:
        outcome = await resolve.update_todo(info.context, id=input.id, changes=input.changes())
        return payload(TodoPayload, outcome, todo=Todo.of)

    @strawberry.mutation(extensions=requires(Role.MEMBER))
    async def todo_complete(self, info: Info, input: TodoIdInput) -> TodoPayload:
        outcome = await resolve.set_todo_done(info.context, id=input.id, done=True)
        return payload(TodoPayload, outcome, todo=Todo.of)

    @strawberry.mutation(extensions=requires(Role.MEMBER))
    async def todo_reopen(self, info: Info, input: TodoIdInput) -> TodoPayload:
        outcome = await resolve.set_todo_done(info.context, id=input.id, done=False)
        return payload(TodoPayload, outcome, todo=Todo.of)

    @strawberry.mutation(extensions=requires(Role.MEMBER))
    async def todo_delete(self, info: Info, input: TodoIdInput) -> TodoPayload:
        outcome = await resolve.delete_todo(info.context, id=input.id)
        return payload(TodoPayload, outcome, todo=Todo.of)

"""To-dos: decode what the client sent, run the service in the operation's session, hand back
what it produced."""

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from models.todos import Priority, Todo, TodoStatus
from resolvers.context import Context
from resolvers.database import Outcome
from resolvers.loaders import TodosShape
from resolvers.rooms import rooms_entered
from services import todos
from services.ids import decode_id
from services.pagination import PageRequest
from services.todos import Due, TodoFilter, TodoOwner, TodoPage
from services.values import to_utc


async def todos_page(
    ctx: Context,
    owner: TodoOwner,
    owner_id: int,
    *,
    status: TodoStatus | None,
    assignee_id: str | None,
    due_from: date | None = None,
    due_until: date | None = None,
    first: int | None,
    after: str | None,
) -> TodoPage:
    """One page of a card's (`owner` "contact"), a person's ("assignee") or a project room's
    ("room") to-dos, soonest due first; `due_from` and `due_until` are days in the service's
    time zone, both included."""
    size = PageRequest(first=first, after=after).checked(ctx.settings.max_page_size).size
    assignee = decode_id(assignee_id, "User") if assignee_id is not None else None
    zone = ZoneInfo(ctx.settings.time_zone)

    def start_of(day: date) -> datetime:
        return to_utc(datetime.combine(day, time.min, zone))

    filter = TodoFilter(
        status,
        assignee,
        due_from=start_of(due_from) if due_from is not None else None,
        due_before=start_of(due_until + timedelta(days=1)) if due_until is not None else None,
        # A person's list gathers to-dos of every room: only those of rooms the viewer enters.
        rooms=await rooms_entered(ctx) if owner == "assignee" else None,
    )
    shape = TodosShape(owner, filter, size, after)
    return await ctx.loaders.todos.load((owner_id, shape))


async def create_todo(
    ctx: Context,
    *,
    contact_id: str | None,
    room_id: str | None = None,
    title: str,
    description: str | None,
    due_at: datetime | None,
    due_date: date | None,
    priority: Priority,
    assignee_id: str | None,
) -> Outcome[Todo]:
    viewer = await ctx.require()
    card = decode_id(contact_id, "Contact") if contact_id is not None else None
    room = decode_id(room_id, "ProjectRoom") if room_id is not None else None
    assignee = decode_id(assignee_id, "User") if assignee_id is not None else None
    return await ctx.mutate(
        lambda s: todos.create_todo(
            s,
            ctx.settings,
            viewer=viewer,
            contact_id=card,
            room_id=room,
            title=title,
            description=description,
            due=Due.of(ctx.settings, due_at=due_at, due_date=due_date),
            priority=priority,
            assignee_id=assignee,
        )
    )


async def update_todo(ctx: Context, *, id: str, changes: Mapping[str, Any]) -> Outcome[Todo]:
    viewer = await ctx.require()
    todo_id = decode_id(id, "Todo")
    decoded = dict(changes)
    if decoded.get("assignee_id") is not None:
        decoded["assignee_id"] = decode_id(decoded["assignee_id"], "User")
    return await ctx.mutate(
        lambda s: todos.update_todo(
            s, ctx.settings, viewer=viewer, todo_id=todo_id, changes=decoded
        )
    )


async def set_todo_done(ctx: Context, *, id: str, done: bool) -> Outcome[Todo]:
    viewer = await ctx.require()
    todo_id = decode_id(id, "Todo")
    return await ctx.mutate(
        lambda s: todos.set_todo_done(s, viewer=viewer, todo_id=todo_id, done=done)
    )


async def delete_todo(ctx: Context, *, id: str) -> Outcome[Todo]:
    viewer = await ctx.require()
    todo_id = decode_id(id, "Todo")
    return await ctx.mutate(lambda s: todos.delete_todo(s, viewer=viewer, todo_id=todo_id))

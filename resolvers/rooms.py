"""Project rooms: decode what the client sent, run the service in the operation's session, hand
back what it produced; and who may enter which room, asked once per operation."""

from collections.abc import Mapping
from typing import Any

from models.rooms import ProjectRoom
from models.users import Role
from resolvers.context import Context
from resolvers.database import Outcome
from resolvers.live import OVER_WEBSOCKET, Following, SubscriberContext, follow
from resolvers.loaders import ActivityShape, FiguresShape, FilesShape, NotesShape
from services import rooms
from services.activity import ActivityPage
from services.errors import BadRequestError
from services.files import FilePage
from services.ids import decode_id
from services.notes import NotePage
from services.pagination import PageRequest
from services.room_overview import RoomFigures
from services.room_scope import ROOM


async def rooms_entered(ctx: Context) -> frozenset[int] | None:
    """The rooms the viewer may enter: None for admins (every room)."""
    viewer = await ctx.require()
    if viewer.role == Role.ADMIN:
        return None
    return await ctx.loaders.rooms_entered.load(viewer.id) | ctx.rooms_granted


async def may_enter(ctx: Context, room_id: int) -> bool:
    entered = await rooms_entered(ctx)
    return entered is None or room_id in entered


async def visible_rooms(ctx: Context) -> list[ProjectRoom]:
    viewer = await ctx.require()
    return await ctx.read(lambda s: rooms.rooms_visible_to(s, viewer))


def _size(ctx: Context, first: int | None, after: str | None) -> int:
    return PageRequest(first=first, after=after).checked(ctx.settings.max_page_size).size


async def activity_page(
    ctx: Context, room_id: int, *, first: int | None, after: str | None
) -> ActivityPage:
    """One page of what the room gathers happening, newest first."""
    shape = ActivityShape(await ctx.require(), _size(ctx, first, after), after)
    return await ctx.loaders.room_activity.load((room_id, shape))


async def notes_page(
    ctx: Context, room_id: int, *, first: int | None, after: str | None
) -> NotePage:
    """One page of the notes the room gathers that the viewer may see: pinned first, then
    newest first."""
    shape = NotesShape(await ctx.require(), _size(ctx, first, after), after, owner="room")
    return await ctx.loaders.notes.load((room_id, shape))


async def files_page(
    ctx: Context, room_id: int, *, first: int | None, after: str | None
) -> FilePage:
    shape = FilesShape(_size(ctx, first, after), after, owner="room")
    return await ctx.loaders.files.load((room_id, shape))


async def figures(ctx: Context, room_id: int) -> RoomFigures:
    shape = FiguresShape(await ctx.require(), ctx.loaders.now, ctx.settings.time_zone)
    return await ctx.loaders.room_figures.load((room_id, shape))


async def create_room(ctx: Context, *, name: str, description: str | None) -> Outcome[ProjectRoom]:
    viewer = await ctx.require()
    return await ctx.mutate(
        lambda s: rooms.create_room(s, viewer=viewer, name=name, description=description)
    )


async def update_room(ctx: Context, *, id: str, changes: Mapping[str, Any]) -> Outcome[ProjectRoom]:
    viewer = await ctx.require()
    room_id = decode_id(id, "ProjectRoom")
    return await ctx.mutate(
        lambda s: rooms.update_room(s, viewer=viewer, room_id=room_id, changes=changes)
    )


async def delete_room(ctx: Context, *, id: str) -> Outcome[ProjectRoom]:
    viewer = await ctx.require()
    room_id = decode_id(id, "ProjectRoom")
    return await ctx.mutate(
        lambda s: rooms.delete_room(
            s, viewer=viewer, room_id=room_id, storage=ctx.resources.storage
        )
    )


async def link_category(
    ctx: Context, *, room_id: str, category_id: str, linked: bool
) -> Outcome[ProjectRoom]:
    viewer = await ctx.require()
    room = decode_id(room_id, "ProjectRoom")
    category = decode_id(category_id, "Category")
    change = rooms.link_category if linked else rooms.unlink_category
    return await ctx.mutate(lambda s: change(s, viewer=viewer, room_id=room, category_id=category))


async def change_member(
    ctx: Context, *, room_id: str, user_id: str, member: bool
) -> Outcome[ProjectRoom]:
    viewer = await ctx.require()
    room = decode_id(room_id, "ProjectRoom")
    user = decode_id(user_id, "User")
    change = rooms.add_member if member else rooms.remove_member
    return await ctx.mutate(lambda s: change(s, viewer=viewer, room_id=room, user_id=user))


async def follow_room(ctx: Context, room_id: str, after: str | None) -> Following:
    """Follow a room's activity: its members and admins."""
    if not isinstance(ctx, SubscriberContext):
        raise BadRequestError(OVER_WEBSOCKET)
    pk = decode_id(room_id, "ProjectRoom")
    room = await ctx.loaders.by_id(ProjectRoom).load(pk)
    if room is None or not await may_enter(ctx, pk):
        raise BadRequestError(
            "The project room was not found, or you are not one of its members", "NOT_FOUND"
        )
    return await follow(ctx, (ROOM, pk), after)

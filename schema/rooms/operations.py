"""The operations on project rooms: seeing them (members, admins) and shaping them (members who
write, admins)."""

import strawberry

from models.users import Role
from resolvers import rooms as resolve
from schema import cost
from schema.common import Info, payload, provided
from schema.permissions import requires
from schema.rooms.inputs import (
    RoomCategoryInput,
    RoomCreateInput,
    RoomDeleteInput,
    RoomMemberInput,
    RoomPayload,
    RoomUpdateInput,
)
from schema.rooms.types import ProjectRoom


@strawberry.type
class RoomQuery:
    @strawberry.field(
        description="The project rooms you are a member of (admins: every room), by name.",
        metadata=cost.typical(10),
        extensions=requires(),
    )
    async def rooms(self, info: Info) -> list[ProjectRoom]:
        return [ProjectRoom.of(room) for room in await resolve.visible_rooms(info.context)]


@strawberry.type
class RoomMutation:
    @strawberry.mutation(
        description="Open a project room; you become its first member.",
        extensions=requires(Role.MEMBER),
    )
    async def room_create(self, info: Info, input: RoomCreateInput) -> RoomPayload:
        outcome = await resolve.create_room(
            info.context, name=input.name, description=input.description
        )
        return payload(RoomPayload, outcome, room=ProjectRoom.of)

    @strawberry.mutation(extensions=requires(Role.MEMBER))
    async def room_update(self, info: Info, input: RoomUpdateInput) -> RoomPayload:
        changes = provided(input, ("name", "description"))
        outcome = await resolve.update_room(info.context, id=input.id, changes=changes)
        return payload(RoomPayload, outcome, room=ProjectRoom.of)

    @strawberry.mutation(
        description="Delete a room (its creator, or an admin) with its own to-dos, notes and "
        "files; its categories and their cards stay.",
        extensions=requires(Role.MEMBER),
    )
    async def room_delete(self, info: Info, input: RoomDeleteInput) -> RoomPayload:
        outcome = await resolve.delete_room(info.context, id=input.id)
        return payload(RoomPayload, outcome, room=ProjectRoom.of)

    @strawberry.mutation(
        description="Gather a category's cards in the room (a category is in at most one room).",
        extensions=requires(Role.MEMBER),
    )
    async def room_category_link(self, info: Info, input: RoomCategoryInput) -> RoomPayload:
        outcome = await resolve.link_category(
            info.context, room_id=input.room_id, category_id=input.category_id, linked=True
        )
        return payload(RoomPayload, outcome, room=ProjectRoom.of)

    @strawberry.mutation(extensions=requires(Role.MEMBER))
    async def room_category_unlink(self, info: Info, input: RoomCategoryInput) -> RoomPayload:
        outcome = await resolve.link_category(
            info.context, room_id=input.room_id, category_id=input.category_id, linked=False
        )
        return payload(RoomPayload, outcome, room=ProjectRoom.of)

    @strawberry.mutation(
        description="Let an active user into the room (a VIEWER reads it).",
        extensions=requires(Role.MEMBER),
    )
    async def room_member_add(self, info: Info, input: RoomMemberInput) -> RoomPayload:
        outcome = await resolve.change_member(
            info.context, room_id=input.room_id, user_id=input.user_id, member=True
        )
        return payload(RoomPayload, outcome, room=ProjectRoom.of)

    @strawberry.mutation(extensions=requires(Role.MEMBER))
    async def room_member_remove(self, info: Info, input: RoomMemberInput) -> RoomPayload:
        outcome = await resolve.change_member(
            info.context, room_id=input.room_id, user_id=input.user_id, member=False
        )
        return payload(RoomPayload, outcome, room=ProjectRoom.of)

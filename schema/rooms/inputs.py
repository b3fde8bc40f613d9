"""What clients send to shape project rooms, and the payloads they get back."""

import strawberry

from schema.common import UserError, user_errors_field
from schema.rooms.types import ProjectRoom


@strawberry.input
class RoomCreateInput:
    name: str = strawberry.field(description="At most 200 characters.")
    description: str | None = None


@strawberry.input(description="Omitted fields stay; a null description clears it.")
class RoomUpdateInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET


@strawberry.input
class RoomDeleteInput:
    id: strawberry.ID


@strawberry.input
class RoomCategoryInput:
    room_id: strawberry.ID
    category_id: strawberry.ID


@strawberry.input
class RoomMemberInput:
    room_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.type
class RoomPayload:
    room: ProjectRoom | None = None
    user_errors: list[UserError] = user_errors_field()

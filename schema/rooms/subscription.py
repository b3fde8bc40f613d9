"""A project room's activity, live (see schema/activity/subscription.py for how it flows)."""

from collections.abc import AsyncGenerator

import strawberry

from resolvers.rooms import follow_room
from schema.activity.types import ActivityEvent
from schema.common import Info


@strawberry.type
class RoomSubscription:
    @strawberry.subscription(
        description="A project room's activity as it happens: its own to-dos, notes and files "
        "and everything on the cards of its categories, each event once, in the order live "
        "readers follow. With `after` (an event's `cursor`), first the events since then. "
        "For the room's members and admins; one who leaves the room stops receiving events. "
        "Private events reach only the user they belong to."
    )
    async def room_activity(
        self, info: Info, room_id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[ActivityEvent, None]:
        await follow_room(info.context, room_id, after)
        return
        yield  # an async generator: the events come from the fan-out

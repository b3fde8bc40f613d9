"""Live activity: subscriptions that replay what a client missed, then follow as it happens.

Over graphql-transport-ws only (schema/live/transport.py). A subscription's resolver checks who
asks and what they may follow, and leaves that in the operation's context; it yields nothing
itself. The fan-out (schema/live/fanout.py) resolves each event of the followed topic with the
client's selection, once for every group of subscribers who see it alike.
"""

from collections.abc import AsyncGenerator

import strawberry

from resolvers.live import follow_contact
from schema.activity.types import ActivityEvent
from schema.common import Info


@strawberry.type
class ActivitySubscription:
    @strawberry.subscription(
        description="A card's activity as it happens: each event once, in the order live "
        "readers follow. With `after` (an event's `cursor`, or a cursor of "
        "`Contact.activity`), first the events since then. Needs sign-in; a card in the bin "
        "cannot be followed. Private events reach only the user they belong to."
    )
    async def contact_activity(
        self, info: Info, contact_id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[ActivityEvent, None]:
        await follow_contact(info.context, contact_id, after)
        return
        yield  # an async generator: the events come from the fan-out

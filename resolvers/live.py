"""Live activity as operations see it: what a subscription follows, the context it is set up
in, and the context each event is resolved in.

A subscription is set up like any operation, in a context of its own: its resolver checks who
asks and what they may follow, and leaves a `Following` there. The events themselves are
resolved later by the fan-out (schema/live/fanout.py), once for each group of subscribers that
see them alike, each in a fresh `EventContext` whose viewer is known in advance.
"""

from dataclasses import dataclass
from functools import partial

from models.contacts import Contact
from models.types import utcnow
from models.users import Role, User
from resolvers.context import Context
from resolvers.resources import Resources
from services import activity
from services.activity import Position
from services.auth import Viewer
from services.errors import BadRequestError
from services.ids import decode_id
from services.network import UNKNOWN_CLIENT
from services.topics import CONTACT, Topic

OVER_WEBSOCKET = (
    "Subscriptions are served over WebSocket only: connect to /graphql with the "
    "graphql-transport-ws protocol"
)


@dataclass(frozen=True)
class Following:
    """What a subscription follows, for whom, and from where (None: from now on)."""

    topic: Topic
    viewer: Viewer
    after: Position | None


class SubscriberContext(Context):
    """The context a subscription is set up in; its resolver leaves what it follows here."""

    following: Following | None = None


class EventContext(Context):
    """A fresh context for resolving one event for one group of subscribers, whose viewer is
    given rather than read from a token."""

    def __init__(self, resources: Resources, viewer: Viewer) -> None:
        super().__init__(resources, token=None, client=UNKNOWN_CLIENT)
        self._viewer = viewer
        self._authenticated = True


def someone_with_role(role: Role) -> Viewer:
    """A viewer with `role` who is nobody in particular: events everyone may see are resolved
    for it, so that nothing one user alone may see reaches another."""
    now = utcnow()
    return Viewer(
        user=User(
            id=0,
            email="",
            name="",
            password_hash="",
            role=role,
            active=True,
            created_at=now,
            updated_at=now,
        )
    )


async def follow(ctx: Context, topic: Topic, after: str | None) -> Following:
    """Record, in a subscription's context, that it follows `topic` from the cursor `after`."""
    if not isinstance(ctx, SubscriberContext):
        raise BadRequestError(OVER_WEBSOCKET)
    viewer = await ctx.require()
    position = None
    if after is not None:
        position = await ctx.read(partial(activity.stream_position, cursor=after))
    ctx.following = Following(topic, viewer, position)
    return ctx.following


async def follow_contact(ctx: Context, contact_id: str, after: str | None) -> Following:
    """Follow a card's activity: anyone signed in who may see the card, unless it is in the bin."""
    if not isinstance(ctx, SubscriberContext):
        raise BadRequestError(OVER_WEBSOCKET)
    await ctx.require()
    pk = decode_id(contact_id, "Contact")
    contact = await ctx.loaders.by_id(Contact).load(pk)
    if contact is None:
        raise BadRequestError("The card was not found", "NOT_FOUND")
    if contact.deleted_at is not None:
        raise BadRequestError(
            "The card is in the bin: restore it (contactRestore) to follow its activity",
            "IN_BIN",
        )
    return await follow(ctx, (CONTACT, pk), after)

"""Delivering live events to subscriptions: each event is resolved once for every group of its
subscribers who asked the same (document, operation, variables) and see it alike, in a fresh
per-operation context, and the one result goes to every member.

Seeing alike: an event only one user may see (a private note's) is resolved for that user and
goes to their subscriptions alone; any other event is resolved per role, for a viewer with that
role who is none of the subscribers, so what a field shows only to the one who asks (an API key
list, a download link signed for its reader) shows to nobody.

Before a batch goes out, the credentials of its subscribers are checked again with one query
for all of them: a revoked session or API key, or a deactivated user, ends the connection.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Protocol

import strawberry
from graphql import DocumentNode, ExecutionResult, parse
from graphql.execution import Executor, execute_subscription_event

from models.activity import ActivityEvent as EventModel
from models.users import Role
from resolvers.live import EventContext, Following, someone_with_role
from resolvers.resources import Resources
from schema.activity.types import ActivityEvent
from schema.limits import masked
from services import activity
from services.activity import Position
from services.auth import Viewer
from services.credentials import Credential, credentials_in_force
from services.feed import Batch
from services.room_scope import ROOM, members_among
from services.topics import events_of

# Events resolved at once; each holds a database session while it runs.
CONCURRENT_RESOLUTIONS = 8
REPLAY_PAGE = 100
CACHED_DOCUMENTS = 512
LEFT_THE_ROOM = "You are no longer a member of this project room; its activity stops here"
REVOKED = "Your credentials no longer hold (signed out, revoked or deactivated); sign in again"


@dataclass(frozen=True)
class Operation:
    """A subscription operation as a client sent it: the same one with the same variables
    is resolved once for all who sent it."""

    query: str
    operation_name: str | None
    variables: str  # JSON with sorted keys


class Connection(Protocol):
    """What a subscription needs of the connection it came on (schema/live/transport.py)."""

    def push(self, message: str) -> None:
        """Send soon, or close the connection when too much waits already."""

    async def put(self, message: str) -> None:
        """Send, waiting for room."""

    def refuse(self, code: int, reason: str) -> None:
        """Close the connection."""

    def end(self, subscription: "LiveSubscription", code: str, message: str) -> None:
        """Stop one subscription with an error; the connection stays."""


@dataclass(eq=False)
class LiveSubscription:
    """One subscription of one connection. Events arrive live from the feed while it replays
    what it missed; they wait (a bounded number) and go out once the replay is done, each
    once: by position, whatever came first."""

    id: str
    connection: Connection
    operation: Operation
    following: Following
    held_limit: int
    viewer: Viewer = field(init=False)
    last: Position = activity.START
    replaying: bool = True
    held: list[tuple[Position, str]] = field(default_factory=list)
    active: bool = True

    def __post_init__(self) -> None:
        self.viewer = self.following.viewer

    @property
    def credential(self) -> Credential:
        if self.viewer.api_key_id is not None:
            return Credential("api_key", self.viewer.api_key_id)
        assert self.viewer.session_id is not None
        return Credential("session", self.viewer.session_id)

    def message(self, payload: str) -> str:
        return f'{{"id":{json.dumps(self.id)},"type":"next","payload":{payload}}}'

    def offer(self, position: Position, payload: str) -> None:
        """A live event's result, from the feed."""
        if not self.active:
            return
        if self.replaying:
            if len(self.held) >= self.held_limit:
                self.connection.refuse(*FELL_BEHIND)
                return
            self.held.append((position, payload))
            return
        if position > self.last:
            self.last = position
            self.connection.push(self.message(payload))

    async def replayed(self, position: Position, payload: str) -> None:
        if position > self.last:
            self.last = position
            await self.connection.put(self.message(payload))

    def go_live(self) -> None:
        self.replaying = False
        held, self.held = self.held, []
        for position, payload in held:
            self.offer(position, payload)


# The close code that tells a client it fell behind: reconnect and resume from the last
# cursor it received (README, "Live activity").
FELL_BEHIND = (
    4410,
    "Too many events waited for this connection: reconnect and resume with after: <last cursor>",
)


def visibility(event: EventModel, viewer: Viewer) -> tuple[str, Any] | None:
    """How `viewer` sees an event: as its only reader, as anyone with its role, or not."""
    if event.visible_to_id is not None:
        return ("user", viewer.id) if event.visible_to_id == viewer.id else None
    return ("role", viewer.role)


class Fanout:
    """One per process: resolves and hands out what the feed reads (services/feed.py)."""

    def __init__(self, schema: strawberry.Schema, resources: Resources) -> None:
        self._schema = schema._schema
        self._resources = resources
        self._limit = asyncio.Semaphore(CONCURRENT_RESOLUTIONS)
        max_tokens = resources.settings.max_query_tokens
        # Subscriptions were validated when they started; here they are only parsed again.
        self._document: Callable[[str], DocumentNode] = lru_cache(maxsize=CACHED_DOCUMENTS)(
            lambda query: parse(query, max_tokens=max_tokens)
        )

    async def deliver(self, batch: Batch[LiveSubscription]) -> None:
        await self._check_credentials({s for _, members in batch for s in members if s.active})
        await self._check_rooms({s for _, members in batch for s in members if s.active})
        jobs: list[tuple[EventModel, list[LiveSubscription], Awaitable[str]]] = []
        for event, members in batch:
            groups: dict[tuple[Operation, tuple[str, Any]], list[LiveSubscription]] = {}
            for subscription in members:
                seen = visibility(event, subscription.viewer) if subscription.active else None
                if seen is not None:
                    groups.setdefault((subscription.operation, seen), []).append(subscription)
            for (operation, _seen), group in groups.items():
                viewer = group[0].viewer
                jobs.append((event, group, self._limited(self.resolve(event, operation, viewer))))
        results = await asyncio.gather(*(job for _, _, job in jobs))
        for (event, group, _), payload in zip(jobs, results, strict=True):
            position = Position.of(event)
            for subscription in group:
                subscription.offer(position, payload)

    async def replay(self, subscription: LiveSubscription, upto: Position) -> None:
        """Send what the subscription missed, after its cursor and up to `upto`."""
        after = subscription.following.after
        subscription.last = after if after is not None else upto
        condition = events_of(subscription.following.topic)
        while after is not None and after < upto:
            async with self._resources.session_factory() as session:
                events = await activity.replay(
                    session,
                    condition=condition,
                    viewer=subscription.viewer,
                    after=after,
                    upto=upto,
                    limit=REPLAY_PAGE,
                )
            for event in events:
                payload = await self.resolve(event, subscription.operation, subscription.viewer)
                await subscription.replayed(Position.of(event), payload)
            if len(events) < REPLAY_PAGE:
                break
            after = Position.of(events[-1])
        subscription.go_live()

    async def resolve(self, event: EventModel, operation: Operation, viewer: Viewer) -> str:
        """The result of the operation for one event, as `viewer` sees it (a viewer known to
        see it, see `visibility`): the `payload` of a `next` message, in JSON."""
        seen = visibility(event, viewer)
        if seen is not None and seen[0] == "role":
            viewer = someone_with_role(viewer.role)
        context = EventContext(self._resources, viewer)
        if event.room_id is not None:
            # A room's own item goes only to the room's subscribers, whose membership is
            # checked with each batch: the viewer of their group may see what it is about.
            context.rooms_granted = frozenset({event.room_id})
        try:
            result = await self._execute(event, operation, context)
        finally:
            await context.close()
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [masked(error).formatted for error in result.errors]
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    async def _execute(
        self, event: EventModel, operation: Operation, context: EventContext
    ) -> ExecutionResult:
        # What graphql-core's subscribe() does for each event of a source stream.
        executor = Executor.build(
            self._schema,
            self._document(operation.query),
            context_value=context,
            raw_variable_values=json.loads(operation.variables),
            operation_name=operation.operation_name,
        )
        if isinstance(executor, list):
            return ExecutionResult(None, executor)
        result = execute_subscription_event(
            executor.build_per_event_executor(ActivityEvent.of(event))
        )
        if isinstance(result, ExecutionResult):
            return result
        awaited: ExecutionResult = await result
        return awaited

    async def _limited(self, work: Awaitable[str]) -> str:
        async with self._limit:
            return await work

    async def _check_credentials(self, subscriptions: set[LiveSubscription]) -> None:
        if not subscriptions:
            return
        async with self._resources.session_factory() as session:
            holders = await credentials_in_force(session, {s.credential for s in subscriptions})
        for subscription in subscriptions:
            holder = holders.get(subscription.credential)
            if holder is None:
                subscription.active = False
                subscription.connection.refuse(4403, REVOKED)
            elif holder.role != subscription.viewer.role:
                user = subscription.viewer.user.model_copy(update={"role": holder.role})
                subscription.viewer = replace(subscription.viewer, user=user)

    async def _check_rooms(self, subscriptions: set[LiveSubscription]) -> None:
        """Members who left a room (admins enter every room) stop following it."""
        following_rooms = {
            s: s.following.topic[1]
            for s in subscriptions
            if s.following.topic[0] == ROOM and s.viewer.role != Role.ADMIN
        }
        if not following_rooms:
            return
        async with self._resources.session_factory() as session:
            members = await members_among(
                session, {(room, s.viewer.id) for s, room in following_rooms.items()}
            )
        for subscription, room in following_rooms.items():
            if (room, subscription.viewer.id) not in members:
                subscription.active = False
                subscription.connection.end(subscription, "FORBIDDEN", LEFT_THE_ROOM)

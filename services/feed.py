"""The live feed: one per process, it reads the activity log in the order live readers follow
(services/activity.py) and hands each new event to the subscriptions of its topics.

It reads with one query per wake-up for the whole process, however many subscribe, and is
woken after a local commit (Signals), by another process's message (services/broadcast.py),
and by a poll every few seconds: a lost message, or on PostgreSQL an event held back while an
older transaction was still open, is found then.

A subscription joins before it replays what it missed: `join` registers it and returns the
feed's position W in one step (between two reads of the feed), so every event after W reaches
it live, and it replays from the database up to W. Nothing falls between the two, and
duplicates are dropped by position. While nobody follows anything the feed reads nothing; the
first to join starts it at the log's end.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.activity import ActivityEvent
from services import activity
from services.activity import Position
from services.errors import unavailable
from services.faults import fault_of
from services.topics import Topic, topics_of

F = TypeVar("F", bound=Hashable)
# Each new event with the subscriptions it goes to, in the live order.
Batch = list[tuple[ActivityEvent, list[F]]]
BATCH_SIZE = 500
RETRY_FIRST_SECONDS = 0.02
logger = logging.getLogger("crm.live")


class Feed(Generic[F]):
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, poll_seconds: float
    ) -> None:
        self._session_factory = session_factory
        self.poll_seconds = poll_seconds
        self._followers: dict[Topic, dict[F, None]] = {}
        self._position: Position | None = None  # None while nobody follows anything
        self._lock = asyncio.Lock()  # joins happen between reads
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._deliver: Callable[[Batch[F]], Awaitable[None]] | None = None
        self._failing = False
        self._retry = RETRY_FIRST_SECONDS / 2

    @property
    def position(self) -> Position | None:
        """Every event up to here has been read (and handed to its subscribers)."""
        return self._position

    def deliver_to(self, deliver: Callable[[Batch[F]], Awaitable[None]]) -> None:
        self._deliver = deliver

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="crm-live-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self._wake.set()

    async def join(self, topic: Topic, follower: F) -> Position:
        """Follow `topic` from now on; the position up to which the follower must replay."""
        async with self._lock:
            if self._position is None:
                try:
                    async with self._session_factory() as session:
                        self._position = await activity.stream_head(session)
                except Exception as exc:
                    if fault_of(exc) is None:
                        raise
                    raise unavailable("Live activity cannot read the database; try again") from exc
            self._followers.setdefault(topic, {})[follower] = None
            return self._position

    def leave(self, topic: Topic, follower: F) -> None:
        followers = self._followers.get(topic)
        if followers is not None:
            followers.pop(follower, None)
            if not followers:
                del self._followers[topic]

    async def _run(self) -> None:
        wait = self.poll_seconds
        while True:
            retrying = wait < self.poll_seconds
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            woken, wait = self._wake.is_set() or retrying, self.poll_seconds
            self._wake.clear()
            try:
                async with self._lock:
                    read = await self._catch_up()
                if woken and read == 0 and self._position is not None:
                    # A commit woke us but its event is not readable yet: on PostgreSQL an
                    # older transaction (in any database of the server) is still open. Look
                    # again soon (doubling the wait up to the poll's) rather than at the poll.
                    wait = self._retry = min(self._retry * 2, self.poll_seconds)
                else:
                    self._retry = RETRY_FIRST_SECONDS / 2
            except Exception as exc:
                if not self._failing:  # once per outage, not at every poll
                    if fault_of(exc) is None:
                        logger.exception("The live feed failed to read new events")
                    else:
                        logger.warning("The live feed cannot read the database: %s", exc)
                self._failing = True
            else:
                self._failing = False

    async def _catch_up(self) -> int:
        """Read and hand out what is new; how many events were read."""
        read = 0
        while self._position is not None:
            if not self._followers:
                self._position = None  # the next to join starts at the log's end
                return read
            async with self._session_factory() as session:
                events = await activity.read_stream(session, after=self._position, limit=BATCH_SIZE)
                followed = await topics_of(session, events) if events else {}
            read += len(events)
            if not events:
                return read
            batch: Batch[F] = []
            for event in events:
                assert event.id is not None
                followers: dict[F, None] = {}
                for topic in followed.get(event.id, ()):
                    followers.update(self._followers.get(topic, {}))
                if followers:
                    batch.append((event, list(followers)))
            self._position = Position.of(events[-1])
            if batch and self._deliver is not None:
                await self._deliver(batch)
            if len(events) < BATCH_SIZE:
                return read
        return read

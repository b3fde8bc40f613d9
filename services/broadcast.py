"""Telling the service's other processes (workers, hosts) that activity was committed, through
broadcaster: memory:// within one process, redis:// across processes and hosts.

Messages are only wake-ups: the events themselves are rows of the activity log, which every
process reads for itself (services/feed.py), so a lost message costs a delay, never an event.

broadcaster 0.3 notices neither a lost Redis connection nor a restored one: its listener dies
quietly and later messages are never heard. So this wrapper checks the connection itself (it
publishes a heartbeat on the channel and expects to hear it back), reconnects with backoff and
subscribes again, logs the outage once, and tells its owner when the connection is back so that
whatever was committed meanwhile is caught up from the database at once.
"""

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Callable

from broadcaster import Broadcast as Broadcaster
from broadcaster._backends.redis import RedisBackend
from broadcaster._base import Subscriber

CHANNEL = "crm.activity"
CONNECT_TIMEOUT_SECONDS = 5.0
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
logger = logging.getLogger("crm.live")


class ConnectionLostError(Exception):
    """The broadcast channel stopped answering."""


class _Redis(RedisBackend):
    """broadcaster's Redis backend starts listening as soon as a subscription is asked for;
    redis-py (8) then finds nothing subscribed yet, stops, and never listens again. So listen
    once the subscription is in place."""

    async def subscribe(self, channel: str) -> None:
        await self._pubsub.subscribe(channel)
        self._ready.set()


def _broadcaster(url: str) -> Broadcaster:
    if url.startswith(("redis://", "rediss://")):
        return Broadcaster(backend=_Redis(url))
    return Broadcaster(url)


def redacted(url: str) -> str:
    """The URL without user and password, for logs."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    location, slash, path = rest.partition("/")
    return f"{scheme}://{location.rpartition('@')[2]}{slash}{path}"


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Broadcast:
    """One per process (a resource). `publish()` after a commit; `on_message` runs when another
    process published; `on_restored` when the connection came back after an outage."""

    def __init__(
        self,
        url: str,
        *,
        check_seconds: float,
        on_message: Callable[[], None],
        on_restored: Callable[[], None],
    ) -> None:
        self.url = url
        self.check_seconds = check_seconds
        self._on_message = on_message
        self._on_restored = on_restored
        self._origin = uuid.uuid4().hex  # our own messages come back to us; they are skipped
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lost = False
        self._beats_sent = 0
        self._beats_heard = 0
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="crm-broadcast")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def publish(self) -> None:
        """Tell the other processes that activity was committed. Never waits and never fails:
        the message goes out from a task of its own, and is dropped while the channel is down
        (the others poll the database meanwhile)."""
        self._wanted.set()

    async def _supervise(self) -> None:
        delay = BACKOFF_FIRST_SECONDS
        while True:
            try:
                await self._session()
            except BaseException as exc:
                if isinstance(exc, asyncio.CancelledError) and self._stopping():
                    raise
                if not isinstance(exc, Exception | asyncio.CancelledError):
                    raise
                # redis-py may end a broken connection with CancelledError of its own: a
                # failure like any other, unless this task is being stopped.
                self._failed(exc)
            if self.connected.is_set():
                delay = BACKOFF_FIRST_SECONDS
            self.connected.clear()
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 (jitter)
            delay = min(delay * 2, BACKOFF_MAX_SECONDS)

    def _stopping(self) -> bool:
        task = asyncio.current_task()
        return task is not None and task.cancelling() > 0

    def _failed(self, exc: BaseException) -> None:
        if not self._lost:
            self._lost = True
            logger.warning(
                "Live activity: the broadcast connection to %s is lost (%s); "
                "reconnecting, and reading new events from the database meanwhile",
                redacted(self.url),
                _describe(exc),
            )
        else:
            logger.debug("Reconnecting to %s failed: %s", redacted(self.url), _describe(exc))

    async def _session(self) -> None:
        broadcaster = _broadcaster(self.url)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                await broadcaster.connect()
            async with broadcaster.subscribe(CHANNEL) as subscriber, asyncio.TaskGroup() as tasks:
                tasks.create_task(self._listen(subscriber))
                tasks.create_task(self._heartbeat(broadcaster))
                tasks.create_task(self._publisher(broadcaster))
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                    await broadcaster.disconnect()

    async def _listen(self, subscriber: Subscriber) -> None:
        while True:
            parts = (await subscriber.get()).message.split(" ")
            if len(parts) != 3:
                continue
            kind, origin, number = parts
            if origin != self._origin:
                if kind == "wake":
                    self._on_message()
            elif kind == "beat":
                self._beats_heard = max(self._beats_heard, int(number))
                if not self.connected.is_set():
                    self._restored()

    def _restored(self) -> None:
        self.connected.set()
        if self._lost:
            self._lost = False
            logger.warning(
                "Live activity: the broadcast connection to %s is back", redacted(self.url)
            )
            self._wanted.set()  # others catch up on what we committed meanwhile
            self._on_restored()

    async def _heartbeat(self, broadcaster: Broadcaster) -> None:
        while True:
            self._beats_sent += 1
            await broadcaster.publish(CHANNEL, f"beat {self._origin} {self._beats_sent}")
            await asyncio.sleep(self.check_seconds)
            if self._beats_heard < self._beats_sent:
                raise ConnectionLostError(
                    f"no answer on the broadcast channel within {self.check_seconds} s"
                )

    async def _publisher(self, broadcaster: Broadcaster) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            await broadcaster.publish(CHANNEL, f"wake {self._origin} 0")

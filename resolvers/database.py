"""One operation's use of the database: a session opened on first use, reads that survive a
lost connection, and the mutation boundary (one transaction, effects after commit)."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.db import WRITE_TRANSACTION
from services.effects import Effect, Signals, run_effects, take_effects, take_signals
from services.errors import ErrorCode, Problem, UserFacingError
from services.faults import Fault, fault_of

T = TypeVar("T")
R = TypeVar("R")
logger = logging.getLogger("crm")

CONCURRENT_CHANGE = Problem(
    "Someone else saved a conflicting change at the same moment (for example the same key); "
    "reload and try again",
    ErrorCode.CONFLICT,
)
# A read that lost its connection runs once more; a write that collided, up to three times.
READ_ATTEMPTS = 2
WRITE_ATTEMPTS = 3


@dataclass
class Outcome(Generic[T]):
    """What a mutation produced: its value, or the problems that rolled it back."""

    value: T | None = None
    problems: list[Problem] = field(default_factory=list)

    def map(self, convert: Callable[[T], R]) -> R | None:
        """The value converted for the API, or None when the mutation was refused."""
        return convert(self.value) if self.value is not None else None


class _FaultError(Exception):
    def __init__(self, fault: Fault, maybe_saved: bool) -> None:
        super().__init__(fault.value)
        self.fault = fault
        self.maybe_saved = maybe_saved


class OperationFinishedError(RuntimeError):
    """Work for an operation that has already answered (a DataLoader batch left behind by a
    field that failed): it is not run."""


class OperationDatabase:
    """The database as one operation uses it.

    GraphQL resolves sibling fields concurrently, but a session serves one statement at a time,
    so every use of it goes through a lock. And a field whose sibling failed is cancelled while
    it may be in the middle of a statement: every use runs shielded from that, to its end, so
    the session is never left half-way for what comes next in the operation.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], signals: Signals) -> None:
        self._session_factory = session_factory
        self._signals = signals
        self._session: AsyncSession | None = None
        self._lock = asyncio.Lock()
        self._finished = False

    def _current(self) -> AsyncSession:
        if self._finished:
            raise OperationFinishedError("The operation has answered; its session is closed")
        if self._session is None:
            self._session = self._session_factory()
        return self._session

    async def close(self) -> None:
        """Give the connection back once the work in flight is done; one that broke meanwhile
        is dropped from the pool. Nothing runs on this database afterwards."""
        await _shielded(self._close())

    async def _close(self) -> None:
        async with self._lock:
            self._finished = True
            session, self._session = self._session, None
            if session is None:
                return
            try:
                await session.close()
            except Exception as exc:
                if fault_of(exc) is None:
                    logger.error("Closing a database session failed", exc_info=exc)
                with contextlib.suppress(Exception):
                    await session.invalidate()

    async def _discard(self, fault: Fault | None) -> None:
        """Drop the session after a failure; a lost connection is dropped from the pool too."""
        session, self._session = self._session, None
        if session is None:
            return
        with contextlib.suppress(Exception):  # the connection may be gone already
            if fault is Fault.LOST_CONNECTION:
                await session.invalidate()
            else:
                await session.rollback()
                await session.close()

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` with the operation's session, one user of it at a time.

        A read that loses its connection (the database restarted, a failover) runs once more
        on a fresh one; other database faults become an UNAVAILABLE error.
        """
        return await _shielded(self._read(work))

    async def _read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self._lock:
            for attempt in range(1, READ_ATTEMPTS + 1):
                try:
                    return await work(self._current())
                except Exception as exc:
                    fault = fault_of(exc)
                    if fault is None:
                        raise
                    await self._discard(fault)
                    if fault is Fault.LOST_CONNECTION and attempt < READ_ATTEMPTS:
                        continue
                    raise fault.error(writing=False) from exc
            raise AssertionError("unreachable")  # pragma: no cover

    async def mutate(self, work: Callable[[AsyncSession], Awaitable[T]]) -> Outcome[T]:
        """Run `work` in one write transaction: commit on success, roll back on any error,
        then run the effects it registered (services/effects.py) if it committed.

        Expected failures come back as problems (the payload's userErrors); database faults
        as an UNAVAILABLE error that says whether anything may have been saved; anything else
        propagates. A transaction that collided with another (a deadlock or serialization
        failure, which PostgreSQL undoes whole) runs again.
        """
        outcome, effects, topics = await _shielded(self._locked_attempts(work))
        self._signals.emit(topics)
        await run_effects(effects)
        return outcome

    async def _locked_attempts(
        self, work: Callable[[AsyncSession], Awaitable[T]]
    ) -> tuple[Outcome[T], list[Effect], set[str]]:
        async with self._lock:
            return await self._attempts(work)

    async def _attempts(
        self, work: Callable[[AsyncSession], Awaitable[T]]
    ) -> tuple[Outcome[T], list[Effect], set[str]]:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                return await self._attempt(work)
            except _FaultError as failure:
                collided = failure.fault is Fault.COLLISION
                if collided and attempt < WRITE_ATTEMPTS and not failure.maybe_saved:
                    continue
                raise failure.fault.error(
                    writing=True, maybe_saved=failure.maybe_saved
                ) from failure.__cause__
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self, work: Callable[[AsyncSession], Awaitable[T]]
    ) -> tuple[Outcome[T], list[Effect], set[str]]:
        session = self._current()
        committing = False
        try:
            if session.in_transaction():
                await session.commit()  # end the read transaction of earlier fields
            # None may be left over from an attempt that failed.
            take_effects(session)
            take_signals(session)
            await session.connection(execution_options={WRITE_TRANSACTION: True})
            value = await work(session)
            committing = True
            await session.commit()
        except UserFacingError as exc:
            await self._roll_back(session)
            return Outcome(problems=exc.problems), [], set()
        except IntegrityError:
            # Services check keys and values first; a constraint firing anyway means a
            # concurrent request took the same key or value a moment earlier.
            await self._roll_back(session)
            return Outcome(problems=[CONCURRENT_CHANGE]), [], set()
        except Exception as exc:
            fault = fault_of(exc)
            await self._discard(fault)
            if fault is None:
                raise
            # A connection lost during COMMIT leaves the outcome unknown.
            maybe_saved = committing and fault is Fault.LOST_CONNECTION
            raise _FaultError(fault, maybe_saved) from exc
        except BaseException:
            await self._discard(None)
            raise
        return Outcome(value=value), take_effects(session), take_signals(session)

    @staticmethod
    async def _roll_back(session: AsyncSession) -> None:
        await session.rollback()
        take_effects(session)
        take_signals(session)


async def _shielded(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to its end even if the caller is cancelled meanwhile (its result then goes
    unused, and an error it raises is only logged at debug level)."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_unwanted)
        raise


def _unwanted(task: "asyncio.Future[Any]") -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("Work of a cancelled field failed", exc_info=task.exception())

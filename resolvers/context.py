"""The per-request Context: database session, who is asking, DataLoaders, mutation boundary."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.db import WRITE_TRANSACTION
from models.users import Role
from resolvers.loaders import Loaders
from services.auth import Viewer, authenticate
from services.errors import AuthError, ErrorCode, Problem, UserFacingError
from services.faults import Fault, fault_of
from services.network import UNKNOWN_CLIENT
from services.passwords import PasswordHashing
from services.settings import Settings

T = TypeVar("T")
logger = logging.getLogger("crm")

CONCURRENT_CHANGE = Problem(
    "Someone else saved a conflicting change at the same moment (for example the same key); "
    "reload and try again",
    ErrorCode.CONFLICT,
)

ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2}


# A read that lost its connection runs once more; a write that collided, up to three times.
READ_ATTEMPTS = 2
WRITE_ATTEMPTS = 3


class _FaultError(Exception):
    def __init__(self, fault: Fault, maybe_saved: bool) -> None:
        super().__init__(fault.value)
        self.fault = fault
        self.maybe_saved = maybe_saved


@dataclass
class Outcome(Generic[T]):
    """What a mutation produced: its value, or the problems that rolled it back."""

    value: T | None = None
    problems: list[Problem] = field(default_factory=list)


class Context:
    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        passwords: PasswordHashing,
        token: str | None,
        client: str = UNKNOWN_CLIENT,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.passwords = passwords
        self.token = token
        self.client = client  # the network address the request came from
        self._session: AsyncSession | None = None
        self._viewer: Viewer | None = None
        self._auth_error: AuthError | None = None
        self._authenticated = False
        # GraphQL resolves sibling fields concurrently, but a database session serves one
        # statement at a time: every use of it goes through this lock.
        self._lock = asyncio.Lock()
        self._auth_lock = asyncio.Lock()
        self.loaders = Loaders(self.read)

    # --- database ----------------------------------------------------------------------------

    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self.session_factory()
        return self._session

    async def close(self) -> None:
        """Give the connection back; one that broke meanwhile is dropped from the pool."""
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

    async def _discard_session(self, fault: Fault | None) -> None:
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
        """Run `work` with the request's session, one user of it at a time.

        A read that loses its connection (the database restarted, a failover) runs once more
        on a fresh one; other database faults become an UNAVAILABLE error.
        """
        async with self._lock:
            for attempt in range(1, READ_ATTEMPTS + 1):
                try:
                    return await work(self.session())
                except Exception as exc:
                    fault = fault_of(exc)
                    if fault is None:
                        raise
                    await self._discard_session(fault)
                    if fault is Fault.LOST_CONNECTION and attempt < READ_ATTEMPTS:
                        continue
                    raise fault.error(writing=False) from exc
            raise AssertionError("unreachable")  # pragma: no cover

    async def mutate(self, work: Callable[[AsyncSession], Awaitable[T]]) -> Outcome[T]:
        """Run `work` in one write transaction: commit on success, roll back on any error.

        Expected failures come back as problems (the payload's userErrors); database faults
        as an UNAVAILABLE error that says whether anything may have been saved; anything else
        propagates. A transaction that collided with another (a deadlock or serialization
        failure, which PostgreSQL undoes whole) runs again. DataLoaders are emptied afterwards
        so the payload shows committed state.
        """
        async with self._lock:
            try:
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
            finally:
                self.loaders = Loaders(self.read)

    async def _attempt(self, work: Callable[[AsyncSession], Awaitable[T]]) -> Outcome[T]:
        session = self.session()
        committing = False
        try:
            if session.in_transaction():
                await session.commit()  # end the read transaction of earlier fields
            await session.connection(execution_options={WRITE_TRANSACTION: True})
            value = await work(session)
            committing = True
            await session.commit()
        except UserFacingError as exc:
            await session.rollback()
            return Outcome(problems=exc.problems)
        except IntegrityError:
            # Services check keys and values first; a constraint firing anyway means a
            # concurrent request took the same key or value a moment earlier.
            await session.rollback()
            return Outcome(problems=[CONCURRENT_CHANGE])
        except Exception as exc:
            fault = fault_of(exc)
            await self._discard_session(fault)
            if fault is None:
                raise
            # A connection lost during COMMIT leaves the outcome unknown.
            maybe_saved = committing and fault is Fault.LOST_CONNECTION
            raise _FaultError(fault, maybe_saved) from exc
        except BaseException:
            await self._discard_session(None)
            raise
        return Outcome(value=value)

    # --- who is asking -----------------------------------------------------------------------

    async def _authenticate(self) -> None:
        async with self._auth_lock:  # sibling resolvers ask at the same time; look up once
            if self._authenticated:
                return
            self._authenticated = True
            if self.token is None:
                return
            try:
                self._viewer = await self.read(partial(_viewer_for, self.token))
            except AuthError as exc:
                self._auth_error = exc

    async def viewer_or_none(self) -> Viewer | None:
        """The signed-in viewer, None when anonymous; a bad token is still an error."""
        await self._authenticate()
        if self._auth_error is not None:
            raise self._auth_error
        return self._viewer

    async def require(self, role: Role = Role.VIEWER) -> Viewer:
        viewer = await self.viewer_or_none()
        if viewer is None:
            raise AuthError("Sign in first: send Authorization: Bearer <token>")
        if ROLE_RANK[viewer.role] < ROLE_RANK[role]:
            raise AuthError(f"This needs the {role} role; you are {viewer.role}", "FORBIDDEN")
        return viewer


async def _viewer_for(token: str, session: AsyncSession) -> Viewer:
    viewer = await authenticate(session, token)
    # Detached, so that a rolled-back mutation (which expires what the session loaded) leaves
    # the viewer readable for the rest of the request.
    session.expunge(viewer.user)
    return viewer

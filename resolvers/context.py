"""The per-request Context: database session, who is asking, DataLoaders, mutation boundary."""

import asyncio
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
from services.network import UNKNOWN_CLIENT
from services.passwords import PasswordHashing
from services.settings import Settings

T = TypeVar("T")

CONCURRENT_CHANGE = Problem(
    "Someone else saved a conflicting change at the same moment (for example the same key); "
    "reload and try again",
    ErrorCode.CONFLICT,
)

ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2}


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
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` with the request's session, one user of it at a time."""
        async with self._lock:
            return await work(self.session())

    async def mutate(self, work: Callable[[AsyncSession], Awaitable[T]]) -> Outcome[T]:
        """Run `work` in one write transaction: commit on success, roll back on any error.

        Expected failures come back as problems (the payload's userErrors); anything else
        propagates. DataLoaders are emptied afterwards so the payload shows committed state.
        """
        async with self._lock:
            return await self._mutate(work)

    async def _mutate(self, work: Callable[[AsyncSession], Awaitable[T]]) -> Outcome[T]:
        session = self.session()
        if session.in_transaction():
            await session.commit()  # end the read transaction of earlier fields
        await session.connection(execution_options={WRITE_TRANSACTION: True})
        try:
            value = await work(session)
            await session.commit()
        except UserFacingError as exc:
            await session.rollback()
            return Outcome(problems=exc.problems)
        except IntegrityError:
            # Services check keys and values first; a constraint firing anyway means a
            # concurrent request took the same key or value a moment earlier.
            await session.rollback()
            return Outcome(problems=[CONCURRENT_CHANGE])
        except BaseException:
            await session.rollback()
            raise
        finally:
            self.loaders = Loaders(self.read)
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

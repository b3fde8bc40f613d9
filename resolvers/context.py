"""The Context of one GraphQL operation: who is asking, the operation's database session and
DataLoaders, and the resources of the service.

It is built for one operation and thrown away after it (an HTTP request; later each event a
subscription resolves), so a session is never held for long, DataLoaders never serve stale
rows, and a token revoked meanwhile stops working at the next operation.
"""

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from models.users import Role
from resolvers.database import OperationDatabase, Outcome
from resolvers.loaders import Loaders
from resolvers.resources import Resources
from services.auth import Viewer, authenticate
from services.errors import AuthError
from services.network import UNKNOWN_CLIENT
from services.passwords import PasswordHashing
from services.settings import Settings

T = TypeVar("T")

ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2}


class Context:
    # Project rooms the operation may enter whatever the viewer's memberships: a live event of
    # a room's own item is resolved for its subscribers, checked to be the room's members.
    rooms_granted: frozenset[int] = frozenset()

    def __init__(
        self, resources: Resources, *, token: str | None, client: str = UNKNOWN_CLIENT
    ) -> None:
        self.resources = resources
        self.token = token
        self.client = client  # the network address the operation came from
        self._database = OperationDatabase(resources.session_factory, resources.signals)
        self._viewer: Viewer | None = None
        self._auth_error: AuthError | None = None
        self._authenticated = False
        self._auth_lock = asyncio.Lock()
        self.loaders = Loaders(self.read)

    @property
    def settings(self) -> Settings:
        return self.resources.settings

    @property
    def passwords(self) -> PasswordHashing:
        return self.resources.passwords

    # --- database ----------------------------------------------------------------------------

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` with the operation's session (see OperationDatabase.read)."""
        return await self._database.read(work)

    async def mutate(self, work: Callable[[AsyncSession], Awaitable[T]]) -> Outcome[T]:
        """Run `work` as one transaction (see OperationDatabase.mutate). DataLoaders are
        emptied afterwards, so the payload shows committed state."""
        try:
            return await self._database.mutate(work)
        finally:
            self.loaders = Loaders(self.read)

    async def close(self) -> None:
        await self._database.close()

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
    # the viewer readable for the rest of the operation.
    session.expunge(viewer.user)
    return viewer

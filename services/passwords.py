"""Password hashing with argon2, off the event loop and a bounded number at a time.

One check costs a noticeable fraction of a second of CPU and 64 MiB of memory. Anyone may ask
for one (a sign-in needs no account), so without a bound a burst of anonymous sign-ins would
occupy every core and starve everybody else's requests. At most `concurrency` hashes run at
once and `queue` more wait for their turn; a request beyond that is refused at once with a
RATE_LIMITED error that tells the client to try again shortly.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.errors import rate_limited

_hasher = PasswordHasher()
# Verified against when an e-mail address is unknown, so that the time taken does not reveal
# which addresses have an account.
_DUMMY_HASH = _hasher.hash("not a real password")


class PasswordHashing:
    def __init__(self, *, concurrency: int, queue: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._queue = queue
        self._waiting = 0

    async def hash(self, password: str) -> str:
        async with self._turn():
            return await anyio.to_thread.run_sync(_hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether the password fits the hash; with no hash (an unknown account) the same
        work is done against a stand-in, and the answer is no."""

        def verify() -> bool:
            try:
                return _hasher.verify(password_hash or _DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                return False

        async with self._turn():
            valid = await anyio.to_thread.run_sync(verify)
        return valid and password_hash is not None

    def ensure_room(self) -> None:
        """Refuse at once, before any other work for the request, when there is no room."""
        if self._slots.locked() and self._waiting >= self._queue:
            raise rate_limited(
                "The server is busy checking passwords; try again in a moment", retry_after=1
            )

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """A place among the running hashes, after queueing for one if the queue has room."""
        self.ensure_room()
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()

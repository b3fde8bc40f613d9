"""Where the contents of files live: a local folder or S3, behind one interface.

The service keeps one Storage for its life (a resource). Every operation streams: a put takes
chunks as they arrive and never holds a whole file, a read hands out a byte range chunk by
chunk. Disk and boto3 calls block, so they run in threads and the event loop stays free.

`CRM_STORAGE_URL` chooses the backend: `file:./var/files` (or a plain folder) or
`s3://bucket/prefix` (with the standard AWS settings, and `CRM_S3_ENDPOINT_URL` for
S3-compatible servers).
"""

import asyncio
import functools
import hashlib
import re
import string
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from services.settings import Settings

T = TypeVar("T")

# How much a reader hands out at a time.
READ_CHUNK_BYTES = 256 * 1024
# Keys are made by the service (files/<random hex>), never from a client's file name.
_KEY = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*\Z")
MAX_KEY_LENGTH = 400
# RFC 8187's attr-char: what stays as it is in `filename*=`.
_ATTR_CHARS = frozenset((string.ascii_letters + string.digits + "!#$&+-.^_`|~").encode())


class StorageError(Exception):
    """A storage operation that did not happen."""


class StorageUnavailableError(StorageError):
    """The storage cannot be reached or written right now (an outage, a full disk)."""


class ObjectTooLargeError(StorageError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The stream is larger than {limit} bytes")
        self.limit = limit


class ObjectMissingError(StorageError):
    """No object is stored under the key."""


class InvalidKeyError(ValueError):
    """A key that could name something outside the storage."""


def check_key(key: str) -> str:
    if len(key) > MAX_KEY_LENGTH or not _KEY.match(key) or ".." in key.split("/"):
        raise InvalidKeyError(f"{key[:100]!r} is not a storage key")
    return key


@dataclass(frozen=True)
class StoredObject:
    size: int
    sha256: str


@dataclass(frozen=True)
class PresignedUpload:
    url: str
    headers: dict[str, str]  # what the PUT must send, as signed


class ObjectReader(ABC):
    """An open byte range of an object: `length` bytes, handed out in chunks."""

    length: int

    @abstractmethod
    def chunks(self) -> AsyncIterator[bytes]: ...

    @abstractmethod
    async def close(self) -> None: ...


class Storage(ABC):
    # Whether clients can PUT straight into the storage (presigned URLs).
    direct_upload: bool = False

    @abstractmethod
    async def put(self, key: str, chunks: AsyncIterable[bytes], *, max_size: int) -> StoredObject:
        """Store the stream under `key`, counting and hashing it on the way. A stream over
        `max_size` bytes raises ObjectTooLargeError; on any failure nothing stays stored."""

    @abstractmethod
    async def open(self, key: str, start: int = 0, end: int | None = None) -> ObjectReader:
        """The bytes from `start` up to `end` (exclusive; None: to the end). Opening is what
        fails on a missing object or an outage, so a caller can answer before streaming."""

    @abstractmethod
    async def size(self, key: str) -> int | None:
        """The object's size, None when there is none."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""

    @abstractmethod
    async def copy(self, source: str, target: str) -> None: ...

    @abstractmethod
    async def digest(self, key: str) -> StoredObject:
        """Size and SHA-256 of a stored object, read as a stream."""

    async def presigned_get(
        self, key: str, *, filename: str, content_type: str, expires_in: int
    ) -> str | None:
        """A URL that downloads the object without credentials, where the backend has one."""
        return None

    async def presigned_put(
        self, key: str, *, content_type: str, expires_in: int
    ) -> PresignedUpload | None:
        """A URL a client can PUT the object to, where the backend has one."""
        return None

    async def close(self) -> None:
        return None


class Hashing:
    """Counts and hashes a stream while it is stored, refusing it past a size."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.size = 0
        self._sha256 = hashlib.sha256()

    def update(self, data: bytes | bytearray) -> None:
        self.size += len(data)
        if self.size > self.max_size:
            raise ObjectTooLargeError(self.max_size)
        self._sha256.update(data)

    def result(self) -> StoredObject:
        return StoredObject(self.size, self._sha256.hexdigest())


async def batched(chunks: AsyncIterable[bytes], size: int) -> AsyncIterator[bytearray]:
    """The stream regrouped into batches of at least `size` bytes (the last may be smaller),
    so that each thread hop writes a useful amount. A batch is not touched after it is handed
    out, so the consumer may keep it."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) >= size:
            yield buffer
            buffer = bytearray()
    if buffer:
        yield buffer


class Blocking:
    """Blocking calls on one resource (an open file, a multipart upload), run in a thread one at
    a time. A caller cancelled while a call runs leaves it running; `settle` waits for it, so
    clean-up never races a write that is still going on."""

    def __init__(self) -> None:
        self._pending: asyncio.Future[Any] | None = None

    async def run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        work = functools.partial(call, *args, **kwargs)
        pending = self._pending = loop.run_in_executor(None, work)
        result: T = await asyncio.shield(pending)
        return result

    async def settle(self) -> None:
        if self._pending is not None and not self._pending.done():
            await asyncio.wait([self._pending])


async def clean_up(work: Coroutine[Any, Any, None]) -> None:
    """Run clean-up to its end even if the caller is cancelled again meanwhile."""
    await asyncio.shield(asyncio.ensure_future(work))


def content_disposition(filename: str) -> str:
    """`attachment` with the name for every browser: an ASCII fallback in `filename` and the
    exact name in `filename*` (RFC 6266, RFC 8187) when it is not plain ASCII."""
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else "_" for c in filename)
    disposition = f'attachment; filename="{fallback}"'
    if fallback != filename:
        disposition += f"; filename*=UTF-8''{_percent_encoded(filename)}"
    return disposition


def _percent_encoded(text: str) -> str:
    return "".join(
        chr(byte) if byte in _ATTR_CHARS else f"%{byte:02X}" for byte in text.encode("utf-8")
    )


def local_folder(url: str) -> Path | None:
    """The folder a `file:` URL (or a plain path) names; None for S3."""
    if url.startswith("s3://"):
        return None
    return Path(url.removeprefix("file:"))


async def connect_storage(settings: Settings) -> Storage:
    """The storage `CRM_STORAGE_URL` names, for the service's life (close it at the end)."""
    folder = local_folder(settings.storage_url)
    # Imported here: the backends build on this module, and boto3 takes a while to import.
    if folder is not None:
        from services.storage.local import LocalStorage

        return LocalStorage(folder)
    from services.storage.s3 import S3Storage

    return await S3Storage.connect(settings.storage_url, endpoint_url=settings.s3_endpoint_url)

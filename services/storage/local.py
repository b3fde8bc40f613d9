"""Files in a local folder: the embedded default (`CRM_STORAGE_URL=file:./var/files`).

An object is written under a temporary name in the same folder and renamed into place once
complete and flushed to disk, so a reader never sees half a file and a failed write leaves
nothing under its key. Keys are checked, and their paths resolved, so none reaches outside
the folder.
"""

import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from services.storage import (
    READ_CHUNK_BYTES,
    Blocking,
    Hashing,
    InvalidKeyError,
    ObjectMissingError,
    ObjectReader,
    Storage,
    StorageUnavailableError,
    StoredObject,
    batched,
    check_key,
    clean_up,
)

# Writes are gathered into batches this large: one thread hop each.
WRITE_BATCH_BYTES = 1024 * 1024
# Partly written objects; keys begin with a letter or digit, so none can name this folder.
PARTIAL = ".partial"
T = TypeVar("T")


def _outage(exc: OSError) -> StorageUnavailableError:
    reason = exc.strerror or type(exc).__name__
    return StorageUnavailableError(f"The file folder cannot be used: {reason}")


class LocalStorage(Storage):
    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()

    def _path(self, key: str) -> Path:
        path = (self.folder / check_key(key)).resolve()
        if not path.is_relative_to(self.folder) or path == self.folder:
            raise InvalidKeyError(f"{key[:100]!r} leads outside the storage folder")
        return path

    async def put(self, key: str, chunks: AsyncIterable[bytes], *, max_size: int) -> StoredObject:
        target = self._path(key)
        partial = self.folder / PARTIAL / uuid.uuid4().hex
        hashing = Hashing(max_size)
        blocking = Blocking()
        handle = await _call(_create, partial, blocking=blocking)
        try:
            async for batch in batched(chunks, WRITE_BATCH_BYTES):
                await _call(_write, handle, hashing, batch, blocking=blocking)
            await _call(_finish, handle, partial, target, blocking=blocking)
        except BaseException:
            # Whatever failed, the source stream or the disk, the partial file goes.
            await clean_up(_discard(blocking, handle, partial))
            raise
        return hashing.result()

    async def open(self, key: str, start: int = 0, end: int | None = None) -> ObjectReader:
        path = self._path(key)
        blocking = Blocking()
        try:
            handle, size = await blocking.run(_open_at, path, start)
        except FileNotFoundError:
            raise ObjectMissingError(key) from None
        except OSError as exc:
            raise _outage(exc) from exc
        stop = size if end is None else min(end, size)
        return _FileReader(handle, blocking, max(stop - start, 0))

    async def size(self, key: str) -> int | None:
        path = self._path(key)
        return await _call(_size_of, path)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await _call(path.unlink, True)

    async def copy(self, source: str, target: str) -> None:
        source_path, target_path = self._path(source), self._path(target)
        partial = self.folder / PARTIAL / uuid.uuid4().hex

        def copy() -> None:
            partial.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(source_path, partial)
                target_path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(partial, target_path)
            finally:
                partial.unlink(missing_ok=True)

        try:
            await _call(copy)
        except FileNotFoundError:
            raise ObjectMissingError(source) from None

    async def digest(self, key: str) -> StoredObject:
        path = self._path(key)
        try:
            return await _call(_digest, path)
        except FileNotFoundError:
            raise ObjectMissingError(key) from None


async def _call(function: Callable[..., T], *args: Any, blocking: Blocking | None = None) -> T:
    """Run a blocking file operation in a thread; a failing disk is an outage."""
    try:
        return await (blocking or Blocking()).run(function, *args)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _outage(exc) from exc


class _FileReader(ObjectReader):
    def __init__(self, handle: IO[bytes], blocking: Blocking, length: int) -> None:
        self._handle = handle
        self._blocking = blocking
        self.length = length

    async def chunks(self) -> AsyncIterator[bytes]:
        left = self.length
        while left > 0:
            try:
                data = await self._blocking.run(self._handle.read, min(READ_CHUNK_BYTES, left))
            except OSError as exc:
                raise _outage(exc) from exc
            if not data:  # the file shrank under us; the caller sees a short body
                return
            left -= len(data)
            yield data

    async def close(self) -> None:
        await self._blocking.settle()
        await self._blocking.run(self._handle.close)


# --- blocking parts, run in threads ------------------------------------------------------------


def _create(partial: Path) -> IO[bytes]:
    partial.parent.mkdir(parents=True, exist_ok=True)
    return partial.open("xb")


def _write(handle: IO[bytes], hashing: Hashing, data: bytearray) -> None:
    hashing.update(data)  # refuses a stream over the limit before it is written
    handle.write(data)


def _finish(handle: IO[bytes], partial: Path, target: Path) -> None:
    handle.flush()
    os.fsync(handle.fileno())  # the bytes are on disk before the row that names them commits
    handle.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, target)


async def _discard(blocking: Blocking, handle: IO[bytes], partial: Path) -> None:
    await blocking.settle()

    def discard() -> None:
        with contextlib.suppress(OSError):  # the outage that got us here may still be on
            handle.close()
            partial.unlink(missing_ok=True)

    await Blocking().run(discard)


def _open_at(path: Path, start: int) -> tuple[IO[bytes], int]:
    handle = path.open("rb")
    try:
        size = os.fstat(handle.fileno()).st_size
        handle.seek(start)
    except BaseException:
        handle.close()
        raise
    return handle, size


def _size_of(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _digest(path: Path) -> StoredObject:
    sha256 = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while data := handle.read(READ_CHUNK_BYTES):
            sha256.update(data)
            size += len(data)
    return StoredObject(size, sha256.hexdigest())

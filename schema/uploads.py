"""Files sent with a mutation, after the GraphQL multipart request spec
(https://github.com/jaydenseric/graphql-multipart-request-spec).

A `multipart/form-data` body holds, in this order, an `operations` part (the JSON request,
with null where files go), a `map` part (which file part goes where: `{"0": ["variables.file"]}`)
and the file parts. The body is parsed as it arrives, and each file part is piped straight into
storage, counted and hashed on the way: no file is ever held whole, in memory or in a temporary
file. The operation runs once every file is stored, with each file in place as an Upload value
(resolvers.files.ReceivedFile); a file that no committed row came to name is deleted when the
request is answered.

Protection against cross-site requests, as the spec's security notes ask: a browser sends a
multipart form from another site without asking first, but not with a custom header, so a
multipart request must carry `GraphQL-Require-Preflight` (or Apollo's `Apollo-Require-Preflight`).
The operation is checked (a mutation, a signed-in member) before any file is stored.
"""

import copy
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from resolvers.files import ReceivedFile
from services.files import new_storage_key
from services.storage import (
    ObjectTooLargeError,
    Storage,
    StorageError,
    StorageUnavailableError,
    clean_up,
)

logger = logging.getLogger("crm")

MULTIPART = "multipart/form-data"
PREFLIGHT_HEADERS = ("graphql-require-preflight", "apollo-require-preflight")
# The operations and map parts are JSON: as large as a JSON request may be.
MAX_FIELD_BYTES = 1024 * 1024
MAX_FILES = 10


class UploadError(Exception):
    """A multipart request that cannot run: answered with `status` and nothing stored."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str = "BAD_REQUEST",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = dict(headers or {})


def is_multipart(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == MULTIPART


def _bad(message: str) -> UploadError:
    return UploadError(400, message)


@dataclass(frozen=True)
class _Part:
    name: str
    filename: str | None
    content_type: str | None


class _PartReader:
    """Parts of a multipart body, pulled as the body arrives: the parser's callbacks queue what
    each received chunk held, and a chunk is read only when the queue is empty."""

    def __init__(self, body: AsyncIterator[bytes], boundary: bytes) -> None:
        self._body = body
        self._events: deque[tuple[str, Any]] = deque()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._headers.clear,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value_data,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": lambda: self._events.append(("end_of_part", None)),
                "on_end": lambda: self._events.append(("end_of_body", None)),
            },
        )
        self._in_part = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        name = self._header_name.decode("latin-1").strip().lower()
        self._headers[name] = bytes(self._header_value).strip()
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        self._events.append(("part", dict(self._headers)))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._events.append(("data", data[start:end]))

    async def _next_event(self) -> tuple[str, Any]:
        while not self._events:
            try:
                chunk = await anext(self._body, None)
            except ClientDisconnect:
                raise _bad("The client went away before the request was complete") from None
            if chunk is None:
                raise _bad("The multipart body ended before its closing boundary")
            try:
                self._parser.write(chunk)
            except FormParserError as exc:
                raise _bad(f"The multipart body is malformed: {exc}") from None
        return self._events.popleft()

    async def next_part(self) -> _Part | None:
        """The next part's headers (skipping what is left of the current one), None at the end."""
        while True:
            kind, value = await self._next_event()
            if kind == "part":
                self._in_part = True
                return _part(value)
            if kind == "end_of_body":
                return None

    async def data(self) -> AsyncIterator[bytes]:
        """The current part's bytes, as they arrive."""
        while self._in_part:
            kind, value = await self._next_event()
            if kind == "data":
                yield value
            elif kind == "end_of_part":
                self._in_part = False

    async def field(self, name: str) -> bytes:
        """The whole of the next part, which must be the field `name`."""
        part = await self.next_part()
        if part is None or part.name != name:
            found = "nothing" if part is None else f"{part.name!r}"
            raise _bad(
                f"A multipart request starts with the fields `operations` and `map`, in this "
                f"order, then the files; expected {name!r}, found {found}"
            )
        value = bytearray()
        async for chunk in self.data():
            value += chunk
            if len(value) > MAX_FIELD_BYTES:
                raise UploadError(413, f"The `{name}` field is larger than {MAX_FIELD_BYTES} bytes")
        return bytes(value)


def _part(headers: dict[str, bytes]) -> _Part:
    disposition, options = parse_options_header(headers.get("content-disposition"))
    if disposition != b"form-data" or b"name" not in options:
        raise _bad("A multipart part has no Content-Disposition: form-data with a name")
    filename = options.get(b"filename")
    content_type = headers.get("content-type")
    return _Part(
        name=options[b"name"].decode("utf-8", "replace"),
        # Browsers send names as UTF-8 (RFC 7578); the parser read them as Latin-1 bytes.
        filename=filename.decode("utf-8", "replace") if filename is not None else None,
        content_type=content_type.decode("latin-1") if content_type else None,
    )


def _json_object(raw: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _bad(f"The `{name}` field is not valid JSON: {exc}") from None
    if isinstance(value, list) and name == "operations":
        raise _bad("Batching is not supported: send one operation per request")
    if not isinstance(value, dict):
        raise _bad(f"The `{name}` field must be a JSON object")
    return value


class MultipartRequest:
    """A multipart GraphQL request: its operations and map read, its files not yet."""

    def __init__(
        self, reader: _PartReader, operations: dict[str, Any], files: dict[str, list[str]]
    ) -> None:
        self._reader = reader
        self.operations = operations
        self.files = files

    @classmethod
    async def start(cls, request: Request) -> "MultipartRequest":
        """Check the request and read up to its first file."""
        if not any(request.headers.get(name) for name in PREFLIGHT_HEADERS):
            raise UploadError(
                400,
                "A multipart request must carry the header GraphQL-Require-Preflight: 1, which "
                "a browser sends only after asking this service first, so other sites cannot "
                "upload in someone's name",
                "PREFLIGHT_REQUIRED",
            )
        _, options = parse_options_header(request.headers.get("content-type"))
        boundary = options.get(b"boundary")
        if not boundary:
            raise _bad("The multipart Content-Type has no boundary")
        try:
            reader = _PartReader(request.stream().__aiter__(), boundary)
        except FormParserError as exc:
            raise _bad(f"The multipart boundary cannot be used: {exc}") from None
        operations = _json_object(await reader.field("operations"), "operations")
        files = _file_map(_json_object(await reader.field("map"), "map"), operations)
        return cls(reader, operations, files)

    @asynccontextmanager
    async def stored(self, storage: Storage, max_file_bytes: int) -> AsyncIterator[dict[str, Any]]:
        """Store the files as they arrive, and give the operations with each file in place.
        Files that no committed row kept are deleted on the way out, whatever happened."""
        received: list[ReceivedFile] = []
        try:
            by_part = await self._store(storage, max_file_bytes, received)
            yield _with_files(self.operations, self.files, by_part)
        finally:
            await clean_up(_delete_unkept(storage, received))

    async def _store(
        self, storage: Storage, max_file_bytes: int, received: list[ReceivedFile]
    ) -> dict[str, ReceivedFile]:
        by_part: dict[str, ReceivedFile] = {}
        while (part := await self._reader.next_part()) is not None:
            if part.name not in self.files or part.name in by_part:
                raise _bad(
                    f"The part {part.name!r} is not a file that `map` names (or it came twice)"
                )
            if part.filename is None:
                raise _bad(f"The part {part.name!r} is not a file: it has no filename")
            key = new_storage_key()
            try:
                stored = await storage.put(key, self._reader.data(), max_size=max_file_bytes)
            except ObjectTooLargeError:
                raise UploadError(
                    413,
                    f"The file {part.filename[:100]!r} is larger than {max_file_bytes} bytes, the "
                    "most a file may hold (CRM_MAX_UPLOAD_BYTES); nothing was saved",
                    "TOO_LARGE",
                ) from None
            except StorageUnavailableError as exc:
                raise UploadError(
                    503,
                    f"{exc}; nothing was saved, try again shortly",
                    "UNAVAILABLE",
                    {"Retry-After": "2"},
                ) from None
            by_part[part.name] = ReceivedFile(key, part.filename, part.content_type, stored)
            received.append(by_part[part.name])
        missing = sorted(set(self.files) - set(by_part))
        if missing:
            raise _bad(f"`map` names the file part {missing[0]!r}, but the request has none")
        return by_part


def _file_map(raw: dict[str, Any], operations: dict[str, Any]) -> dict[str, list[str]]:
    """`map`, checked before any file is read: each part goes to null values in `variables`."""
    if len(raw) > MAX_FILES:
        raise UploadError(413, f"A request may carry at most {MAX_FILES} files")
    files: dict[str, list[str]] = {}
    for name, paths in raw.items():
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise _bad(
                f"`map` must give each file part a list of paths, as "
                f"{{{name!r}: ['variables.file']}}"
            )
        for path in paths:
            if not path.startswith("variables.") or _at(operations, path) is not None:
                raise _bad(
                    f"`map` sends the part {name!r} to {path[:100]!r}, which is not a null "
                    "value in `variables` of `operations`"
                )
        files[name] = paths
    return files


_NOWHERE = object()


def _at(operations: Any, path: str) -> Any:
    """The value at a dotted path (list items by number), or _NOWHERE."""
    value = operations
    for step in path.split("."):
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return _NOWHERE
    return value


def _with_files(
    operations: dict[str, Any], files: dict[str, list[str]], by_part: dict[str, ReceivedFile]
) -> dict[str, Any]:
    placed = copy.deepcopy(operations)
    for name, paths in files.items():
        for path in paths:
            *parents, last = path.split(".")
            container: Any = placed
            for step in parents:
                container = container[int(step)] if isinstance(container, list) else container[step]
            if isinstance(container, list):
                container[int(last)] = by_part[name]
            else:
                container[last] = by_part[name]
    return placed


async def _delete_unkept(storage: Storage, received: list[ReceivedFile]) -> None:
    for file in received:
        if file.kept:
            continue
        try:
            await storage.delete(file.key)
        except StorageError:
            logger.error("A stored upload could not be deleted and stays orphaned: %s", file.key)

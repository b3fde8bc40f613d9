"""GET (and HEAD) /files/<File id>: a file's contents, streamed from storage.

Credentials are the Authorization header (a session token or an API key), or a signed link:
`File.downloadUrl` on local storage (on S3 it is a presigned URL of S3 itself). Credentials are
checked before the file is looked up, so someone who may not see files learns nothing about
which exist: no or bad credentials answer 401, an altered, expired or revoked link 403, and a
signed-in user asking for a file that is not there (or not downloadable) 404, each with a JSON
error like the API's.

The answer is an attachment (never shown inline, never sniffed) with the name in
`Content-Disposition` (RFC 6266, `filename*` for names beyond ASCII), `Content-Length`, a strong
`ETag` (the SHA-256) for `If-None-Match`, and single byte ranges (206, or 416 when unsatisfiable;
several ranges get the whole file). The database connection is given back before the first byte
is sent.

The same route serves exports (/files/<Export id>, from `contactsExport` and `reportExport`) to
the user who asked for them: the file is written as it is sent (services/exports.py), so it has
no length or ETag; what no longer holds (a filter on a field since archived) answers 409 before
the first byte.
"""

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from models.exports import Export
from models.files import FileState, StoredFile
from models.types import utcnow
from models.users import User
from resolvers.resources import Resources
from services.auth import Viewer, authenticate, token_from_authorization
from services.errors import (
    AuthError,
    BadRequestError,
    ErrorCode,
    RetryableError,
    UserFacingError,
)
from services.exports import open_export
from services.faults import fault_of
from services.ids import decode_global_id
from services.owners import check_room_access
from services.storage import (
    ObjectMissingError,
    ObjectReader,
    StorageError,
    StorageUnavailableError,
    clean_up,
    content_disposition,
)
from services.storage.links import LinkError

logger = logging.getLogger("crm")

_RANGE = re.compile(r"\Abytes=(\d*)-(\d*)\Z")


class _RefusedError(Exception):
    def __init__(
        self, status: int, message: str, code: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers or {}

    def response(self) -> Response:
        body = {"errors": [{"message": str(self), "extensions": {"code": self.code}}]}
        return JSONResponse(body, self.status, headers=self.headers)


def _not_found() -> _RefusedError:
    return _RefusedError(404, "The file was not found", "NOT_FOUND")


def _unavailable(message: str, retry_after: int = 2) -> _RefusedError:
    return _RefusedError(503, message, "UNAVAILABLE", {"Retry-After": str(retry_after)})


async def download(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    try:
        try:
            type_name, object_id = decode_global_id(request.path_params["file_id"])
        except BadRequestError:
            raise _not_found() from None
        if type_name == "Export":
            return await _export(request, resources, object_id)
        file = await _downloadable(request, resources, type_name, object_id)
        return await _respond(request, resources, file)
    except _RefusedError as refusal:
        return refusal.response()


def _refused_for_fault(exc: Exception) -> _RefusedError:
    """A database that cannot answer now: 503 with when to try again (others are raised)."""
    if isinstance(exc, RetryableError):
        return _unavailable(str(exc), exc.retry_after)
    fault = fault_of(exc)
    if fault is None:
        raise exc
    error = fault.error(writing=False)
    return _unavailable(str(error), error.retry_after)


async def _downloadable(
    request: Request, resources: Resources, type_name: str, file_id: int
) -> StoredFile:
    try:
        async with resources.session_factory() as session:
            user = await _check_credentials(request, resources, session, file_id)
            file = await session.get(StoredFile, file_id) if type_name == "File" else None
            if file is not None and not await check_room_access(
                session, Viewer(user), file.room_id
            ):
                file = None  # another room's, as if it did not exist
    except _RefusedError:
        raise
    except Exception as exc:
        raise _refused_for_fault(exc) from exc
    if file is None or file.state != FileState.READY:
        raise _not_found()
    return file


async def _export(request: Request, resources: Resources, export_id: int) -> Response:
    try:
        async with resources.session_factory() as session:
            user = await _check_credentials(request, resources, session, export_id, "export")
            export = await session.get(Export, export_id)
        # An export is its asker's: a report counts their private notes.
        if export is None or export.created_by_id != user.id:
            raise _RefusedError(404, "The export was not found", "NOT_FOUND")
        if export.expires_at <= utcnow():  # with a token: a link checks its own expiry
            raise _RefusedError(404, "The export has expired; ask for a new one", "NOT_FOUND")
        file = await open_export(resources.session_factory, export_id=export_id, viewer_id=user.id)
    except _RefusedError:
        raise
    except UserFacingError as exc:
        problem = exc.problems[0]
        if problem.code == ErrorCode.NOT_FOUND:
            raise _RefusedError(404, str(exc), "NOT_FOUND") from None
        raise _RefusedError(
            409, f"The export no longer holds: {exc}; ask for a new one", "CONFLICT"
        ) from None
    except BadRequestError as exc:
        raise _RefusedError(409, f"The export no longer holds: {exc}", exc.code) from None
    except Exception as exc:
        raise _refused_for_fault(exc) from exc
    headers = {
        "Content-Type": file.media_type,
        "Content-Disposition": content_disposition(file.name),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if request.method == "HEAD":
        await file.chunks.aclose()  # type: ignore[attr-defined]
        return Response(status_code=200, headers=headers)
    return StreamingResponse(_export_body(file.chunks, export_id), headers=headers)


async def _export_body(chunks: AsyncIterator[bytes], export_id: int) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield chunk
    except Exception:
        logger.warning("The download of export %s broke off", export_id, exc_info=True)
        raise
    finally:
        # A client gone midway cancels this generator: close the writer (and its temporary
        # files) now rather than whenever the garbage collector finds it.
        await chunks.aclose()  # type: ignore[attr-defined]


async def _check_credentials(
    request: Request,
    resources: Resources,
    session: AsyncSession,
    file_id: int,
    kind: str = "file",
) -> User:
    """Who downloads: the user a signed link was made for, if they may still read, or the
    bearer of a token."""
    parameters = request.query_params
    if resources.links.is_signed(parameters):
        try:
            link = await resources.links.check(file_id, parameters, kind=kind)
        except LinkError as exc:
            raise _RefusedError(403, str(exc), "FORBIDDEN") from None
        user = await session.get(User, link.user_id)
        if user is None or not user.active:
            raise _RefusedError(
                403, "The download link is no longer valid: its user was deactivated", "FORBIDDEN"
            )
        return user
    token = token_from_authorization(request.headers.get("authorization"))
    if token is None:
        raise _RefusedError(
            401,
            "Sign in first: send Authorization: Bearer <token>, or use the file's downloadUrl",
            "UNAUTHENTICATED",
            {"WWW-Authenticate": "Bearer"},
        )
    try:
        viewer = await authenticate(session, token)
    except AuthError as exc:
        raise _RefusedError(401, str(exc), exc.code, {"WWW-Authenticate": "Bearer"}) from None
    return viewer.user


@dataclass(frozen=True)
class _Span:
    start: int
    end: int  # exclusive


def _requested_span(request: Request, size: int, etag: str) -> _Span | None:
    """The one byte range asked for, None for the whole file; 416 when it lies past the end.
    Malformed or multiple ranges, or an If-Range that no longer matches, get the whole file
    (RFC 9110 lets a server ignore Range)."""
    header = request.headers.get("range")
    if header is None or request.headers.get("if-range", etag) != etag:
        return None
    match = _RANGE.match(header.strip())
    if match is None or not (match.group(1) or match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(int(last) + 1, size) if last else size
        if last and int(last) < start:
            return None
    else:
        start, end = max(size - int(last), 0), size
        if int(last) == 0:
            start = size
    if start >= size:
        raise _RefusedError(
            416,
            f"The range {header[:100]!r} lies beyond the file's {size} bytes",
            "RANGE_NOT_SATISFIABLE",
            {"Content-Range": f"bytes */{size}"},
        )
    return _Span(start, end)


async def _respond(request: Request, resources: Resources, file: StoredFile) -> Response:
    etag = f'"{file.sha256}"'
    headers = {
        "Content-Type": file.content_type,
        "Content-Disposition": content_disposition(file.name),
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-cache",
        # Never rendered from this origin, whatever the stored type says.
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if etag in (tag.strip() for tag in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304, headers={"ETag": etag})
    span = _requested_span(request, file.size, etag)
    status = 200
    if span is None:
        span = _Span(0, file.size)
    else:
        status = 206
        headers["Content-Range"] = f"bytes {span.start}-{span.end - 1}/{file.size}"
    headers["Content-Length"] = str(span.end - span.start)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    try:
        reader = await resources.storage.open(file.storage_key, span.start, span.end)
    except ObjectMissingError:
        logger.error("File %s has a row but no stored object (%s)", file.id, file.storage_key)
        raise _not_found() from None
    except StorageUnavailableError as exc:
        raise _unavailable(f"{exc}; try again shortly") from exc
    return StreamingResponse(_body(reader, file.id), status, headers=headers)


async def _body(reader: ObjectReader, file_id: int | None) -> AsyncIterator[bytes]:
    try:
        async for chunk in reader.chunks():
            yield chunk
    except StorageError:
        logger.warning("The download of file %s broke off: storage failed midway", file_id)
        raise
    finally:
        await clean_up(reader.close())


def download_routes() -> list[Route]:
    return [Route("/files/{file_id}", download, methods=["GET", "HEAD"])]

"""Files on cards: uploads that arrived with the request, direct uploads to S3, deletion, pages
of a card's files and their download links."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from models.contacts import Contact
from models.files import FileState, StoredFile
from resolvers.context import Context
from resolvers.database import Outcome
from resolvers.loaders import FilesShape
from services import files
from services.errors import ErrorCode, Problem, UserFacingError, unavailable
from services.files import FilePage
from services.ids import decode_id, encode_id
from services.pagination import PageRequest
from services.storage import StorageUnavailableError, StoredObject


@dataclass
class ReceivedFile:
    """A file part of a multipart request (the Upload scalar's value), stored under `key` while
    it arrived. Unless a committed row comes to name it (`kept`), it is deleted once the
    request is answered."""

    key: str
    filename: str
    content_type: str | None
    stored: StoredObject
    kept: bool = False


@dataclass(frozen=True)
class DirectUpload:
    file: StoredFile
    url: str
    headers: dict[str, str]
    expires_at: datetime


@contextmanager
def storage_errors() -> Iterator[None]:
    """A storage outage as an error clients know to retry (UNAVAILABLE, HTTP 503)."""
    try:
        yield
    except StorageUnavailableError as exc:
        raise unavailable(f"{exc}; nothing was saved, try again shortly") from exc


async def files_page(
    ctx: Context, contact: Contact, *, first: int | None, after: str | None
) -> FilePage:
    assert contact.id is not None
    size = PageRequest(first=first, after=after).checked(ctx.settings.max_page_size).size
    return await ctx.loaders.files.load((contact.id, FilesShape(size, after)))


def _owner_ids(contact_id: str | None, room_id: str | None) -> tuple[int | None, int | None]:
    """The card's and the room's primary keys, of which the service wants exactly one."""
    return (
        decode_id(contact_id, "Contact") if contact_id is not None else None,
        decode_id(room_id, "ProjectRoom") if room_id is not None else None,
    )


async def upload(
    ctx: Context, *, contact_id: str | None, room_id: str | None = None, file: ReceivedFile
) -> Outcome[StoredFile]:
    viewer = await ctx.require()
    card, room = _owner_ids(contact_id, room_id)
    if file.kept:
        problem = Problem(
            "This file part already went to another fileUpload of the request; send one part "
            "per file",
            field=("file",),
        )
        return Outcome(problems=[problem])
    outcome = await ctx.mutate(
        lambda s: files.add_file(
            s,
            viewer=viewer,
            contact_id=card,
            room_id=room,
            name=file.filename,
            content_type=file.content_type,
            storage_key=file.key,
            stored=file.stored,
        )
    )
    if outcome.value is not None:
        file.kept = True
    return outcome


async def create_upload_url(
    ctx: Context,
    *,
    contact_id: str | None,
    room_id: str | None = None,
    name: str,
    content_type: str | None,
    size: int,
) -> Outcome[DirectUpload]:
    viewer = await ctx.require()
    card, room = _owner_ids(contact_id, room_id)
    storage = ctx.resources.storage
    if not storage.direct_upload:
        problem = Problem(
            "Direct upload needs S3 storage (CRM_STORAGE_URL=s3://...); this service keeps "
            "files in a local folder, so upload with fileUpload instead",
            ErrorCode.INVALID,
        )
        return Outcome(problems=[problem])
    try:
        content_type = files.announced_type(content_type, name)
    except UserFacingError as exc:
        return Outcome(problems=exc.problems)
    # Signed before the row is written: a storage that cannot sign leaves no row behind.
    key = files.new_storage_key()
    ttl = ctx.settings.download_url_ttl_seconds
    with storage_errors():
        presigned = await storage.presigned_put(
            files.upload_key(key), content_type=content_type, expires_in=ttl
        )
    assert presigned is not None
    outcome = await ctx.mutate(
        lambda s: files.grant_upload(
            s,
            viewer=viewer,
            contact_id=card,
            room_id=room,
            name=name,
            content_type=content_type,
            size=size,
            max_size=ctx.settings.max_upload_bytes,
            storage_key=key,
        )
    )
    if outcome.value is None:
        return Outcome(problems=outcome.problems)
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl)
    return Outcome(value=DirectUpload(outcome.value, presigned.url, presigned.headers, expires_at))


async def confirm_upload(ctx: Context, *, id: str) -> Outcome[StoredFile]:
    """Check what the client PUT, move it to the file's own key, hash it, mark it READY. The
    bytes are read outside the transaction; the row changes only if they are right."""
    viewer = await ctx.require()
    file_id = decode_id(id, "File")
    try:
        pending = await ctx.read(lambda s: files.pending_file(s, viewer=viewer, file_id=file_id))
    except UserFacingError as exc:
        return Outcome(problems=exc.problems)
    if pending.state == FileState.READY:
        return Outcome(value=pending)
    storage = ctx.resources.storage
    with storage_errors():
        problem = await _move_upload(ctx, pending)
        if problem is not None:
            return Outcome(problems=[problem])
        stored = await storage.digest(pending.storage_key)
    return await ctx.mutate(
        lambda s: files.confirm_upload(s, viewer=viewer, file_id=file_id, stored=stored)
    )


async def _move_upload(ctx: Context, pending: StoredFile) -> Problem | None:
    """Copy the PUT object to the file's own key, where no upload URL reaches (done already by
    an earlier confirmation that failed later)."""
    storage = ctx.resources.storage
    if await storage.size(pending.storage_key) is not None:
        return None
    uploaded = files.upload_key(pending.storage_key)
    size = await storage.size(uploaded)
    if size is None:
        return Problem(
            "Nothing was uploaded yet: PUT the file to the uploadUrl, then confirm",
            ErrorCode.NOT_FOUND,
            ("id",),
        )
    if size != pending.size:
        return Problem(
            f"The uploaded object holds {size} bytes, but {pending.size} were announced; PUT "
            "the whole file to the uploadUrl again, then confirm",
            ErrorCode.CONFLICT,
            ("id",),
        )
    await storage.copy(uploaded, pending.storage_key)
    await storage.delete(uploaded)
    return None


async def delete(ctx: Context, *, id: str) -> Outcome[StoredFile]:
    viewer = await ctx.require()
    file_id = decode_id(id, "File")
    storage = ctx.resources.storage
    return await ctx.mutate(
        lambda s: files.delete_file(s, viewer=viewer, file_id=file_id, storage=storage)
    )


async def download_url(ctx: Context, file: Any) -> str | None:
    """A link that downloads the file for a while without credentials: presigned by S3, or
    signed by the service for its own route. None while a direct upload is unconfirmed."""
    if file.state != FileState.READY:
        return None
    viewer = await ctx.require()
    ttl = ctx.settings.download_url_ttl_seconds
    with storage_errors():
        presigned = await ctx.resources.storage.presigned_get(
            file.storage_key, filename=file.name, content_type=file.content_type, expires_in=ttl
        )
    if presigned is not None:
        return presigned
    return await ctx.resources.links.url(
        global_id=encode_id("File", file.id), file_id=file.id, user_id=viewer.id
    )

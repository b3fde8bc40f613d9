"""Files on a card: their names and types, the rows that describe them, and their history.

The bytes live in storage (services/storage) under a key the service makes, never under the
client's file name. A row is written only once its bytes are stored, in the same transaction
as the card's history event; an object whose row never commits is deleted by whoever wrote it,
and the object of a deleted row after the deletion commits.

A direct upload to S3 is a PENDING row first: the client PUTs to a presigned URL under an
upload key, and the confirmation copies the object to the file's own key (so a later PUT to
the same URL cannot change a file whose SHA-256 was recorded), hashes it, and marks it READY.
"""

import mimetypes
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.activity import ActivityKind
from models.files import FileState, StoredFile
from services.activity import record
from services.auth import Viewer
from services.contacts import lock_contact
from services.effects import after_commit
from services.errors import ErrorCode, UserFacingError, not_found
from services.owners import check_room_access, owner_to_write
from services.pagination import (
    SortKey,
    after_condition,
    count_per_scope,
    decode_cursor,
    encode_cursor,
    fingerprint,
    first_rows_per_scope,
)
from services.room_scope import gathered_by
from services.storage import Storage, StoredObject

MAX_NAME_LENGTH = 255
MAX_CONTENT_TYPE_LENGTH = 255
OCTET_STREAM = "application/octet-stream"
# type/subtype with optional parameters, in the token characters of RFC 9110.
_TOKEN = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_MEDIA_TYPE = re.compile(
    rf'\A{_TOKEN}/{_TOKEN}(\s*;\s*{_TOKEN}=({_TOKEN}|"[^"\\\x00-\x1f\x7f]*"))*\Z'
)
# Characters that reorder text on screen: "invoice\u202efdp.exe" shows as "invoiceexe.pdf".
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Built when the module is imported (it reads the system's type list once), not in a request.
_TYPES_BY_EXTENSION = mimetypes.MimeTypes()


# --- names and types -----------------------------------------------------------------------------


def checked_name(name: str, field: Sequence[str]) -> str:
    """A file name as people will see it and download it again: no directories, nothing a
    screen or a file system would take for something else."""
    text = unicodedata.normalize("NFC", name.strip())
    problem = None
    if not text:
        raise UserFacingError.one("The file name is empty", code=ErrorCode.REQUIRED, field=field)
    shown = ascii(text[:60])
    if "\x00" in text:
        problem = f"The file name {shown} contains a NUL character (U+0000)"
    elif "/" in text or "\\" in text:
        separator = "/" if "/" in text else "\\"
        base = re.split(r"[/\\]", text)[-1] or "offer.pdf"
        problem = (
            f"The file name {shown} contains a path separator ({separator!r}): "
            f"give the name alone, such as {base!r}"
        )
    elif control := next(
        (c for c in text if unicodedata.category(c) == "Cc" or c in _BIDI_CONTROLS), None
    ):
        problem = (
            f"The file name {shown} contains a control character (U+{ord(control):04X}); remove it"
        )
    elif text in (".", ".."):
        problem = f"{text!r} is not a file name"
    elif len(text) > MAX_NAME_LENGTH:
        problem = f"The file name is {len(text)} characters long; at most {MAX_NAME_LENGTH} fit"
    if problem is not None:
        raise UserFacingError.one(problem, field=field)
    return text


def content_type_for(declared: str | None, name: str) -> str:
    """The client's content type when it names one; otherwise a guess from the name's
    extension. The bytes are not sniffed: downloads are attachments that browsers must not
    sniff either, so a wrong type cannot make one run anything."""
    value = (declared or "").strip()
    if value and _MEDIA_TYPE.match(value) and len(value) <= MAX_CONTENT_TYPE_LENGTH:
        media, _, parameters = value.partition(";")
        media = media.strip().lower()
        if media != OCTET_STREAM:
            return f"{media};{parameters}" if parameters else media
    guessed, _ = _TYPES_BY_EXTENSION.guess_type(name, strict=False)
    return guessed or OCTET_STREAM


def announced_type(value: str | None, name: str) -> str:
    """The content type of a direct upload: the one the client names, refused when malformed
    (it is signed into the upload URL), or a guess from the name."""
    if value is not None and (
        len(value) > MAX_CONTENT_TYPE_LENGTH or not _MEDIA_TYPE.match(value.strip())
    ):
        raise UserFacingError.one(
            f"{value[:80]!r} is not a media type such as application/pdf", field=["contentType"]
        )
    return content_type_for(value, name)


def new_storage_key() -> str:
    """A fresh key for a file's bytes (spread over 256 folders)."""
    token = uuid.uuid4().hex
    return f"files/{token[:2]}/{token}"


def upload_key(storage_key: str) -> str:
    """Where a direct upload is PUT before its confirmation moves it to `storage_key`."""
    return "uploads/" + storage_key.removeprefix("files/")


# --- rows as the API reads them ------------------------------------------------------------------


@dataclass(frozen=True)
class FileRow:
    id: int
    contact_id: int | None
    room_id: int | None
    name: str
    content_type: str
    size: int
    sha256: str | None
    storage_key: str
    state: str
    uploaded_by_id: int
    created_at: datetime


_COLUMNS = (
    col(StoredFile.id),
    col(StoredFile.contact_id),
    col(StoredFile.room_id),
    col(StoredFile.name),
    col(StoredFile.content_type),
    col(StoredFile.size),
    col(StoredFile.sha256),
    col(StoredFile.storage_key),
    col(StoredFile.state),
    col(StoredFile.uploaded_by_id),
    col(StoredFile.created_at),
)

_NAMES = tuple(f.name for f in fields(FileRow))


def may_see(viewer: Viewer, file: Any) -> bool:
    """A READY file is seen by everyone who may read cards; a PENDING one (a direct upload not
    confirmed yet) by its uploader only."""
    return bool(file.state == FileState.READY or file.uploaded_by_id == viewer.id)


@dataclass
class FilePage:
    files: list[FileRow] = field(default_factory=list)
    cursors: list[str] = field(default_factory=list)
    has_next: bool = False
    has_previous: bool = False
    total: int = 0


_FINGERPRINT = fingerprint("files")
_ROOM_FINGERPRINT = fingerprint("files", "room")
_ORDER = [
    SortKey(col(StoredFile.created_at), descending=True, kind=datetime),
    SortKey(col(StoredFile.id), descending=True, kind=int),
]


async def files_of(
    session: AsyncSession, *, contact_ids: Sequence[int], first: int, after: str | None
) -> dict[int, FilePage]:
    """One page of each card's files, newest first, in one statement for all the cards.

    Each card's files are numbered in two partitions, those after the cursor and those up to
    it; the first `first + 1` after it make the page, and the first of the others comes along
    only to carry the card's total when its page is empty."""
    beyond: Any = literal(True)
    if after is not None:
        beyond = after_condition(_ORDER, decode_cursor(after, _FINGERPRINT, _ORDER), reverse=False)
    owner = col(StoredFile.contact_id)
    numbered = (
        select(
            *_COLUMNS,
            beyond.label("beyond"),
            func.row_number()
            .over(
                partition_by=[owner, beyond],
                order_by=[col(StoredFile.created_at).desc(), col(StoredFile.id).desc()],
            )
            .label("rank"),
            func.count().over(partition_by=owner).label("total"),
        )
        .where(owner.in_(contact_ids), col(StoredFile.state) == FileState.READY)
        .subquery()
    )
    rows = await session.execute(
        select(*(numbered.c[name] for name in _NAMES), numbered.c.beyond, numbered.c.total)
        .where(
            (numbered.c.beyond & (numbered.c.rank <= first + 1))
            | (~numbered.c.beyond & (numbered.c.rank == 1))
        )
        .order_by(numbered.c.contact_id, numbered.c.beyond.desc(), numbered.c.rank)
    )
    pages = {contact_id: FilePage(has_previous=after is not None) for contact_id in contact_ids}
    for *values, is_beyond, total in rows:
        file = FileRow(*values)
        assert file.contact_id is not None
        page = pages[file.contact_id]
        page.total = total
        if not is_beyond:
            continue
        if len(page.files) == first:
            page.has_next = True
            continue
        page.files.append(file)
        page.cursors.append(encode_cursor(_FINGERPRINT, [file.created_at, file.id]))
    return pages


async def room_files(
    session: AsyncSession, *, room_ids: Sequence[int], first: int, after: str | None
) -> dict[int, FilePage]:
    """One page of the files each room gathers (its own and its categories' cards'), newest
    first: one statement for the pages of all the rooms, one for their totals."""
    beyond = []
    if after is not None:
        beyond.append(
            after_condition(_ORDER, decode_cursor(after, _ROOM_FINGERPRINT, _ORDER), reverse=False)
        )
    ready = [col(StoredFile.state) == FileState.READY]
    scopes = {room_id: gathered_by(StoredFile, room_id) for room_id in room_ids}
    rows = await session.execute(
        first_rows_per_scope(
            StoredFile,
            scopes,
            [*ready, *beyond],
            [col(StoredFile.created_at).desc(), col(StoredFile.id).desc()],
            first + 1,
        )
    )
    totals: dict[int, int] = dict((await session.execute(count_per_scope(scopes, ready))).all())
    pages = {
        room_id: FilePage(has_previous=after is not None, total=totals.get(room_id, 0))
        for room_id in room_ids
    }
    for stored, room_id in rows:
        page = pages[room_id]
        if len(page.files) == first:
            page.has_next = True
            continue
        page.files.append(FileRow(*(getattr(stored, name) for name in _NAMES)))
        page.cursors.append(encode_cursor(_ROOM_FINGERPRINT, [stored.created_at, stored.id]))
    return pages


# --- changes -------------------------------------------------------------------------------------


async def _card_taking_files(session: AsyncSession, contact_id: int, field: str) -> None:
    """The card, held (shared) until the transaction ends so it cannot go to the bin
    meanwhile; a card in the bin takes no new files."""
    contact = await lock_contact(session, contact_id, field, shared=True)
    if contact.deleted_at is not None:
        raise UserFacingError.one(
            "The contact is deleted; restore it before adding files",
            code=ErrorCode.ARCHIVED,
            field=[field],
        )


async def _file_to_touch(session: AsyncSession, viewer: Viewer, file_id: int) -> StoredFile:
    """A file the viewer may see (another room's is not found, as if it did not exist)."""
    file = await session.get(StoredFile, file_id)
    if (
        file is None
        or not may_see(viewer, file)
        or not await check_room_access(session, viewer, file.room_id)
    ):
        raise not_found("The file", ["id"])
    return file


def _refuse_empty(size: int, field: Sequence[str]) -> None:
    if size == 0:
        raise UserFacingError.one(
            "The file is empty (0 bytes); choose a file with content", field=field
        )


async def _record_added(session: AsyncSession, file: StoredFile, actor_id: int) -> None:
    await record(
        session,
        ActivityKind.FILE_ADDED,
        actor_id=actor_id,
        contact_id=file.contact_id,
        room_id=file.room_id,
        subject=("File", file.id),
        details={"name": file.name, "size": file.size, "contentType": file.content_type},
    )


async def add_file(
    session: AsyncSession,
    *,
    viewer: Viewer,
    contact_id: int | None,
    room_id: int | None = None,
    name: str,
    content_type: str | None,
    storage_key: str,
    stored: StoredObject,
) -> StoredFile:
    """The row of a file whose bytes are stored under `storage_key` already, on a card or of
    a project room's own (`room_id`)."""
    name = checked_name(name, ["file"])
    _refuse_empty(stored.size, ["file"])
    owner = await owner_to_write(session, viewer, contact_id=contact_id, room_id=room_id)
    file = StoredFile(
        contact_id=owner.contact_id,
        room_id=owner.room_id,
        in_room_id=owner.in_room_id,
        name=name,
        content_type=content_type_for(content_type, name),
        size=stored.size,
        sha256=stored.sha256,
        storage_key=storage_key,
        state=FileState.READY,
        uploaded_by_id=viewer.id,
    )
    session.add(file)
    await session.flush()
    await _record_added(session, file, viewer.id)
    return file


async def grant_upload(
    session: AsyncSession,
    *,
    viewer: Viewer,
    contact_id: int | None,
    room_id: int | None = None,
    name: str,
    content_type: str | None,
    size: int,
    max_size: int,
    storage_key: str,
) -> StoredFile:
    """A PENDING file for a direct upload of `size` bytes, to be stored under `storage_key`."""
    name = checked_name(name, ["name"])
    if size < 0 or size > max_size:
        raise UserFacingError.one(
            f"A file may hold at most {max_size} bytes; this one would hold {size}",
            field=["size"],
        )
    _refuse_empty(size, ["size"])
    owner = await owner_to_write(session, viewer, contact_id=contact_id, room_id=room_id)
    file = StoredFile(
        contact_id=owner.contact_id,
        room_id=owner.room_id,
        in_room_id=owner.in_room_id,
        name=name,
        content_type=announced_type(content_type, name),
        size=size,
        storage_key=storage_key,
        state=FileState.PENDING,
        uploaded_by_id=viewer.id,
    )
    session.add(file)
    await session.flush()
    return file


async def pending_file(session: AsyncSession, *, viewer: Viewer, file_id: int) -> StoredFile:
    """A direct upload of the viewer's that is not confirmed yet (or is, for a repeated
    confirmation)."""
    return await _file_to_touch(session, viewer, file_id)


async def confirm_upload(
    session: AsyncSession, *, viewer: Viewer, file_id: int, stored: StoredObject
) -> StoredFile:
    """Mark a direct upload READY with what its stored bytes turned out to be."""
    found = await pending_file(session, viewer=viewer, file_id=file_id)
    if found.contact_id is not None:
        await _card_taking_files(session, found.contact_id, "id")
    file = await session.get(StoredFile, file_id, with_for_update=True, populate_existing=True)
    if file is None:
        raise not_found("The file", ["id"])
    if file.state == FileState.READY:
        return file  # confirmed by an earlier call
    if stored.size != file.size:
        raise UserFacingError.one(
            f"The uploaded object holds {stored.size} bytes, but {file.size} were announced; "
            "PUT the whole file to the upload URL again, then confirm",
            code=ErrorCode.CONFLICT,
            field=["id"],
        )
    file.sha256 = stored.sha256
    file.state = FileState.READY
    await session.flush()
    await _record_added(session, file, viewer.id)
    return file


async def delete_file(
    session: AsyncSession, *, viewer: Viewer, file_id: int, storage: Storage
) -> StoredFile:
    """Delete the row now and its bytes once the deletion has committed (never before: a
    rolled-back deletion keeps a file that can still be downloaded)."""
    found = await _file_to_touch(session, viewer, file_id)
    if found.contact_id is not None:
        contact = await lock_contact(session, found.contact_id, "id", shared=True)
        if contact.deleted_at is not None:
            raise UserFacingError.one(
                "The contact is deleted; restore it before changing its files",
                code=ErrorCode.ARCHIVED,
                field=["id"],
            )
    file = await session.get(StoredFile, file_id, with_for_update=True, populate_existing=True)
    if file is None:
        raise not_found("The file", ["id"])
    if file.state == FileState.READY:
        await record(
            session,
            ActivityKind.FILE_DELETED,
            actor_id=viewer.id,
            contact_id=file.contact_id,
            room_id=file.room_id,
            subject=("File", file.id),
            details={"name": file.name},
        )
    await session.delete(file)
    await session.flush()
    delete_contents_after_commit(session, storage, [file])
    return file


def delete_contents_after_commit(
    session: AsyncSession, storage: Storage, deleted: Sequence[StoredFile]
) -> None:
    """Once the deletion of these files' rows has committed, delete their contents (and what
    a direct upload not confirmed yet left under its upload key)."""
    keys = [file.storage_key for file in deleted]
    keys += [upload_key(file.storage_key) for file in deleted if file.state != FileState.READY]

    async def delete_objects() -> None:
        for key in keys:
            await storage.delete(key)

    after_commit(session, delete_objects)

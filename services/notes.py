"""Notes on a card: written by one person, for the team or for themself only.

A private note is its author's alone, on every path: lists, counts, `node(id:)` and the
history (its events are kept to the author too, including earlier ones when a team note is
made private).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models.activity import ActivityEvent, ActivityKind
from models.notes import Note, NoteVisibility
from models.types import utcnow
from models.users import Role
from services.activity import record
from services.auth import Viewer
from services.errors import ErrorCode, UserFacingError, not_found, refuse_clearing
from services.owners import check_room_access, owner_to_write
from services.pagination import (
    SortKey,
    after_condition,
    count_per_scope,
    decode_cursor,
    encode_cursor,
    fingerprint,
    first_rows_per_scope,
    order_by,
)
from services.room_scope import gathered_by

MAX_BODY_LENGTH = 20_000


def may_see(viewer: Viewer, note: Note) -> bool:
    return note.visibility == NoteVisibility.TEAM or note.author_id == viewer.id


def visible_to(user_id: int | None) -> ColumnElement[bool]:
    """The notes a user reads: the team's, and their own private ones."""
    return or_(col(Note.visibility) == NoteVisibility.TEAM, col(Note.author_id) == user_id)


def _body(value: Any) -> str:
    body = str(value or "").strip()
    if not body:
        raise UserFacingError.one("A note needs a text", code=ErrorCode.REQUIRED, field=["body"])
    if len(body) > MAX_BODY_LENGTH:
        raise UserFacingError.one(
            f"A note is at most {MAX_BODY_LENGTH:,} characters long (this one has {len(body):,})",
            field=["body"],
        )
    return body


def _visibility(value: Any) -> NoteVisibility:
    return NoteVisibility(value)


async def create_note(
    session: AsyncSession,
    *,
    viewer: Viewer,
    contact_id: int | None,
    room_id: int | None = None,
    body: str,
    visibility: NoteVisibility,
    pinned: bool,
) -> Note:
    """A note on a card, or of a project room's own (`room_id`)."""
    owner = await owner_to_write(session, viewer, contact_id=contact_id, room_id=room_id)
    note = Note(
        contact_id=owner.contact_id,
        room_id=owner.room_id,
        in_room_id=owner.in_room_id,
        author_id=viewer.id,
        body=_body(body),
        visibility=_visibility(visibility),
        pinned=pinned,
    )
    session.add(note)
    await session.flush()
    await _record(session, ActivityKind.NOTE_ADDED, viewer, note)
    return note


async def _record(session: AsyncSession, kind: ActivityKind, viewer: Viewer, note: Note) -> None:
    # The text stays with the note: the history names the note, and shows it only to those
    # who may see the note.
    await record(
        session,
        kind,
        actor_id=viewer.id,
        contact_id=note.contact_id,
        room_id=note.room_id,
        subject=("Note", note.id),
        visible_to_id=note.author_id if note.visibility == NoteVisibility.PRIVATE else None,
    )


async def _note_to_change(session: AsyncSession, viewer: Viewer, note_id: int) -> Note:
    """A note the viewer may see, locked; someone else's private note is not found."""
    note = await session.get(Note, note_id, with_for_update=True, populate_existing=True)
    if note is None or not may_see(viewer, note):
        raise not_found("The note", ["id"])
    if not await check_room_access(session, viewer, note.room_id):
        raise not_found("The note", ["id"])
    return note


async def update_note(
    session: AsyncSession, *, viewer: Viewer, note_id: int, changes: Mapping[str, Any]
) -> Note:
    """Its author edits a note; anyone who may write pins or unpins a team note."""
    refuse_clearing(changes, "body", "visibility", "pinned")
    note = await _note_to_change(session, viewer, note_id)
    edits = {name for name in changes if name != "pinned"}
    if edits and note.author_id != viewer.id:
        raise UserFacingError.one(
            "Only its author edits a note; you may pin or unpin it",
            code=ErrorCode.FORBIDDEN,
            field=[sorted(edits)[0]],
        )
    visibility_before = note.visibility
    if "body" in changes:
        note.body = _body(changes["body"])
    if "visibility" in changes:
        note.visibility = _visibility(changes["visibility"])
    if "pinned" in changes:
        note.pinned = bool(changes["pinned"])
    if not session.is_modified(note):
        return note
    note.updated_at = utcnow()
    await session.flush()
    if note.visibility != visibility_before:
        await _keep_history_to(session, note)
    await _record(session, ActivityKind.NOTE_EDITED, viewer, note)
    return note


async def _keep_history_to(session: AsyncSession, note: Note) -> None:
    """A note made private takes its history with it (and back, when shared again)."""
    await session.execute(
        update(ActivityEvent)
        .where(col(ActivityEvent.subject_type) == "Note", col(ActivityEvent.subject_id) == note.id)
        .values(visible_to_id=note.author_id if note.visibility == NoteVisibility.PRIVATE else None)
    )


async def delete_note(session: AsyncSession, *, viewer: Viewer, note_id: int) -> Note:
    """Its author deletes a note, and admins may delete a team note."""
    note = await _note_to_change(session, viewer, note_id)
    if note.author_id != viewer.id and viewer.role != Role.ADMIN:
        raise UserFacingError.one(
            "Only its author or an admin deletes a note", code=ErrorCode.FORBIDDEN, field=["id"]
        )
    await session.delete(note)
    await session.flush()
    await _record(session, ActivityKind.NOTE_DELETED, viewer, note)
    return note


@dataclass
class NotePage:
    notes: list[Note]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    total: int


NOTE_ORDER = [
    SortKey(col(Note.pinned), descending=True, kind=bool),
    SortKey(col(Note.created_at), descending=True, kind=datetime),
    SortKey(col(Note.id), descending=True, kind=int),
]


# Whose notes a list shows: a card's, or all that a project room gathers.
NoteOwner = Literal["contact", "room"]


async def notes_of(
    session: AsyncSession,
    *,
    viewer: Viewer,
    owner: NoteOwner = "contact",
    owner_ids: Sequence[int],
    first: int,
    after: str | None,
) -> dict[int, NotePage]:
    """One page of each card's (or room's) notes the viewer may see, pinned first, then
    newest first: one statement for the pages of all the owners, one for their totals."""
    fp = fingerprint("notes", owner)
    after_cursor = []
    if after is not None:
        after_cursor.append(
            after_condition(NOTE_ORDER, decode_cursor(after, fp, NOTE_ORDER), reverse=False)
        )
    scopes = {
        owner_id: (
            gathered_by(Note, owner_id) if owner == "room" else col(Note.contact_id) == owner_id
        )
        for owner_id in owner_ids
    }
    rows = await session.execute(
        first_rows_per_scope(
            Note,
            scopes,
            [visible_to(viewer.id), *after_cursor],
            order_by(NOTE_ORDER, reverse=False, dialect=(await session.connection()).dialect.name),
            first + 1,
        )
    )
    totals: dict[int, int] = dict(
        (await session.execute(count_per_scope(scopes, [visible_to(viewer.id)]))).all()
    )
    pages = {
        owner_id: NotePage([], [], False, after is not None, totals.get(owner_id, 0))
        for owner_id in owner_ids
    }
    for note, owner_id in rows:
        page = pages[owner_id]
        if len(page.notes) == first:
            page.has_next = True
            continue
        page.notes.append(note)
        page.cursors.append(encode_cursor(fp, [note.pinned, note.created_at, note.id]))
    return pages

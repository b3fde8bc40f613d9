"""Project rooms: a team gathers the cards of some categories (a category belongs to at most
one room) plus the room's own to-dos, notes and files.

Who may do what:
- a room and everything it gathers are seen by its members and by admins;
- any MEMBER or ADMIN creates a room and becomes its first member;
- the room's members who may write (MEMBER, ADMIN), and admins, rename it, link and unlink
  categories and add and remove members;
- its creator or an admin deletes it, with its own to-dos, notes and files (the cards of its
  categories stay as they are).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.activity import ActivityEvent, ActivityKind
from models.categories import Category
from models.files import StoredFile
from models.rooms import ProjectRoom, RoomCategory, RoomMember
from models.types import utcnow
from models.users import Role, User
from services.activity import ActivityPage, record, visible_to
from services.auth import Viewer
from services.errors import ErrorCode, UserFacingError, not_found, refuse_clearing
from services.files import delete_contents_after_commit
from services.locks import lock_category_shapes
from services.pagination import (
    SortKey,
    count_per_scope,
    decode_cursor,
    encode_cursor,
    fingerprint,
    first_rows_per_scope,
)
from services.room_scope import events_of_room, may_enter, show_category_in
from services.storage import Storage

MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2000
MAX_MEMBERS = 500


# --- who may enter ------------------------------------------------------------------------


async def rooms_of(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, frozenset[int]]:
    """The rooms each user is a member of."""
    rows = await session.execute(
        select(col(RoomMember.user_id), col(RoomMember.room_id)).where(
            col(RoomMember.user_id).in_(user_ids)
        )
    )
    found: dict[int, set[int]] = {user_id: set() for user_id in user_ids}
    for user_id, room_id in rows:
        found[user_id].add(room_id)
    return {user_id: frozenset(room_ids) for user_id, room_ids in found.items()}


async def _room_to_manage(
    session: AsyncSession, viewer: Viewer, room_id: int, field: str = "id"
) -> ProjectRoom:
    """A room the viewer may change, locked until the transaction ends: FOR NO KEY UPDATE,
    so that items naming it (in_room_id) may still be written while it waits for a category's
    shape lock (which those writers hold shared)."""
    room = await session.get(
        ProjectRoom, room_id, with_for_update={"key_share": True}, populate_existing=True
    )
    if room is None or not await may_enter(session, viewer, room_id):
        raise not_found("The project room", [field])
    if viewer.role == Role.VIEWER:
        raise UserFacingError.one(
            "VIEWERs read a room; a MEMBER or ADMIN of it changes it",
            code=ErrorCode.FORBIDDEN,
            field=[field],
        )
    return room


# --- the room itself ----------------------------------------------------------------------


def _name(value: Any) -> str:
    name = str(value or "").strip()
    if not name:
        raise UserFacingError.one("A room needs a name", code=ErrorCode.REQUIRED, field=["name"])
    if len(name) > MAX_NAME_LENGTH:
        raise UserFacingError.one(
            f"A room's name is at most {MAX_NAME_LENGTH} characters long", field=["name"]
        )
    return name


def _description(value: Any) -> str | None:
    text = str(value or "").strip()
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise UserFacingError.one(
            f"A room's description is at most {MAX_DESCRIPTION_LENGTH:,} characters long",
            field=["description"],
        )
    return text or None


async def create_room(
    session: AsyncSession, *, viewer: Viewer, name: str, description: str | None
) -> ProjectRoom:
    room = ProjectRoom(
        name=_name(name), description=_description(description), created_by_id=viewer.id
    )
    session.add(room)
    await session.flush()
    assert room.id is not None
    session.add(RoomMember(room_id=room.id, user_id=viewer.id, added_by_id=viewer.id))
    await session.flush()
    return room


async def update_room(
    session: AsyncSession, *, viewer: Viewer, room_id: int, changes: Mapping[str, Any]
) -> ProjectRoom:
    refuse_clearing(changes, "name")
    room = await _room_to_manage(session, viewer, room_id)
    if "name" in changes:
        room.name = _name(changes["name"])
    if "description" in changes:
        room.description = _description(changes["description"])
    room.updated_at = utcnow()
    await session.flush()
    return room


async def delete_room(
    session: AsyncSession, *, viewer: Viewer, room_id: int, storage: Storage
) -> ProjectRoom:
    """Delete a room with its own to-dos, notes and files (their contents go after commit);
    its categories and their cards stay. Its categories' shapes are held first, so that no
    item on their cards is being written naming the room as it goes."""
    linked = await session.execute(
        select(col(RoomCategory.category_id)).where(col(RoomCategory.room_id) == room_id)
    )
    await lock_category_shapes(session, linked.scalars().all(), exclusive=True)
    room = await _room_to_manage(session, viewer, room_id)
    if viewer.role != Role.ADMIN and room.created_by_id != viewer.id:
        raise UserFacingError.one(
            "Only the room's creator or an admin deletes a room",
            code=ErrorCode.FORBIDDEN,
            field=["id"],
        )
    own_files = list(
        (
            await session.execute(select(StoredFile).where(col(StoredFile.room_id) == room_id))
        ).scalars()
    )
    await session.delete(room)  # the database cascades to members, own items and events
    await session.flush()
    delete_contents_after_commit(session, storage, own_files)
    return room


# --- categories ---------------------------------------------------------------------------


async def _category(
    session: AsyncSession, category_id: int
) -> tuple[Category, RoomCategory | None]:
    """A category, locked against others linking it meanwhile, and its link to a room if it
    has one. Its shape is held exclusively (services/locks.py) while the room its cards'
    items show in changes: nothing is added to those cards meanwhile."""
    await lock_category_shapes(session, [category_id], exclusive=True)
    category = await session.get(
        Category, category_id, with_for_update={"key_share": True}, populate_existing=True
    )
    if category is None:
        raise not_found("The category", ["categoryId"])
    link = await session.get(RoomCategory, category_id, populate_existing=True)
    return category, link


async def link_category(
    session: AsyncSession, *, viewer: Viewer, room_id: int, category_id: int
) -> ProjectRoom:
    room = await _room_to_manage(session, viewer, room_id, "roomId")
    category, link = await _category(session, category_id)
    if link is not None and link.room_id == room_id:
        return room
    if link is not None:
        # The other room is named only to those who may see it.
        other = await session.get(ProjectRoom, link.room_id)
        named = other is not None and await may_enter(session, viewer, link.room_id)
        where = f"the room “{other.name}”" if other is not None and named else "another room"
        raise UserFacingError.one(
            f"The category {category.name} belongs to {where} already; a category belongs "
            "to at most one room, so unlink it there first",
            code=ErrorCode.CONFLICT,
            field=["categoryId"],
        )
    session.add(RoomCategory(category_id=category_id, room_id=room_id, linked_by_id=viewer.id))
    await session.flush()
    await show_category_in(session, category_id, room_id)
    await _record(session, ActivityKind.ROOM_CATEGORY_LINKED, viewer, room, category=category)
    return room


async def unlink_category(
    session: AsyncSession, *, viewer: Viewer, room_id: int, category_id: int
) -> ProjectRoom:
    room = await _room_to_manage(session, viewer, room_id, "roomId")
    category, link = await _category(session, category_id)
    if link is None or link.room_id != room_id:
        raise not_found("A category of this room", ["categoryId"])
    await session.delete(link)
    await session.flush()
    await show_category_in(session, category_id, None)
    await _record(session, ActivityKind.ROOM_CATEGORY_UNLINKED, viewer, room, category=category)
    return room


async def categories_of(
    session: AsyncSession, room_ids: Sequence[int]
) -> dict[int, list[Category]]:
    rows = await session.execute(
        select(col(RoomCategory.room_id), Category)
        .join(Category, col(Category.id) == col(RoomCategory.category_id))
        .where(col(RoomCategory.room_id).in_(room_ids))
        .order_by(col(Category.name), col(Category.id))
    )
    found: dict[int, list[Category]] = {room_id: [] for room_id in room_ids}
    for room_id, category in rows:
        found[room_id].append(category)
    return found


async def room_of_categories(session: AsyncSession, category_ids: Sequence[int]) -> dict[int, int]:
    """The room each linked category belongs to, by category id."""
    rows = await session.execute(
        select(col(RoomCategory.category_id), col(RoomCategory.room_id)).where(
            col(RoomCategory.category_id).in_(category_ids)
        )
    )
    return dict(rows.all())


# --- members ------------------------------------------------------------------------------


async def add_member(
    session: AsyncSession, *, viewer: Viewer, room_id: int, user_id: int
) -> ProjectRoom:
    room = await _room_to_manage(session, viewer, room_id, "roomId")
    user = await session.get(User, user_id)
    if user is None:
        raise not_found("The user", ["userId"])
    if not user.active:
        raise UserFacingError.one(
            f"{user.name} is deactivated; reactivate them first",
            code=ErrorCode.ARCHIVED,
            field=["userId"],
        )
    if await session.get(RoomMember, (room_id, user_id)) is not None:
        return room
    count = (
        await session.execute(select(func.count()).where(col(RoomMember.room_id) == room_id))
    ).scalar_one()
    if count >= MAX_MEMBERS:
        raise UserFacingError.one(f"A room has at most {MAX_MEMBERS} members", field=["userId"])
    session.add(RoomMember(room_id=room_id, user_id=user_id, added_by_id=viewer.id))
    await session.flush()
    await _record(session, ActivityKind.ROOM_MEMBER_ADDED, viewer, room, user=user)
    return room


async def remove_member(
    session: AsyncSession, *, viewer: Viewer, room_id: int, user_id: int
) -> ProjectRoom:
    room = await _room_to_manage(session, viewer, room_id, "roomId")
    removed = await session.execute(
        delete(RoomMember).where(
            col(RoomMember.room_id) == room_id, col(RoomMember.user_id) == user_id
        )
    )
    if not getattr(removed, "rowcount", 0):
        raise not_found("A member of this room", ["userId"])
    user = await session.get(User, user_id)
    await _record(session, ActivityKind.ROOM_MEMBER_REMOVED, viewer, room, user=user)
    return room


async def members_of(session: AsyncSession, room_ids: Sequence[int]) -> dict[int, list[RoomMember]]:
    rows = await session.execute(
        select(RoomMember)
        .where(col(RoomMember.room_id).in_(room_ids))
        .order_by(col(RoomMember.room_id), col(RoomMember.added_at), col(RoomMember.user_id))
    )
    found: dict[int, list[RoomMember]] = {room_id: [] for room_id in room_ids}
    for member in rows.scalars():
        found[member.room_id].append(member)
    return found


async def _record(
    session: AsyncSession,
    kind: ActivityKind,
    viewer: Viewer,
    room: ProjectRoom,
    *,
    category: Category | None = None,
    user: User | None = None,
) -> None:
    details: dict[str, Any] = {}
    subject: tuple[str, int | None] | None = None
    if category is not None:
        details = {"category": category.name}
        subject = ("Category", category.id)
    if user is not None:
        details = {"member": user.name}
        subject = ("User", user.id)
    await record(
        session,
        kind,
        actor_id=viewer.id,
        contact_id=None,
        room_id=room.id,
        subject=subject,
        details=details,
    )


# --- lists --------------------------------------------------------------------------------


async def rooms_visible_to(session: AsyncSession, viewer: Viewer) -> list[ProjectRoom]:
    """The rooms a viewer sees, by name: admins all of them, others those they are in."""
    query = select(ProjectRoom).order_by(col(ProjectRoom.name), col(ProjectRoom.id))
    if viewer.role != Role.ADMIN:
        query = query.join(RoomMember, col(RoomMember.room_id) == col(ProjectRoom.id)).where(
            col(RoomMember.user_id) == viewer.id
        )
    return list((await session.execute(query)).scalars())


# --- the history of a room ----------------------------------------------------------------

_ACTIVITY_FINGERPRINT = fingerprint("activity", "room")


async def room_activity(
    session: AsyncSession,
    *,
    viewer: Viewer,
    room_ids: Sequence[int],
    first: int,
    after: str | None,
) -> dict[int, ActivityPage]:
    """One page of each room's history, newest first, as `viewer` may see it: what happened
    to the room itself and its own items, and to every card of its categories (those in the
    bin too: their moving there is part of the story)."""
    older_than = None
    if after is not None:
        (older_than,) = decode_cursor(
            after, _ACTIVITY_FINGERPRINT, [SortKey(col(ActivityEvent.id), kind=int)]
        )
    seen = visible_to(viewer)
    scopes = {room_id: events_of_room(room_id) for room_id in room_ids}
    older = [] if older_than is None else [col(ActivityEvent.id) < older_than]
    rows = await session.execute(
        first_rows_per_scope(
            ActivityEvent, scopes, [seen, *older], [col(ActivityEvent.id).desc()], first + 1
        )
    )
    totals: dict[int, int] = dict((await session.execute(count_per_scope(scopes, [seen]))).all())
    pages = {
        room_id: ActivityPage([], [], False, older_than is not None, totals.get(room_id, 0))
        for room_id in room_ids
    }
    for event, room_id in rows:
        page = pages[room_id]
        if len(page.events) == first:
            page.has_next = True
            continue
        page.events.append(event)
        page.cursors.append(encode_cursor(_ACTIVITY_FINGERPRINT, [event.id]))
    return pages

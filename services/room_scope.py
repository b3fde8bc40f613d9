"""What a project room gathers (the cards of its categories, and the to-dos, notes, files and
history of those cards plus the room's own) and who may enter it (its members and admins)."""

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models.contacts import Contact
from models.rooms import ProjectRoom, RoomCategory, RoomMember
from models.users import Role
from services.auth import Viewer
from services.errors import not_found


def cards_gathered_by(room_id: int, *, with_bin: bool = False) -> Any:
    """The ids of the cards a room gathers: those of its categories (but for those in the bin,
    unless `with_bin`)."""
    query = (
        select(col(Contact.id))
        .join(RoomCategory, col(RoomCategory.category_id) == col(Contact.category_id))
        .where(col(RoomCategory.room_id) == room_id)
    )
    return query if with_bin else query.where(col(Contact.deleted_at).is_(None))


def gathered_by(model: Any, room_id: int) -> ColumnElement[bool]:
    """The rows of `model` (a to-do, note or file) a room gathers: its own and those of its
    categories' cards."""
    return or_(col(model.room_id) == room_id, col(model.contact_id).in_(cards_gathered_by(room_id)))


async def may_enter(session: AsyncSession, viewer: Viewer, room_id: int) -> bool:
    if viewer.role == Role.ADMIN:
        return True
    member = await session.get(RoomMember, (room_id, viewer.id))
    return member is not None


async def room_to_enter(
    session: AsyncSession, viewer: Viewer, room_id: int, field: str = "roomId"
) -> ProjectRoom:
    """A room the viewer may see (someone else's room is not found, as if it did not exist)."""
    room = await session.get(ProjectRoom, room_id)
    if room is None or not await may_enter(session, viewer, room_id):
        raise not_found("The project room", [field])
    return room

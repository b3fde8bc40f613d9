"""Where a to-do, note or file belongs: a card, or a project room's own."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from models.rooms import ProjectRoom
from services.auth import Viewer
from services.contacts import get_contact, lock_contact
from services.errors import ErrorCode, UserFacingError, not_found
from services.locks import lock_category_shapes
from services.room_scope import may_enter, room_gathering


@dataclass(frozen=True)
class Owner:
    contact_id: int | None
    room_id: int | None
    name: str  # the card's or the room's, for mails
    in_room_id: int | None  # the room that shows what is written there (services/room_scope)

    @property
    def where(self) -> str:
        """Where it is, in a sentence: "the card Acme", "the room Customers 2027"."""
        return f"the card {self.name}" if self.contact_id is not None else f"the room {self.name}"


async def owner_to_write(
    session: AsyncSession, viewer: Viewer, *, contact_id: int | None, room_id: int | None
) -> Owner:
    """The card (not in the bin) or the room (one the viewer may enter) that a new to-do,
    note or file goes to, locked so that it stays until the transaction ends; a card after
    its category's shape (services/locks.py), so that a room linking or unlinking the
    category meanwhile waits instead of missing the new item."""
    if (contact_id is None) == (room_id is None):
        raise UserFacingError.one(
            "Give either contactId (a card) or roomId (a project room's own)",
            code=ErrorCode.REQUIRED if contact_id is None else ErrorCode.INVALID,
            field=["contactId"],
        )
    if contact_id is not None:
        category_id = (await get_contact(session, contact_id, "contactId")).category_id
        await lock_category_shapes(session, [category_id], exclusive=False)
        contact = await lock_contact(session, contact_id, "contactId", shared=True)
        if contact.deleted_at is not None:
            raise UserFacingError.one(
                "The contact is deleted; restore it first",
                code=ErrorCode.ARCHIVED,
                field=["contactId"],
            )
        room_showing = await room_gathering(session, contact.category_id)
        return Owner(contact_id, None, contact.name, room_showing)
    assert room_id is not None
    room = await session.get(
        ProjectRoom, room_id, with_for_update={"read": True}, populate_existing=True
    )
    if room is None or not await may_enter(session, viewer, room_id):
        raise not_found("The project room", ["roomId"])
    return Owner(None, room_id, room.name, room_id)


async def check_room_access(session: AsyncSession, viewer: Viewer, room_id: int | None) -> bool:
    """Whether the viewer may touch a row of `room_id` (True for rows of no room)."""
    return room_id is None or await may_enter(session, viewer, room_id)

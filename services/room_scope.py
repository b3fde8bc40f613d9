"""What a project room gathers (the cards of its categories, and the to-dos, notes, files and
history of those cards plus the room's own) and who may enter it (its members and admins)."""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models.activity import ActivityEvent
from models.contacts import Contact
from models.files import StoredFile
from models.notes import Note
from models.rooms import ProjectRoom, RoomCategory, RoomMember
from models.todos import Todo
from models.users import Role
from services.auth import Viewer
from services.errors import not_found


def cards_gathered_by(room_id: int) -> Any:
    """The ids of the cards of a room's categories (those in the bin too)."""
    return (
        select(col(Contact.id))
        .join(RoomCategory, col(RoomCategory.category_id) == col(Contact.category_id))
        .where(col(RoomCategory.room_id) == room_id)
    )


def gathered_by(model: Any, room_id: int) -> ColumnElement[bool]:
    """The rows of `model` (a to-do, note or file) a room gathers: its own and those of its
    categories' cards (not in the bin), as `in_room_id` records them."""
    return col(model.in_room_id) == room_id


# The rows that name the room showing them, and what keeps that name true: creating one
# (owners.owner_to_write), linking or unlinking a category, a card going to the bin or back.
SHOWN_IN_ROOMS = (Todo, Note, StoredFile)


async def room_gathering(session: AsyncSession, category_id: int) -> int | None:
    """The room that gathers a category, if one does."""
    found = await session.execute(
        select(col(RoomCategory.room_id)).where(col(RoomCategory.category_id) == category_id)
    )
    return found.scalar_one_or_none()


async def show_category_in(session: AsyncSession, category_id: int, room_id: int | None) -> None:
    """Show the to-dos, notes and files of a category's cards (but those in the bin) in
    `room_id`, or in no room. The caller holds the category's shape exclusively, so no card
    of it gains an item meanwhile (services/locks.py)."""
    cards = select(col(Contact.id)).where(col(Contact.category_id) == category_id)
    if room_id is not None:
        cards = cards.where(col(Contact.deleted_at).is_(None))
    for model in SHOWN_IN_ROOMS:
        await session.execute(
            update(model)
            .where(col(model.contact_id).in_(cards))
            .values(in_room_id=room_id)
            .execution_options(synchronize_session=False)
        )


async def show_card_in_its_room(session: AsyncSession, contact: Contact) -> None:
    """After a card went to the bin (its items leave its category's room) or came back
    (they return)."""
    room_id = None
    if contact.deleted_at is None:
        room_id = await room_gathering(session, contact.category_id)
    for model in SHOWN_IN_ROOMS:
        await session.execute(
            update(model)
            .where(col(model.contact_id) == contact.id)
            .values(in_room_id=room_id)
            .execution_options(synchronize_session=False)
        )


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


# --- live: which rooms an event belongs to ------------------------------------------------

ROOM = "room"  # the kind of a room's live topic, ("room", room id)


def events_of_room(room_id: int) -> ColumnElement[bool]:
    """A room's events in the activity log: its own items' and those of every card of its
    categories (cards in the bin too)."""
    return or_(
        col(ActivityEvent.room_id) == room_id,
        col(ActivityEvent.contact_id).in_(cards_gathered_by(room_id)),
    )


async def rooms_of_events(session: AsyncSession, events: Sequence[ActivityEvent]) -> dict[int, int]:
    """The room each event of a batch belongs to, by event id (events of no room left out):
    one query for the whole batch."""
    rooms = {event.id: event.room_id for event in events if event.room_id is not None}
    card_ids = {event.contact_id for event in events if event.contact_id is not None}
    if card_ids:
        rows = await session.execute(
            select(col(Contact.id), col(RoomCategory.room_id))
            .join(RoomCategory, col(RoomCategory.category_id) == col(Contact.category_id))
            .where(col(Contact.id).in_(card_ids))
        )
        room_of_card = dict(rows.all())
        for event in events:
            if event.contact_id in room_of_card:
                rooms[event.id] = room_of_card[event.contact_id]
    return {event_id: room_id for event_id, room_id in rooms.items() if event_id is not None}


async def members_among(
    session: AsyncSession, wanted: Iterable[tuple[int, int]]
) -> set[tuple[int, int]]:
    """Which (room id, user id) pairs are memberships, in one query."""
    pairs = set(wanted)
    if not pairs:
        return set()
    rows = await session.execute(
        select(col(RoomMember.room_id), col(RoomMember.user_id)).where(
            col(RoomMember.room_id).in_({room for room, _ in pairs}),
            col(RoomMember.user_id).in_({user for _, user in pairs}),
        )
    )
    return {(room, user) for room, user in rows.all()} & pairs

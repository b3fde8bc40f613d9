"""Notes: decode what the client sent, run the service in the operation's session, hand back
what it produced."""

from collections.abc import Mapping
from typing import Any

from models.contacts import Contact
from models.notes import Note, NoteVisibility
from resolvers.context import Context
from resolvers.database import Outcome
from resolvers.loaders import NotesShape
from services import notes
from services.ids import decode_id
from services.notes import NotePage
from services.pagination import PageRequest


async def notes_page(
    ctx: Context, contact: Contact, *, first: int | None, after: str | None
) -> NotePage:
    """One page of the card's notes the viewer may see: pinned first, then newest first."""
    assert contact.id is not None
    size = PageRequest(first=first, after=after).checked(ctx.settings.max_page_size).size
    shape = NotesShape(await ctx.require(), size, after)
    return await ctx.loaders.notes.load((contact.id, shape))


async def create_note(
    ctx: Context,
    *,
    contact_id: str | None,
    room_id: str | None = None,
    body: str,
    visibility: NoteVisibility,
    pinned: bool,
) -> Outcome[Note]:
    viewer = await ctx.require()
    card = decode_id(contact_id, "Contact") if contact_id is not None else None
    room = decode_id(room_id, "ProjectRoom") if room_id is not None else None
    return await ctx.mutate(
        lambda s: notes.create_note(
            s,
            viewer=viewer,
            contact_id=card,
            room_id=room,
            body=body,
            visibility=visibility,
            pinned=pinned,
        )
    )


async def update_note(ctx: Context, *, id: str, changes: Mapping[str, Any]) -> Outcome[Note]:
    viewer = await ctx.require()
    note_id = decode_id(id, "Note")
    return await ctx.mutate(
        lambda s: notes.update_note(s, viewer=viewer, note_id=note_id, changes=changes)
    )


async def delete_note(ctx: Context, *, id: str) -> Outcome[Note]:
    viewer = await ctx.require()
    note_id = decode_id(id, "Note")
    return await ctx.mutate(lambda s: notes.delete_note(s, viewer=viewer, note_id=note_id))

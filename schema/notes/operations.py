"""The operations on notes: writing, editing, pinning and deleting them (members)."""

import strawberry

from models.notes import NoteVisibility
from models.users import Role
from resolvers import notes as resolve
from schema.common import Info, payload, provided
from schema.notes.inputs import NoteCreateInput, NoteDeleteInput, NotePayload, NoteUpdateInput
from schema.notes.types import Note
from schema.permissions import requires


@strawberry.type
class NoteMutation:
    @strawberry.mutation(
        description="Write a note on a card, or in a project room.",
        extensions=requires(Role.MEMBER),
    )
    async def note_create(self, info: Info, input: NoteCreateInput) -> NotePayload:
        outcome = await resolve.create_note(
            info.context,
            contact_id=input.contact_id,
            room_id=input.room_id,
            body=input.body,
            visibility=NoteVisibility(input.visibility),
            pinned=input.pinned,
        )
        return payload(NotePayload, outcome, note=Note.of)

    @strawberry.mutation(
        description="Edit your note, or pin and unpin a team note.",
        extensions=requires(Role.MEMBER),
    )
    async def note_update(self, info: Info, input: NoteUpdateInput) -> NotePayload:
        changes = provided(input, ("body", "visibility", "pinned"))
        outcome = await resolve.update_note(info.context, id=input.id, changes=changes)
        return payload(NotePayload, outcome, note=Note.of)

    @strawberry.mutation(
        description="Delete your note (admins: any team note).", extensions=requires(Role.MEMBER)
    )
    async def note_delete(self, info: Info, input: NoteDeleteInput) -> NotePayload:
        outcome = await resolve.delete_note(info.context, id=input.id)
        return payload(NotePayload, outcome, note=Note.of)

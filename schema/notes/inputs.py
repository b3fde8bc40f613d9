"""What clients send to write notes, and the payloads they get back."""

import strawberry

from models.notes import NoteVisibility
from schema.common import UserError, user_errors_field
from schema.notes.types import Note


@strawberry.input(description="On a card (contactId) or of a project room's own (roomId).")
class NoteCreateInput:
    contact_id: strawberry.ID | None = None
    room_id: strawberry.ID | None = None
    body: str = strawberry.field(description="Markdown, at most 20,000 characters.")
    visibility: NoteVisibility = NoteVisibility.TEAM
    pinned: bool = False


@strawberry.input(description="Omitted fields stay. Others than its author may only pin or unpin.")
class NoteUpdateInput:
    id: strawberry.ID
    body: str | None = strawberry.UNSET
    visibility: NoteVisibility | None = strawberry.UNSET
    pinned: bool | None = strawberry.UNSET


@strawberry.input
class NoteDeleteInput:
    id: strawberry.ID


@strawberry.type
class NotePayload:
    note: Note | None = None
    user_errors: list[UserError] = user_errors_field()

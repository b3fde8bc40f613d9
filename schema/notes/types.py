"""Notes as the API shows them."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, cast

import strawberry

from models.notes import Note as NoteModel
from models.notes import NoteVisibility
from schema import cost
from schema.common import Info, Node, PageInfo, existing, node_type
from schema.node import LazyRoom, resolve_node, room_node, visible
from schema.users.types import User
from services.ids import encode_id
from services.notes import NotePage, may_see

if TYPE_CHECKING:
    from schema.contacts.types import Contact

strawberry.enum(NoteVisibility, description="TEAM: everyone who sees the card; PRIVATE: you only.")


@node_type(NoteModel, visible=may_see, room=lambda note: note.room_id)
@strawberry.type(description="A note on a card, in Markdown.")
class Note(Node):
    body: str
    visibility: NoteVisibility
    pinned: bool
    created_at: datetime
    updated_at: datetime
    _model: strawberry.Private[NoteModel]

    @classmethod
    def of(cls, model: NoteModel) -> "Note":
        assert model.id is not None
        return cls(
            id=strawberry.ID(encode_id("Note", model.id)),
            body=model.body,
            visibility=NoteVisibility(model.visibility),
            pinned=model.pinned,
            created_at=model.created_at,
            updated_at=model.updated_at,
            _model=model,
        )

    @strawberry.field(description="Who wrote it (null when deactivated and you are not an admin).")
    async def author(self, info: Info) -> User | None:
        return await visible(info.context, User, self._model.author_id)

    @strawberry.field
    async def contact(
        self, info: Info
    ) -> Annotated["Contact", strawberry.lazy("schema.contacts.types")] | None:
        if self._model.contact_id is None:
            return None
        # Through the node registry: the contacts schema builds on this one.
        card = await resolve_node(info.context, "Contact", self._model.contact_id)
        return cast("Contact", existing(card))

    @strawberry.field(description="The project room it belongs to, when it is a room's own.")
    async def room(self, info: Info) -> LazyRoom | None:
        return await room_node(info.context, self._model.room_id)


@strawberry.type
class NoteEdge:
    cursor: str
    node: Note


@strawberry.type
class NoteConnection:
    edges: list[NoteEdge] = strawberry.field(metadata=cost.in_page())
    page_info: PageInfo
    total_count: int = strawberry.field(description="Notes you may see, on every page.")

    @classmethod
    def of_page(cls, page: NotePage) -> "NoteConnection":
        return cls(
            edges=[
                NoteEdge(cursor=cursor, node=Note.of(note))
                for note, cursor in zip(page.notes, page.cursors, strict=True)
            ],
            page_info=PageInfo.of(
                page.cursors, has_next=page.has_next, has_previous=page.has_previous
            ),
            total_count=page.total,
        )

    @strawberry.field(metadata=cost.in_page())
    def nodes(self) -> list[Note]:
        return [edge.node for edge in self.edges]

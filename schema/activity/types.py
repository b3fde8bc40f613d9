"""History events: who changed what on a card, and when."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from models.activity import ActivityEvent as EventModel
from models.activity import ActivityKind
from schema import cost
from schema.common import Info, Node, PageInfo, node_type
from schema.node import LazyRoom, resolve_node, room_node, visible
from schema.users.types import User
from services.activity import ActivityPage, may_see, stream_cursor
from services.ids import encode_id

if TYPE_CHECKING:
    from schema.contacts.types import Contact

strawberry.enum(ActivityKind, description="What happened.")


@strawberry.type(description="One field of a card before and after a change.")
class FieldChange:
    field: str = strawberry.field(
        description="The API name: `name`, `address.city`, `values.<key>`, ..."
    )
    label: str
    before: JSON | None
    after: JSON | None


@node_type(EventModel, visible=may_see, room=lambda event: event.room_id)
@strawberry.type(description="A change on a card, in the same transaction as the change.")
class ActivityEvent(Node):
    kind: ActivityKind
    at: datetime
    cursor: str = strawberry.field(
        description="This event's place in the order live readers follow (pass it as `after`)."
    )
    details: JSON = strawberry.field(
        description="What the event names besides changes: a title, a file name, a relation."
    )
    changes: list[FieldChange] = strawberry.field(metadata=cost.typical(10))
    _model: strawberry.Private[EventModel]

    @classmethod
    def of(cls, model: EventModel) -> "ActivityEvent":
        assert model.id is not None
        data: dict[str, Any] = dict(model.data or {})
        changes = data.pop("changes", [])
        return cls(
            id=strawberry.ID(encode_id("ActivityEvent", model.id)),
            kind=ActivityKind(model.kind),
            at=model.at,
            cursor=stream_cursor(model),
            details=JSON(data),
            changes=[FieldChange(**change) for change in changes],
            _model=model,
        )

    @strawberry.field(description="Who made the change (null when unknown or hidden from you).")
    async def actor(self, info: Info) -> User | None:
        if self._model.actor_id is None:
            return None
        return await visible(info.context, User, self._model.actor_id)

    @strawberry.field
    async def contact(
        self, info: Info
    ) -> Annotated["Contact", strawberry.lazy("schema.contacts.types")] | None:
        if self._model.contact_id is None:
            return None
        # Through the node registry: the contacts schema builds on this one.
        return cast(
            "Contact | None", await resolve_node(info.context, "Contact", self._model.contact_id)
        )

    @strawberry.field(description="The project room it belongs to, when it is a room's own.")
    async def room(self, info: Info) -> LazyRoom | None:
        return await room_node(info.context, self._model.room_id)

    @strawberry.field(
        description="What it is about, while it exists and you may see it (a note, a to-do, a "
        "file, a person, a card)."
    )
    async def subject(self, info: Info) -> Node | None:
        model = self._model
        if model.subject_type is None or model.subject_id is None:
            return None
        return await resolve_node(info.context, model.subject_type, model.subject_id)


@strawberry.type
class ActivityEdge:
    cursor: str
    node: ActivityEvent


@strawberry.type
class ActivityConnection:
    edges: list[ActivityEdge] = strawberry.field(metadata=cost.in_page())
    page_info: PageInfo
    total_count: int = strawberry.field(description="Events you may see, on every page.")

    @classmethod
    def of_page(cls, page: ActivityPage) -> "ActivityConnection":
        return cls(
            edges=[
                ActivityEdge(cursor=cursor, node=ActivityEvent.of(event))
                for event, cursor in zip(page.events, page.cursors, strict=True)
            ],
            page_info=PageInfo.of(
                page.cursors, has_next=page.has_next, has_previous=page.has_previous
            ),
            total_count=page.total,
        )

    @strawberry.field(metadata=cost.in_page())
    def nodes(self) -> list[ActivityEvent]:
        return [edge.node for edge in self.edges]

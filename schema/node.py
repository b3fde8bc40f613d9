"""Relay's node(id:) and nodes(ids:): any object by its global ID.

Every Node type registers itself where it is defined (schema.common.node_type), so this module
knows no type by name.
"""

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, TypeVar, cast

import strawberry

from resolvers.context import Context
from resolvers.rooms import may_enter
from schema import cost
from schema.common import NODE_TYPES, Info, Node
from schema.cost import MAX_NODES
from schema.permissions import requires
from services.errors import BadRequestError
from services.ids import decode_global_id

if TYPE_CHECKING:
    from schema.rooms.types import ProjectRoom

N = TypeVar("N", bound=Node)


async def resolve_nodes(ctx: Context, ids: Sequence[str]) -> list[Node | None]:
    if len(ids) > MAX_NODES:
        raise BadRequestError(f"Ask for at most {MAX_NODES} IDs at once", "TOO_MANY_IDS")
    decoded = [decode_global_id(global_id) for global_id in ids]
    # Gathered, so the DataLoaders batch each type into one statement.
    return list(await asyncio.gather(*(resolve_node(ctx, name, pk) for name, pk in decoded)))


async def resolve_node(ctx: Context, type_name: str, pk: int) -> Node | None:
    """The object of a type by primary key, if it exists and the viewer may see it."""
    registered = NODE_TYPES.get(type_name)
    if registered is None:
        return None
    row = await ctx.loaders.by_id(registered.model).load(pk)
    if row is None:
        return None
    if registered.visible is not None and not registered.visible(await ctx.require(), row):
        return None
    room_id = registered.room(row) if registered.room is not None else None
    if room_id is not None and not await may_enter(ctx, room_id):
        return None
    node: Node = registered.type.of(row)
    return node


# A project room, named lazily: rooms are built on the types that point at them.
LazyRoom = Annotated["ProjectRoom", strawberry.lazy("schema.rooms.types")]


async def room_node(ctx: Context, room_id: int | None) -> "ProjectRoom | None":
    """The project room a row belongs to, if any and if the viewer may enter it."""
    if room_id is None:
        return None
    return cast("ProjectRoom | None", await resolve_node(ctx, "ProjectRoom", room_id))


async def visible(ctx: Context, node_class: type[N], pk: int) -> N | None:
    """An object of a known type by primary key, as node(id:) would show it (None when it is
    missing or hidden from the viewer)."""
    node = await resolve_node(ctx, node_class.__name__, pk)
    return node if isinstance(node, node_class) else None


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global ID.", extensions=requires())
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return (await resolve_nodes(info.context, [id]))[0]

    @strawberry.field(
        description="Several objects by their global IDs, in the same order.",
        metadata=cost.per_item("ids"),
        extensions=requires(),
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        return await resolve_nodes(info.context, ids)

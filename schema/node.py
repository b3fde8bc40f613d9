"""Relay's node(id:) and nodes(ids:): any object by its global ID.

Every Node type registers itself where it is defined (schema.common.node_type), so this module
knows no type by name.
"""

import asyncio
from collections.abc import Sequence

from resolvers.context import Context
from schema.common import NODE_TYPES, Node
from schema.cost import MAX_NODES
from services.errors import BadRequestError
from services.ids import decode_global_id


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
    node: Node = registered.type.of(row)
    return node

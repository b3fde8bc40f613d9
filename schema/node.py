"""Relay's node(id:) and nodes(ids:): any object by its global ID."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from models.categories import CategoryRelation as RelationModel
from models.categories import FieldDefinition as FieldModel
from models.contacts import Person as PersonModel
from models.users import ApiKey as ApiKeyModel
from models.users import Role
from resolvers.context import Context
from schema.categories import Category, CategoryRelation, FieldDefinition
from schema.common import Node
from schema.contacts import Contact, Person
from schema.limits import MAX_NODES
from schema.users import ApiKey, visible_user
from services.errors import BadRequestError
from services.ids import decode_global_id

M = TypeVar("M")


def _get(model: type[M], pk: int) -> Callable[[AsyncSession], Awaitable[M | None]]:
    async def get(session: AsyncSession) -> M | None:
        return await session.get(model, pk)

    return get


async def resolve_nodes(ctx: Context, ids: Sequence[str]) -> list[Node | None]:
    if len(ids) > MAX_NODES:
        raise BadRequestError(f"Ask for at most {MAX_NODES} IDs at once", "TOO_MANY_IDS")
    decoded = [decode_global_id(global_id) for global_id in ids]
    # Gathered, so the DataLoaders batch each type into one statement.
    return list(await asyncio.gather(*(_resolve(ctx, name, pk) for name, pk in decoded)))


async def _resolve(ctx: Context, type_name: str, pk: int) -> Node | None:
    model: Any
    match type_name:
        case "Contact":
            model = await ctx.loaders.contact.load(pk)
            return Contact.of(model) if model else None
        case "Category":
            model = await ctx.loaders.category.load(pk)
            return Category.of(model) if model else None
        case "User":
            return await visible_user(ctx, pk)
        case "FieldDefinition":
            model = await ctx.read(_get(FieldModel, pk))
            return FieldDefinition.of(model) if model else None
        case "CategoryRelation":
            model = await ctx.read(_get(RelationModel, pk))
            return CategoryRelation.of(model) if model else None
        case "Person":
            model = await ctx.read(_get(PersonModel, pk))
            return Person.of(model) if model else None
        case "ApiKey":
            # Only its owner and admins may see a key, as in User.apiKeys.
            viewer = await ctx.require()
            model = await ctx.read(_get(ApiKeyModel, pk))
            if model is None or (model.user_id != viewer.id and viewer.role != Role.ADMIN):
                return None
            return ApiKey.of(model)
    return None

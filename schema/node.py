"""Relay's node(id:) and nodes(ids:): any object by its global ID."""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from models.categories import CategoryRelation as RelationModel
from models.categories import FieldDefinition as FieldModel
from models.contacts import Person as PersonModel
from resolvers.context import Context
from schema.categories import Category, CategoryRelation, FieldDefinition
from schema.common import Node
from schema.contacts import Contact, Person
from schema.users import User
from services.ids import decode_global_id

M = TypeVar("M")


def _get(model: type[M], pk: int) -> Callable[[AsyncSession], Awaitable[M | None]]:
    async def get(session: AsyncSession) -> M | None:
        return await session.get(model, pk)

    return get


async def resolve_nodes(ctx: Context, ids: Sequence[str]) -> list[Node | None]:
    results: list[Node | None] = []
    for global_id in ids:
        type_name, pk = decode_global_id(global_id)
        model: Any
        match type_name:
            case "Contact":
                model = await ctx.loaders.contact.load(pk)
                results.append(Contact.of(model) if model else None)
            case "Category":
                model = await ctx.loaders.category.load(pk)
                results.append(Category.of(model) if model else None)
            case "User":
                model = await ctx.loaders.user.load(pk)
                results.append(User.of(model) if model else None)
            case "FieldDefinition":
                model = await ctx.read(_get(FieldModel, pk))
                results.append(FieldDefinition.of(model) if model else None)
            case "CategoryRelation":
                model = await ctx.read(_get(RelationModel, pk))
                results.append(CategoryRelation.of(model) if model else None)
            case "Person":
                model = await ctx.read(_get(PersonModel, pk))
                results.append(Person.of(model) if model else None)
            case _:
                results.append(None)
    return results

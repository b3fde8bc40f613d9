"""Categories, their fields and relations (admin work): decode what the client sent, run the
service in the operation's session, hand back what it produced."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.categories import Category, CategoryRelation, FieldDefinition, RelationCardinality
from resolvers.context import Context
from resolvers.database import Outcome
from services import categories
from services.categories import FieldSpec
from services.ids import decode_id
from services.statistics import check_category_statistics


async def list_categories(ctx: Context) -> list[Category]:
    return await ctx.read(categories.list_categories)


async def category(ctx: Context, *, id: str | None, key: str | None) -> Category | None:
    if id is not None:
        row: Category | None = await ctx.loaders.category.load(decode_id(id, "Category"))
        return row
    if key is not None:
        return await ctx.read(lambda s: categories.category_by_key(s, key))
    return None


async def create_category(
    ctx: Context, *, key: str, name: str, description: str | None
) -> Outcome[Category]:
    return await ctx.mutate(
        lambda s: categories.create_category(s, key=key, name=name, description=description)
    )


async def update_category(
    ctx: Context, *, id: str, changes: Mapping[str, Any]
) -> Outcome[Category]:
    category_id = decode_id(id, "Category")
    return await ctx.mutate(
        lambda s: categories.update_category(s, category_id=category_id, changes=changes)
    )


async def delete_category(ctx: Context, *, id: str) -> Outcome[str]:
    """The deleted category's ID, or why it was not deleted."""
    category_id = decode_id(id, "Category")

    async def delete(session: Any) -> str:
        await categories.delete_category(session, category_id=category_id)
        return id

    return await ctx.mutate(delete)


async def create_field(
    ctx: Context,
    *,
    category_id: str,
    key: str,
    settings: Mapping[str, Any],
    position: int | None,
) -> Outcome[FieldDefinition]:
    category = decode_id(category_id, "Category")
    return await ctx.mutate(
        lambda s: categories.create_field(
            s, category_id=category, key=key, spec=FieldSpec.of(settings), position=position
        )
    )


async def update_field(
    ctx: Context, *, id: str, settings: Mapping[str, Any]
) -> Outcome[FieldDefinition]:
    field_id = decode_id(id, "FieldDefinition")

    async def update(session: AsyncSession) -> FieldDefinition:
        field = await categories.update_field(
            session, field_id=field_id, spec=FieldSpec.of(settings)
        )
        await check_category_statistics(
            session, field.category_id, change=f"changing {field.key}", field=["id"]
        )
        return field

    return await ctx.mutate(update)


async def set_field_archived(ctx: Context, *, id: str, archived: bool) -> Outcome[FieldDefinition]:
    field_id = decode_id(id, "FieldDefinition")

    async def archive(session: AsyncSession) -> FieldDefinition:
        field = await categories.set_field_archived(session, field_id=field_id, archived=archived)
        if archived:
            await check_category_statistics(
                session, field.category_id, change=f"archiving {field.key}", field=["id"]
            )
        return field

    return await ctx.mutate(archive)


async def reorder_fields(
    ctx: Context, *, category_id: str, field_ids: Sequence[str]
) -> Outcome[list[FieldDefinition]]:
    category = decode_id(category_id, "Category")
    ids = [decode_id(i, "FieldDefinition") for i in field_ids]
    return await ctx.mutate(
        lambda s: categories.reorder_fields(s, category_id=category, field_ids=ids)
    )


async def create_relation(
    ctx: Context,
    *,
    key: str,
    name: str,
    inverse_key: str,
    inverse_name: str,
    from_category_id: str,
    to_category_id: str,
    cardinality: RelationCardinality,
) -> Outcome[CategoryRelation]:
    from_id = decode_id(from_category_id, "Category")
    to_id = decode_id(to_category_id, "Category")
    return await ctx.mutate(
        lambda s: categories.create_relation(
            s,
            key=key,
            name=name,
            inverse_key=inverse_key,
            inverse_name=inverse_name,
            from_category_id=from_id,
            to_category_id=to_id,
            cardinality=cardinality,
        )
    )


async def delete_relation(ctx: Context, *, id: str) -> Outcome[str]:
    """The deleted relation's ID, or why it was not deleted."""
    relation_id = decode_id(id, "CategoryRelation")

    async def delete(session: AsyncSession) -> str:
        relation = await session.get(CategoryRelation, relation_id)
        await categories.delete_relation(session, relation_id=relation_id)
        if relation is not None:
            ends = {relation.from_category_id, relation.to_category_id}
            for category_id in sorted(ends):
                await check_category_statistics(
                    session, category_id, change=f"deleting {relation.key}", field=["id"]
                )
        return id

    return await ctx.mutate(delete)

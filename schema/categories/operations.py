"""The operations on categories, their fields and relations: reading them (everyone signed in)
and shaping them (admins)."""

import strawberry

from models.categories import RelationCardinality
from models.users import Role
from resolvers import categories as resolve
from resolvers.database import Outcome
from schema import cost
from schema.categories.inputs import (
    CategoryCreateInput,
    CategoryDeleteInput,
    CategoryPayload,
    CategoryRelationCreateInput,
    CategoryRelationDeleteInput,
    CategoryRelationPayload,
    CategoryUpdateInput,
    DeletePayload,
    FieldDefinitionCreateInput,
    FieldDefinitionIdInput,
    FieldDefinitionPayload,
    FieldDefinitionReorderInput,
    FieldDefinitionReorderPayload,
    FieldDefinitionUpdateInput,
)
from schema.categories.types import Category, CategoryRelation, FieldDefinition
from schema.common import Info, payload, provided
from schema.permissions import requires


def _deleted(outcome: Outcome[str]) -> DeletePayload:
    return payload(DeletePayload, outcome, deleted_id=strawberry.ID)


@strawberry.type
class CategoryQuery:
    @strawberry.field(metadata=cost.typical(20), extensions=requires())
    async def categories(self, info: Info) -> list[Category]:
        return [Category.of(c) for c in await resolve.list_categories(info.context)]

    @strawberry.field(description="A category by ID or by key.", extensions=requires())
    async def category(
        self, info: Info, id: strawberry.ID | None = None, key: str | None = None
    ) -> Category | None:
        row = await resolve.category(info.context, id=id, key=key)
        return Category.of(row) if row else None


@strawberry.type
class CategoryMutation:
    @strawberry.mutation(extensions=requires(Role.ADMIN))
    async def category_create(self, info: Info, input: CategoryCreateInput) -> CategoryPayload:
        outcome = await resolve.create_category(
            info.context, key=input.key, name=input.name, description=input.description
        )
        return payload(CategoryPayload, outcome, category=Category.of)

    @strawberry.mutation(extensions=requires(Role.ADMIN))
    async def category_update(self, info: Info, input: CategoryUpdateInput) -> CategoryPayload:
        changes = provided(input, ("name", "description"))
        outcome = await resolve.update_category(info.context, id=input.id, changes=changes)
        return payload(CategoryPayload, outcome, category=Category.of)

    @strawberry.mutation(
        description="Delete a category without live cards.", extensions=requires(Role.ADMIN)
    )
    async def category_delete(self, info: Info, input: CategoryDeleteInput) -> DeletePayload:
        return _deleted(await resolve.delete_category(info.context, id=input.id))

    @strawberry.mutation(extensions=requires(Role.ADMIN))
    async def field_definition_create(
        self, info: Info, input: FieldDefinitionCreateInput
    ) -> FieldDefinitionPayload:
        outcome = await resolve.create_field(
            info.context,
            category_id=input.category_id,
            key=input.key,
            settings=input.settings(),
            position=input.position,
        )
        return payload(FieldDefinitionPayload, outcome, field_definition=FieldDefinition.of)

    @strawberry.mutation(
        description="Change a field; a type change converts every value or is refused.",
        extensions=requires(Role.ADMIN),
    )
    async def field_definition_update(
        self, info: Info, input: FieldDefinitionUpdateInput
    ) -> FieldDefinitionPayload:
        outcome = await resolve.update_field(info.context, id=input.id, settings=input.settings())
        return payload(FieldDefinitionPayload, outcome, field_definition=FieldDefinition.of)

    @strawberry.mutation(
        description="Hide a field; its values are kept.", extensions=requires(Role.ADMIN)
    )
    async def field_definition_archive(
        self, info: Info, input: FieldDefinitionIdInput
    ) -> FieldDefinitionPayload:
        outcome = await resolve.set_field_archived(info.context, id=input.id, archived=True)
        return payload(FieldDefinitionPayload, outcome, field_definition=FieldDefinition.of)

    @strawberry.mutation(extensions=requires(Role.ADMIN))
    async def field_definition_restore(
        self, info: Info, input: FieldDefinitionIdInput
    ) -> FieldDefinitionPayload:
        outcome = await resolve.set_field_archived(info.context, id=input.id, archived=False)
        return payload(FieldDefinitionPayload, outcome, field_definition=FieldDefinition.of)

    @strawberry.mutation(extensions=requires(Role.ADMIN))
    async def field_definition_reorder(
        self, info: Info, input: FieldDefinitionReorderInput
    ) -> FieldDefinitionReorderPayload:
        outcome = await resolve.reorder_fields(
            info.context, category_id=input.category_id, field_ids=input.field_ids
        )
        return payload(
            FieldDefinitionReorderPayload,
            outcome,
            fields=lambda fields: [FieldDefinition.of(f) for f in fields],
        )

    @strawberry.mutation(extensions=requires(Role.ADMIN))
    async def category_relation_create(
        self, info: Info, input: CategoryRelationCreateInput
    ) -> CategoryRelationPayload:
        outcome = await resolve.create_relation(
            info.context,
            key=input.key,
            name=input.name,
            inverse_key=input.inverse_key,
            inverse_name=input.inverse_name,
            from_category_id=input.from_category_id,
            to_category_id=input.to_category_id,
            cardinality=RelationCardinality(input.cardinality),
        )
        return payload(CategoryRelationPayload, outcome, relation=CategoryRelation.of)

    @strawberry.mutation(
        description="Delete a relation and every link made with it.",
        extensions=requires(Role.ADMIN),
    )
    async def category_relation_delete(
        self, info: Info, input: CategoryRelationDeleteInput
    ) -> DeletePayload:
        return _deleted(await resolve.delete_relation(info.context, id=input.id))

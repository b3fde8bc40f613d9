"""Categories, their typed custom fields, and relations between categories."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import Info
from strawberry.scalars import JSON

from models.categories import Category as CategoryModel
from models.categories import CategoryRelation as RelationModel
from models.categories import FieldDefinition as FieldModel
from models.categories import FieldType as FieldTypeModel
from models.categories import RelationCardinality as CardinalityModel
from models.users import Role
from schema import cost
from schema.common import (
    Node,
    UserError,
    context,
    existing,
    node_type,
    user_errors,
    user_errors_field,
)
from services import categories
from services.categories import FieldSpec
from services.ids import decode_id, encode_id

if TYPE_CHECKING:
    from schema.contacts import ContactConnection, ContactFilter, ContactOrder

FieldType = strawberry.enum(FieldTypeModel, description="The type of a custom field's values.")
RelationCardinality = strawberry.enum(
    CardinalityModel,
    description="ONE_TO_MANY: a card on the target side has at most one card on the source side.",
)


@strawberry.type
class SelectOption:
    value: str
    label: str
    color: str | None


@strawberry.type
class FieldValidation:
    min: JSON | None = None
    max: JSON | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None


@node_type(FieldModel)
@strawberry.type
class FieldDefinition(Node):
    key: str = strawberry.field(description="Immutable; the key of this field in Contact.values.")
    label: str
    type: FieldType  # type: ignore[valid-type]
    required: bool
    unique: bool
    indexed: bool
    options: list[SelectOption] | None = strawberry.field(metadata=cost.typical(10))
    validation: FieldValidation | None
    default_value: JSON | None
    currency: str | None = strawberry.field(description="ISO 4217 code of a MONEY field.")
    position: int
    archived: bool
    _model: strawberry.Private[FieldModel]

    @classmethod
    def of(cls, model: FieldModel) -> "FieldDefinition":
        assert model.id is not None
        rules = model.validation or {}
        return cls(
            id=strawberry.ID(encode_id("FieldDefinition", model.id)),
            key=model.key,
            label=model.label,
            type=FieldTypeModel(model.type),
            required=model.required,
            unique=model.unique,
            indexed=model.indexed,
            options=[SelectOption(**o) for o in model.options] if model.options else None,
            validation=FieldValidation(
                min=rules.get("min"),
                max=rules.get("max"),
                min_length=rules.get("minLength"),
                max_length=rules.get("maxLength"),
                pattern=rules.get("pattern"),
            )
            if rules
            else None,
            default_value=model.default_value,
            currency=model.currency,
            position=model.position,
            archived=model.archived_at is not None,
            _model=model,
        )

    @strawberry.field
    async def category(self, info: Info) -> "Category":
        return Category.of(
            existing(await context(info).loaders.category.load(self._model.category_id))
        )


@node_type(RelationModel)
@strawberry.type
class CategoryRelation(Node):
    key: str = strawberry.field(description="The relation's name seen from `from` cards.")
    name: str
    inverse_key: str = strawberry.field(description="The relation's name seen from `to` cards.")
    inverse_name: str
    cardinality: RelationCardinality  # type: ignore[valid-type]
    _model: strawberry.Private[RelationModel]

    @classmethod
    def of(cls, model: RelationModel) -> "CategoryRelation":
        assert model.id is not None
        return cls(
            id=strawberry.ID(encode_id("CategoryRelation", model.id)),
            key=model.key,
            name=model.name,
            inverse_key=model.inverse_key,
            inverse_name=model.inverse_name,
            cardinality=CardinalityModel(model.cardinality),
            _model=model,
        )

    @strawberry.field(name="from")
    async def from_(self, info: Info) -> "Category":
        return Category.of(
            existing(await context(info).loaders.category.load(self._model.from_category_id))
        )

    @strawberry.field
    async def to(self, info: Info) -> "Category":
        return Category.of(
            existing(await context(info).loaders.category.load(self._model.to_category_id))
        )


@node_type(CategoryModel)
@strawberry.type
class Category(Node):
    key: str
    name: str
    description: str | None
    created_at: datetime
    _model: strawberry.Private[CategoryModel]

    @classmethod
    def of(cls, model: CategoryModel) -> "Category":
        assert model.id is not None
        return cls(
            id=strawberry.ID(encode_id("Category", model.id)),
            key=model.key,
            name=model.name,
            description=model.description,
            created_at=model.created_at,
            _model=model,
        )

    @strawberry.field(description="Custom fields in display order.", metadata=cost.typical(20))
    async def fields(self, info: Info, include_archived: bool = False) -> list[FieldDefinition]:
        assert self._model.id is not None
        rows = await context(info).loaders.fields.load(self._model.id)
        return [FieldDefinition.of(f) for f in rows if include_archived or f.archived_at is None]

    @strawberry.field(
        description="Relations that start or end at this category.", metadata=cost.typical(10)
    )
    async def relations(self, info: Info) -> list[CategoryRelation]:
        assert self._model.id is not None
        return [
            CategoryRelation.of(r)
            for r in await context(info).loaders.relations.load(self._model.id)
        ]

    @strawberry.field(
        description="Cards of this category; see Query.contacts.", metadata=cost.page()
    )
    async def contacts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: Annotated["ContactFilter", strawberry.lazy("schema.contacts")] | None = None,
        search: str | None = None,
        order_by: list[Annotated["ContactOrder", strawberry.lazy("schema.contacts")]] | None = None,
        include_deleted: bool = False,
    ) -> Annotated["ContactConnection", strawberry.lazy("schema.contacts")]:
        from schema.contacts import find_contacts

        assert self._model.id is not None
        return await find_contacts(
            info,
            self._model.id,
            first,
            after,
            last,
            before,
            filter,
            search,
            order_by,
            include_deleted,
        )


# --- inputs and payloads -----------------------------------------------------------------------


@strawberry.input
class CategoryCreateInput:
    key: str = strawberry.field(description="Immutable, e.g. 'customers'.")
    name: str
    description: str | None = None


@strawberry.input
class CategoryUpdateInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET


@strawberry.input
class CategoryDeleteInput:
    id: strawberry.ID


@strawberry.type
class CategoryPayload:
    category: Category | None = None
    user_errors: list[UserError] = user_errors_field()


@strawberry.type
class DeletePayload:
    deleted_id: strawberry.ID | None = None
    user_errors: list[UserError] = user_errors_field()


@strawberry.input
class SelectOptionInput:
    value: str
    label: str | None = None
    color: str | None = strawberry.field(default=None, description="#RRGGBB")


@strawberry.input
class FieldValidationInput:
    min: JSON | None = None
    max: JSON | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None

    def to_rules(self) -> dict[str, Any]:
        return {
            "min": self.min,
            "max": self.max,
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "pattern": self.pattern,
        }


@strawberry.input
class FieldDefinitionCreateInput:
    category_id: strawberry.ID
    key: str = strawberry.field(description="Immutable; letters, digits, underscores.")
    label: str
    type: FieldType  # type: ignore[valid-type]
    required: bool = False
    unique: bool = False
    indexed: bool = False
    options: list[SelectOptionInput] | None = None
    validation: FieldValidationInput | None = None
    default_value: JSON | None = None
    currency: str | None = None
    position: int | None = None


@strawberry.input(
    description="Omitted settings stay; null clears options, validation, default and currency."
)
class FieldDefinitionUpdateInput:
    id: strawberry.ID
    label: str | None = strawberry.UNSET
    type: FieldType | None = strawberry.UNSET  # type: ignore[valid-type]
    required: bool | None = strawberry.UNSET
    unique: bool | None = strawberry.UNSET
    indexed: bool | None = strawberry.UNSET
    options: list[SelectOptionInput] | None = strawberry.UNSET
    validation: FieldValidationInput | None = strawberry.UNSET
    default_value: JSON | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET


@strawberry.input
class FieldDefinitionIdInput:
    id: strawberry.ID


@strawberry.input
class FieldDefinitionReorderInput:
    category_id: strawberry.ID
    field_ids: list[strawberry.ID] = strawberry.field(
        description="Every active field, in the new order."
    )


@strawberry.type
class FieldDefinitionPayload:
    field_definition: FieldDefinition | None = None
    user_errors: list[UserError] = user_errors_field()


@strawberry.type
class FieldDefinitionReorderPayload:
    fields: list[FieldDefinition] | None = strawberry.field(default=None, metadata=cost.typical(20))
    user_errors: list[UserError] = user_errors_field()


@strawberry.input
class CategoryRelationCreateInput:
    key: str = strawberry.field(description="Name seen from the source cards, e.g. 'subsidiaries'.")
    name: str
    inverse_key: str = strawberry.field(
        description="Name seen from the target cards, e.g. 'parent'."
    )
    inverse_name: str
    from_category_id: strawberry.ID
    to_category_id: strawberry.ID
    cardinality: RelationCardinality = CardinalityModel.MANY_TO_MANY  # type: ignore[valid-type]


@strawberry.input
class CategoryRelationDeleteInput:
    id: strawberry.ID


@strawberry.type
class CategoryRelationPayload:
    relation: CategoryRelation | None = None
    user_errors: list[UserError] = user_errors_field()


def _set(value: Any) -> bool:
    return value is not strawberry.UNSET


def _spec(input: FieldDefinitionCreateInput | FieldDefinitionUpdateInput) -> FieldSpec:
    spec = FieldSpec()
    for name in ("label", "type", "required", "unique", "indexed", "currency", "default_value"):
        value = getattr(input, name)
        if _set(value):
            setattr(spec, name, value)
    if _set(input.options) and input.options is not None:
        spec.options = [
            {"value": o.value, "label": o.label, "color": o.color} for o in input.options
        ]
    if _set(input.validation) and input.validation is not None:
        spec.validation = input.validation.to_rules()
    if isinstance(input, FieldDefinitionUpdateInput):
        spec.clear = {
            api_name
            for name, api_name in (
                ("options", "options"),
                ("validation", "validation"),
                ("default_value", "defaultValue"),
                ("currency", "currency"),
            )
            if getattr(input, name) is None
        }
        for flag in ("label", "type", "required", "unique", "indexed"):
            if getattr(input, flag) is None:
                setattr(spec, flag, None)  # null on these means "unchanged"
    return spec


# --- operations --------------------------------------------------------------------------------


@strawberry.type
class CategoryQuery:
    @strawberry.field(metadata=cost.typical(20))
    async def categories(self, info: Info) -> list[Category]:
        ctx = context(info)
        await ctx.require()
        return [Category.of(c) for c in await ctx.read(categories.list_categories)]

    @strawberry.field(description="A category by ID or by key.")
    async def category(
        self, info: Info, id: strawberry.ID | None = None, key: str | None = None
    ) -> Category | None:
        ctx = context(info)
        await ctx.require()
        if id is not None:
            model = await ctx.loaders.category.load(decode_id(id, "Category"))
        elif key is not None:
            model = await ctx.read(lambda s: categories.category_by_key(s, key))
        else:
            return None
        return Category.of(model) if model else None


@strawberry.type
class CategoryMutation:
    @strawberry.mutation
    async def category_create(self, info: Info, input: CategoryCreateInput) -> CategoryPayload:
        ctx = context(info)
        await ctx.require(Role.ADMIN)
        outcome = await ctx.mutate(
            lambda s: categories.create_category(
                s, key=input.key, name=input.name, description=input.description
            )
        )
        return CategoryPayload(
            category=Category.of(outcome.value) if outcome.value else None,
            user_errors=user_errors(outcome.problems),
        )

    @strawberry.mutation
    async def category_update(self, info: Info, input: CategoryUpdateInput) -> CategoryPayload:
        ctx = context(info)
        await ctx.require(Role.ADMIN)
        category_id = decode_id(input.id, "Category")
        outcome = await ctx.mutate(
            lambda s: categories.update_category(
                s,
                category_id=category_id,
                name=input.name if _set(input.name) else None,
                description=input.description if _set(input.description) else None,
                clear_description=input.description is None,
            )
        )
        return CategoryPayload(
            category=Category.of(outcome.value) if outcome.value else None,
            user_errors=user_errors(outcome.problems),
        )

    @strawberry.mutation(description="Delete a category without live cards.")
    async def category_delete(self, info: Info, input: CategoryDeleteInput) -> DeletePayload:
        ctx = context(info)
        await ctx.require(Role.ADMIN)
        category_id = decode_id(input.id, "Category")
        outcome = await ctx.mutate(lambda s: categories.delete_category(s, category_id=category_id))
        return DeletePayload(
            deleted_id=None if outcome.problems else input.id,
            user_errors=user_errors(outcome.problems),
        )

    @strawberry.mutation
    async def field_definition_create(
        self, info: Info, input: FieldDefinitionCreateInput
    ) -> FieldDefinitionPayload:
        ctx = context(info)
        await ctx.require(Role.ADMIN)
        category_id = decode_id(input.category_id, "Category")
        outcome = await ctx.mutate(
            lambda s: categories.create_field(
                s,
                category_id=category_id,
                key=input.key,
                spec=_spec(input),
                position=input.position,
            )
        )
        return _field_payload(outcome.value, outcome.problems)

    @strawberry.mutation(
        description="Change a field; a type change converts every value or is refused."
    )
    async def field_definition_update(
        self, info: Info, input: FieldDefinitionUpdateInput
    ) -> FieldDefinitionPayload:
        ctx = context(info)
        await ctx.require(Role.ADMIN)
        field_id = decode_id(input.id, "FieldDefinition")
        outcome = await ctx.mutate(
            lambda s: categories.update_field(s, field_id=field_id, spec=_spec(input))
        )
        return _field_payload(outcome.value, outcome.problems)

    @strawberry.mutation(description="Hide a field; its values are kept.")
    async def field_definition_archive(
        self, info: Info, input: FieldDefinitionIdInput
    ) -> FieldDefinitionPayload:
        return await _archive(info, input, archived=True)

    @strawberry.mutation
    async def field_definition_restore(
        self, info: Info, input: FieldDefinitionIdInput
    ) -> FieldDefinitionPayload:
        return await _archive(info, input, archived=False)

    @strawberry.mutation
    async def field_definition_reorder(
        self, info: Info, input: FieldDefinitionReorderInput
    ) -> FieldDefinitionReorderPayload:
        ctx = context(info)
        await ctx.require(Role.ADMIN)
        category_id = decode_id(input.category_id, "Category")
        field_ids = [decode_id(i, "FieldDefinition") for i in input.field_ids]
        outcome = await ctx.mutate(
            lambda s: categories.reorder_fields(s, category_id=category_id, field_ids=field_ids)
        )
        fields = (
            [FieldDefinition.of(f) for f in outcome.value] if outcome.value is not None else None
        )
        return FieldDefinitionReorderPayload(
            fields=fields, user_errors=user_errors(outcome.problems)
        )

    @strawberry.mutation
    async def category_relation_create(
        self, info: Info, input: CategoryRelationCreateInput
    ) -> CategoryRelationPayload:
        ctx = context(info)
        await ctx.require(Role.ADMIN)
        from_id = decode_id(input.from_category_id, "Category")
        to_id = decode_id(input.to_category_id, "Category")
        outcome = await ctx.mutate(
            lambda s: categories.create_relation(
                s,
                key=input.key,
                name=input.name,
                inverse_key=input.inverse_key,
                inverse_name=input.inverse_name,
                from_category_id=from_id,
                to_category_id=to_id,
                cardinality=CardinalityModel(input.cardinality),
            )
        )
        relation = CategoryRelation.of(outcome.value) if outcome.value else None
        return CategoryRelationPayload(relation=relation, user_errors=user_errors(outcome.problems))

    @strawberry.mutation(description="Delete a relation and every link made with it.")
    async def category_relation_delete(
        self, info: Info, input: CategoryRelationDeleteInput
    ) -> DeletePayload:
        ctx = context(info)
        await ctx.require(Role.ADMIN)
        relation_id = decode_id(input.id, "CategoryRelation")
        outcome = await ctx.mutate(lambda s: categories.delete_relation(s, relation_id=relation_id))
        return DeletePayload(
            deleted_id=None if outcome.problems else input.id,
            user_errors=user_errors(outcome.problems),
        )


def _field_payload(model: FieldModel | None, problems: list[Any]) -> FieldDefinitionPayload:
    return FieldDefinitionPayload(
        field_definition=FieldDefinition.of(model) if model else None,
        user_errors=user_errors(problems),
    )


async def _archive(
    info: Info, input: FieldDefinitionIdInput, *, archived: bool
) -> FieldDefinitionPayload:
    ctx = context(info)
    await ctx.require(Role.ADMIN)
    field_id = decode_id(input.id, "FieldDefinition")
    outcome = await ctx.mutate(
        lambda s: categories.set_field_archived(s, field_id=field_id, archived=archived)
    )
    return _field_payload(outcome.value, outcome.problems)

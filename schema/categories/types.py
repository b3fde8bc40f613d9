"""Categories, their typed custom fields and relations, as the API shows them."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from models.categories import Category as CategoryModel
from models.categories import CategoryRelation as RelationModel
from models.categories import FieldDefinition as FieldModel
from models.categories import FieldType, RelationCardinality
from schema import cost
from schema.common import NODE_TYPES, Info, Node, existing, node_type
from schema.contacts.filters import ContactFilter, ContactOrder
from schema.contacts.types import ContactConnection, find_cards
from schema.node import room_node
from services.ids import encode_id

if TYPE_CHECKING:
    from schema.rooms.types import ProjectRoom
    from schema.statistics.types import Statistic

# The models' enums, registered in place as GraphQL enums.
strawberry.enum(FieldType, description="The type of a custom field's values.")
strawberry.enum(
    RelationCardinality,
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
    type: FieldType
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
            type=FieldType(model.type),
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
            existing(await info.context.loaders.category.load(self._model.category_id))
        )


@node_type(RelationModel)
@strawberry.type
class CategoryRelation(Node):
    key: str = strawberry.field(description="The relation's name seen from `from` cards.")
    name: str
    inverse_key: str = strawberry.field(description="The relation's name seen from `to` cards.")
    inverse_name: str
    cardinality: RelationCardinality
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
            cardinality=RelationCardinality(model.cardinality),
            _model=model,
        )

    @strawberry.field(name="from")
    async def from_(self, info: Info) -> "Category":
        category = await info.context.loaders.category.load(self._model.from_category_id)
        return Category.of(existing(category))

    @strawberry.field
    async def to(self, info: Info) -> "Category":
        category = await info.context.loaders.category.load(self._model.to_category_id)
        return Category.of(existing(category))


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

    @property
    def pk(self) -> int:
        assert self._model.id is not None
        return self._model.id

    @strawberry.field(description="Custom fields in display order.", metadata=cost.typical(20))
    async def fields(self, info: Info, include_archived: bool = False) -> list[FieldDefinition]:
        rows = await info.context.loaders.fields.load(self.pk)
        return [FieldDefinition.of(f) for f in rows if include_archived or f.archived_at is None]

    @strawberry.field(
        description="Relations that start or end at this category.", metadata=cost.typical(10)
    )
    async def relations(self, info: Info) -> list[CategoryRelation]:
        return [CategoryRelation.of(r) for r in await info.context.loaders.relations.load(self.pk)]

    @strawberry.field(
        description="The project room that gathers this category's cards (null when none, or "
        "when you are not a member of it)."
    )
    async def room(
        self, info: Info
    ) -> Annotated["ProjectRoom", strawberry.lazy("schema.rooms.types")] | None:
        room_id = await info.context.loaders.category_room.load(self.pk)
        return await room_node(info.context, room_id)

    @strawberry.field(description="Its statistics, in their order.", metadata=cost.typical(20))
    async def statistics(
        self, info: Info
    ) -> list[Annotated["Statistic", strawberry.lazy("schema.statistics.types")]]:
        # Statistics are built on categories: named through the node registry.
        statistic = NODE_TYPES["Statistic"].type
        rows = await info.context.loaders.statistics.load(self.pk)
        return [statistic.of(row) for row in rows]

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
        filter: ContactFilter | None = None,
        search: str | None = None,
        order_by: list[ContactOrder] | None = None,
        include_deleted: bool = False,
    ) -> ContactConnection:
        return await find_cards(
            info,
            self.pk,
            first=first,
            after=after,
            last=last,
            before=before,
            filter=filter,
            search=search,
            order_by=order_by,
            include_deleted=include_deleted,
        )

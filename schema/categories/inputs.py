"""What admins send to shape categories, fields and relations, and the payloads they get."""

from typing import Any

import strawberry
from strawberry.scalars import JSON

from models.categories import FieldType, RelationCardinality
from schema import cost
from schema.categories.types import Category, CategoryRelation, FieldDefinition
from schema.common import UserError, provided, user_errors_field

FIELD_SETTINGS = (
    "label",
    "type",
    "required",
    "unique",
    "indexed",
    "options",
    "validation",
    "default_value",
    "currency",
)


@strawberry.input
class CategoryCreateInput:
    key: str = strawberry.field(description="Immutable, e.g. 'customers'.")
    name: str
    description: str | None = None


@strawberry.input(description="Omitted fields stay; null clears the description.")
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


class _FieldSettings:
    """The settings of a field input, as the categories service takes them."""

    options: list[SelectOptionInput] | None
    validation: FieldValidationInput | None

    def settings(self) -> dict[str, Any]:
        """What the client sent; null clears (the service says what cannot be cleared)."""
        settings = provided(self, FIELD_SETTINGS)
        if settings.get("options") is not None:
            settings["options"] = [
                {"value": o.value, "label": o.label, "color": o.color} for o in self.options or []
            ]
        if self.validation:
            settings["validation"] = self.validation.to_rules()
        return settings


@strawberry.input
class FieldDefinitionCreateInput(_FieldSettings):
    category_id: strawberry.ID
    key: str = strawberry.field(description="Immutable; letters, digits, underscores.")
    label: str
    type: FieldType
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
class FieldDefinitionUpdateInput(_FieldSettings):
    id: strawberry.ID
    label: str | None = strawberry.UNSET
    type: FieldType | None = strawberry.UNSET
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
    cardinality: RelationCardinality = RelationCardinality.MANY_TO_MANY


@strawberry.input
class CategoryRelationDeleteInput:
    id: strawberry.ID


@strawberry.type
class CategoryRelationPayload:
    relation: CategoryRelation | None = None
    user_errors: list[UserError] = user_errors_field()

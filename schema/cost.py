"""The cost limit: an operation may resolve at most so many fields in the worst case.

Every field that returns several objects declares, where it is defined, how many times its
children are resolved (`metadata=cost.page()` and so on); the rule reads those declarations
from the schema, and tests/test_cost.py fails for a list or connection that declares none, so
a new type cannot be forgotten and make the check undercount.
"""

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
)

from services.pagination import DEFAULT_PAGE_SIZE

# The most IDs Query.nodes takes (schema/node.py checks it).
MAX_NODES = 100
_KEY = "cost"


@dataclass(frozen=True)
class Cost:
    """How many times a field's children are resolved."""

    kind: str  # "page", "typical", "per_item" or "in_page"
    count: int = 1
    argument: str = ""

    def repeats(self, field: FieldNode, max_page_size: int) -> int:
        if self.kind == "typical" or self.kind == "in_page":
            return self.count
        for argument in field.arguments or ():
            name, value = argument.name.value, argument.value
            if self.kind == "page" and name in ("first", "last"):
                if isinstance(value, IntValueNode):
                    return max(int(value.value), 1)
                return max_page_size  # a variable: assume the largest page
            if self.kind == "per_item" and name == self.argument:
                if isinstance(value, ListValueNode):
                    return max(len(value.values), 1)
                return MAX_NODES
        return DEFAULT_PAGE_SIZE if self.kind == "page" else 1


def page() -> dict[str, Cost]:
    """A connection: its children repeat once per card of a page (`first`/`last`)."""
    return {_KEY: Cost("page")}


def typical(length: int) -> dict[str, Cost]:
    """A plain list: its children count `length` times, a typical length rather than the
    largest possible, so that ordinary queries pass while nesting such lists multiplies the
    cost quickly."""
    return {_KEY: Cost("typical", length)}


def per_item(argument: str) -> dict[str, Cost]:
    """A list with one item per entry of a list argument (`nodes(ids:)`)."""
    return {_KEY: Cost("per_item", argument=argument)}


def in_page() -> dict[str, Cost]:
    """The items of a page (`edges`, `nodes`): already counted by their connection."""
    return {_KEY: Cost("in_page")}


def declared_cost(field: GraphQLField) -> Cost | None:
    definition = (field.extensions or {}).get("strawberry-definition")
    metadata: Any = getattr(definition, "metadata", None) or {}
    cost = metadata.get(_KEY)
    return cost if isinstance(cost, Cost) else None


def returns_many(field_type: GraphQLOutputType) -> bool:
    """Whether a field gives several objects (a list of them, or a connection)."""
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    named = get_named_type(field_type)
    composite = isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType)
    return composite and (isinstance(field_type, GraphQLList) or named.name.endswith("Connection"))


def cost_rule(max_cost: int, max_page_size: int) -> type[ValidationRule]:
    """A validation rule refusing operations whose worst-case number of resolved fields
    (each field 1, times the repeats declared by every field above it) exceeds `max_cost`."""

    class CostLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.fragments: dict[str, FragmentDefinitionNode] = {}

        def enter_document(self, node: Any, *_args: Any) -> None:
            self.fragments = {
                d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)
            }

        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            root = self.context.schema.get_root_type(node.operation)
            cost = self._cost(node.selection_set, root, set())
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"The query costs {cost} and the limit is {max_cost}; "
                        "ask for smaller pages or fewer nested connections",
                        node,
                        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": max_cost},
                    )
                )

        def _type(self, name: str | None, default: Any) -> Any:
            return self.context.schema.get_type(name) if name else default

        def _cost(self, selection_set: SelectionSetNode | None, parent: Any, seen: set[str]) -> int:
            if selection_set is None or parent is None:
                return 0
            total = 0
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    field = getattr(parent, "fields", {}).get(selection.name.value)
                    if field is None:  # __typename, or unknown (validation says so)
                        total += 1
                        continue
                    child = get_named_type(field.type)
                    children = self._cost(selection.selection_set, child, seen)
                    declared = declared_cost(field)
                    repeats = declared.repeats(selection, max_page_size) if declared else 1
                    total += 1 + children * repeats
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    fragment_type = self._type(condition.name.value if condition else None, parent)
                    total += self._cost(selection.selection_set, fragment_type, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if fragment is not None and name not in seen:
                        fragment_type = self._type(fragment.type_condition.name.value, parent)
                        total += self._cost(fragment.selection_set, fragment_type, seen | {name})
            return total

    return CostLimit

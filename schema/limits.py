"""Protection against expensive requests: a cost limit, and the policy for errors.

Depth, token and alias limits come from Strawberry's own extensions (see schema/__init__.py).
"""

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import SchemaExtension

from services.errors import AuthError, BadRequestError, RetryableError
from services.pagination import DEFAULT_PAGE_SIZE

# The most IDs Query.nodes takes (schema/node.py checks it).
MAX_NODES = 100

logger = logging.getLogger("crm.graphql")

# Fields whose children repeat once per item of a page.
PAGE_ARGUMENTS = ("first", "last")
CONNECTIONS = ("contacts", "related")
# Plain lists have no page size: their children are counted this many times, a typical
# length rather than the largest possible one, so that ordinary queries pass while nesting
# them (categories { fields { category { fields ... } } }) multiplies the cost quickly.
LIST_LENGTHS = {
    "categories": 20,
    "fields": 20,
    "relations": 10,
    "options": 10,
    "persons": 10,
    "users": 50,
    "apiKeys": 10,
}


def cost_rule(max_cost: int, max_page_size: int) -> type[ValidationRule]:
    """A validation rule refusing operations whose worst-case number of resolved fields
    (each field 1, times the page size of every connection above it) exceeds `max_cost`."""

    class CostLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.fragments: dict[str, FragmentDefinitionNode] = {}

        def enter_document(self, node: Any, *_args: Any) -> None:
            self.fragments = {
                d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)
            }

        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            cost = self._cost(node.selection_set, set())
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"The query costs {cost} and the limit is {max_cost}; "
                        "ask for smaller pages "
                        "or fewer nested connections",
                        node,
                        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": max_cost},
                    )
                )

        def _repeats(self, field: FieldNode) -> int:
            """How many times a field's children are resolved."""
            for argument in field.arguments or ():
                if argument.name.value in PAGE_ARGUMENTS:
                    if isinstance(argument.value, IntValueNode):
                        return max(int(argument.value.value), 1)
                    return max_page_size  # a variable: assume the largest page
            if field.name.value in CONNECTIONS:
                return DEFAULT_PAGE_SIZE
            for argument in field.arguments or ():
                if argument.name.value == "ids":  # Query.nodes(ids:)
                    if isinstance(argument.value, ListValueNode):
                        return max(len(argument.value.values), 1)
                    return MAX_NODES
            return LIST_LENGTHS.get(field.name.value, 1)

        def _cost(self, selection_set: SelectionSetNode | None, seen: set[str]) -> int:
            if selection_set is None:
                return 0
            total = 0
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    children = self._cost(selection.selection_set, seen)
                    total += 1 + children * self._repeats(selection)
                elif isinstance(selection, InlineFragmentNode):
                    total += self._cost(selection.selection_set, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if fragment is not None and name not in seen:
                        total += self._cost(fragment.selection_set, seen | {name})
            return total

    return CostLimit


CLIENT_ERRORS = (AuthError, BadRequestError, RetryableError)


class ErrorPolicy(SchemaExtension):
    """Client errors get a machine-readable `extensions.code`; anything else is a bug: it is
    logged with its traceback and the client sees only "Internal server error"."""

    def on_operation(self) -> Any:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [self._apply(error) for error in errors]  # type: ignore[union-attr]

    @staticmethod
    def _apply(error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            return error
        if isinstance(original, CLIENT_ERRORS):
            extensions: dict[str, Any] = {"code": original.code}
            if isinstance(original, RetryableError):
                extensions["retryAfter"] = original.retry_after
            return GraphQLError(
                str(original), nodes=error.nodes, path=error.path, extensions=extensions
            )
        logger.error("Unexpected error in %s", error.path, exc_info=original)
        return GraphQLError(
            "Internal server error",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR"},
        )


class ReleaseSession(SchemaExtension):
    """Close the request's database session when the operation is done."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        close: Callable[[], Any] | None = getattr(self.execution_context.context, "close", None)
        if close is not None:
            await close()

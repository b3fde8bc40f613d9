"""Protection against expensive requests: a cost limit, and the policy for errors.

Depth, token and alias limits come from Strawberry's own extensions (see schema/__init__.py).
"""

import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from graphql import (
    ArgumentNode,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    VariableDefinitionNode,
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


# No database stores these in text: PostgreSQL refuses NUL, and a lone UTF-16 surrogate is not
# Unicode at all (it cannot be encoded as UTF-8 for either driver).
UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def unstorable_character(text: str) -> str | None:
    """What in `text` no database can store, said for people; None when all is well."""
    found = UNSTORABLE_CHARACTER.search(text)
    if found is None:
        return None
    code_point = f"U+{ord(found.group()):04X}"
    if found.group() == "\x00":
        return f"a NUL character ({code_point})"
    return f"an unpaired UTF-16 surrogate ({code_point}), which is not valid Unicode"


class StorableStrings(ValidationRule):
    """Refuses string literals in the document that no database can store, naming where they
    are, before anything runs. (The lexer already refuses lone surrogates in literals.)"""

    def enter_string_value(
        self,
        node: StringValueNode,
        key: Any,
        parent: Any,
        path: Sequence[Any],
        ancestors: Sequence[Any],
    ) -> None:
        problem = unstorable_character(node.value)
        if problem is not None:
            where = _literal_position([*ancestors, parent], path)
            self.report_error(
                GraphQLError(
                    f"The string at {where} contains {problem}, which cannot be stored",
                    node,
                    extensions={"code": "BAD_REQUEST"},
                )
            )


def _literal_position(chain: Sequence[Any], path: Sequence[Any]) -> str:
    """Where a literal sits, e.g. `categoryCreate(input.name)`, `contacts(filter.in[2])` or
    `the default value of $key`; `chain[i]` is the node or tuple that `path[i]` indexes."""
    owner = "the document"
    names: list[str] = []
    for index, (node, step) in enumerate(zip(chain, path, strict=True)):
        if isinstance(node, FieldNode | DirectiveNode):
            owner = node.name.value if isinstance(node, FieldNode) else f"@{node.name.value}"
            names = []
        elif isinstance(node, VariableDefinitionNode):
            owner, names = f"the default value of ${node.variable.name.value}", []
        elif isinstance(node, ArgumentNode | ObjectFieldNode):
            names.append(f".{node.name.value}")
        elif isinstance(node, tuple) and isinstance(chain[index - 1], ListValueNode):
            names.append(f"[{step}]")
    inside = "".join(names).removeprefix(".")
    if not inside:
        return owner
    return f"{owner} at {inside}" if owner.startswith("the ") else f"{owner}({inside})"


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

"""Protection against bad requests, and the policy for errors: strings no database can store,
masked internal errors, the operation's session released.

Depth, token and alias limits come from Strawberry's own extensions and the cost limit from
schema/cost.py (see schema/__init__.py).
"""

import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from graphql import (
    ArgumentNode,
    DirectiveNode,
    FieldNode,
    GraphQLError,
    ListValueNode,
    ObjectFieldNode,
    StringValueNode,
    ValidationRule,
    VariableDefinitionNode,
)
from strawberry.extensions import SchemaExtension

from services.errors import AuthError, BadRequestError, RetryableError

logger = logging.getLogger("crm.graphql")

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
        return masked(error)


def masked(error: GraphQLError) -> GraphQLError:
    """The error as clients see it (ErrorPolicy); live events resolved outside an operation
    (schema/live/fanout.py) go through it too."""
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

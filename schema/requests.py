"""What every transport of GraphQL requests shares (HTTP in schema/http.py, WebSocket in
schema/live/transport.py): reading a request's parameters, refusing strings no database
stores, choosing the operation, and telling a result that ran from one that could not."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.types import ExecutionResult

from schema.limits import unstorable_character

# Distinct documents kept parsed (clients send few).
CACHED_DOCUMENTS = 512


class MalformedRequestError(Exception):
    """Not a GraphQL request at all (no query, parameters of the wrong type)."""


class RequestError(Exception):
    """A GraphQL request error: the request is well formed but cannot run."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"])
        self.errors = errors

    @classmethod
    def bad(cls, message: str) -> "RequestError":
        return cls([{"message": message, "extensions": {"code": "BAD_REQUEST"}}])


@dataclass(frozen=True)
class NamedOperation:
    name: str | None
    type: OperationType


@dataclass(frozen=True)
class GraphQLRequest:
    query: str
    operation_name: str | None
    variables: dict[str, Any] | None


def graphql_request(parameters: Mapping[str, Any]) -> GraphQLRequest:
    query = parameters.get("query")
    if query is None:
        raise MalformedRequestError("The request has no `query`: send the GraphQL document in it")
    if not isinstance(query, str):
        raise MalformedRequestError(
            f"`query` must be a string with the document, not {json_kind(query)}"
        )
    name = parameters.get("operationName")
    if name is not None and not isinstance(name, str):
        raise MalformedRequestError(f"`operationName` must be a string, not {json_kind(name)}")
    for key in ("variables", "extensions"):
        value = parameters.get(key)
        if value is not None and not isinstance(value, dict):
            raise MalformedRequestError(f"`{key}` must be a JSON object, not {json_kind(value)}")
    return GraphQLRequest(query, name or None, parameters.get("variables"))


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def refuse_unstorable(request: GraphQLRequest) -> None:
    """Strings no database can store are refused before anything runs, naming where they are."""
    if request.operation_name is not None:
        problem = unstorable_character(request.operation_name)
        if problem is not None:
            raise RequestError.bad(f"operationName contains {problem}, which cannot be stored")
    found = first_unstorable(request.variables)
    if found is not None:
        where, problem = found
        raise RequestError.bad(f"{where} contains {problem}, which cannot be stored")


# A step into a JSON value and the steps that led there; paths are spelled out only when a
# problem is found, so a large request costs no string building.
Steps = tuple["Steps", str] | None


def first_unstorable(variables: dict[str, Any] | None) -> tuple[str, str] | None:
    """Where in the variables (e.g. `variables.input.persons[0].email`) a string no database
    can store is, and what it holds. Iterative, so deep nesting cannot exhaust the stack."""
    pending: list[tuple[Steps, Any]] = [(None, variables)]
    while pending:
        steps, value = pending.pop()
        if isinstance(value, str):
            problem = unstorable_character(value)
            if problem is not None:
                return _path(steps), problem
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = unstorable_character(key)
                if problem is not None:
                    return f"A key in {_path(steps)}", problem
                pending.append(((steps, f".{key}"), item))
        elif isinstance(value, list):
            pending.extend(((steps, f"[{index}]"), item) for index, item in enumerate(value))
    return None


def _path(steps: Steps) -> str:
    names = []
    while steps is not None:
        steps, name = steps
        names.append(name)
    return "variables" + "".join(reversed(names))


def chosen_operation(operations: Sequence[NamedOperation], name: str | None) -> OperationType:
    """The type of the operation GraphQL's GetOperation() picks: the named one, or the only
    one. Never the first of several, which would run an operation the client did not choose."""
    if name is not None:
        for operation in operations:
            if operation.name == name:
                return operation.type
        raise RequestError.bad(f"The document has no operation named '{name[:100]}'")
    if len(operations) == 1:
        return operations[0].type
    if not operations:
        raise RequestError.bad("The document has no operation to run")
    raise RequestError.bad(
        f"The document has {len(operations)} operations: name the one to run in `operationName`"
    )


class OperationIndex:
    """The operations of a document (names and types), parsed once per distinct document."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens
        self._operations = lru_cache(maxsize=CACHED_DOCUMENTS)(self._parse)

    def operations_in(self, query: str) -> tuple[NamedOperation, ...]:
        try:
            return self._operations(query)
        except GraphQLError as error:  # a syntax error: nothing to run
            raise RequestError([dict(error.formatted)]) from None

    def _parse(self, query: str) -> tuple[NamedOperation, ...]:
        # The same token limit as the schema's own parsing, which runs on this text later.
        # Only the operations' names and types are kept: the schema caches the document.
        document = parse(query, max_tokens=self.max_tokens)
        return tuple(
            NamedOperation(d.name.value if d.name else None, d.operation)
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        )


def formatted_errors(result: ExecutionResult) -> list[dict[str, Any]]:
    return [dict(error.formatted) for error in result.errors or ()]


def did_not_run(data: dict[str, Any] | None, errors: list[dict[str, Any]]) -> bool:
    """Parsing, validation or variable coercion failed (no error has a path): nothing ran."""
    return data is None and bool(errors) and all("path" not in error for error in errors)

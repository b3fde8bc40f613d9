"""What every domain of the schema shares: the typed Info, Node and its registry, PageInfo,
UserError, mutation payloads, and how partial updates read their input."""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import strawberry

from resolvers.context import Context
from resolvers.database import Outcome
from schema import cost
from services.auth import Viewer
from services.errors import ErrorCode, Problem

M = TypeVar("M")

# Registers the services' enum, in place, as the ErrorCode GraphQL enum.
strawberry.enum(ErrorCode, description="What kind of problem a userError reports.")


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID


# Whether a viewer may see a row (a check beyond the role that reading needs).
Visibility = Callable[[Viewer, Any], bool]


# The project room whose members alone see a row (None: not a room's).
RoomOf = Callable[[Any], int | None]


@dataclass(frozen=True)
class NodeType:
    type: Any  # the Strawberry type, built from a row by `type.of(row)`
    model: type[Any]  # the table its rows come from
    visible: Visibility | None
    room: RoomOf | None


# Filled as the types are defined: what node(id:) can resolve.
NODE_TYPES: dict[str, NodeType] = {}
N = TypeVar("N", bound=type)


def node_type(
    model: type[Any], *, visible: Visibility | None = None, room: RoomOf | None = None
) -> Callable[[N], N]:
    """Register a Node type where it is defined: node(id:) and nodes(ids:) read it by id
    through the DataLoader of `model`, and hide rows for which `visible` says no, and rows of
    a project room (`room`) from those who may not enter it."""

    def register(cls: N) -> N:
        NODE_TYPES[cls.__name__] = NodeType(cls, model, visible, room)
        return cls

    return register


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, cursors: list[str], *, has_next: bool, has_previous: bool) -> "PageInfo":
        return cls(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )


@strawberry.type(description="An expected failure of a mutation; nothing was written.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path to the input that caused it, e.g. ['values', 'orgNumber']."
    )
    message: str
    code: ErrorCode

    @classmethod
    def of(cls, problem: Problem) -> "UserError":
        return cls(
            field=list(problem.field) if problem.field is not None else None,
            message=problem.message,
            code=problem.code,
        )


def user_errors_field() -> Any:
    """A payload's userErrors: empty when the mutation went through."""
    return strawberry.field(default_factory=list, metadata=cost.typical(5))


def user_errors(problems: list[Problem]) -> list[UserError]:
    return [UserError.of(p) for p in problems]


P = TypeVar("P")


def payload(cls: Callable[..., P], outcome: Outcome[Any], **fields: Callable[[Any], Any]) -> P:
    """A mutation's payload: each named field converted from what the mutation produced (null
    when it was refused), and its userErrors."""
    values = {name: outcome.map(convert) for name, convert in fields.items()}
    return cls(**values, user_errors=user_errors(outcome.problems))


def provided(input: object, names: Iterable[str] | Mapping[str, str]) -> dict[str, Any]:
    """The fields of an update input that the client sent, by their service names: left out
    means unchanged, null means cleared (services refuse clearing what cannot be empty).
    `names` maps input names to service names where they differ."""
    renamed = names if isinstance(names, Mapping) else {name: name for name in names}
    return {
        target: getattr(input, source)
        for source, target in renamed.items()
        if getattr(input, source) is not strawberry.UNSET
    }


def existing(model: M | None) -> M:
    """A row that a foreign key guarantees; its absence is a bug, not a user error."""
    if model is None:
        raise LookupError("a referenced row is missing")
    return model


# Resolvers take `info: Info`, so `info.context` is known to be the operation's Context.
Info = strawberry.Info[Context, None]

"""Types every domain shares: Node, PageInfo, UserError, and the helpers that build them."""

from typing import Any, TypeVar

import strawberry

from resolvers.context import Context
from services.errors import ErrorCode, Problem

M = TypeVar("M")

# Registers the services' enum, in place, as the ErrorCode GraphQL enum.
strawberry.enum(ErrorCode, description="What kind of problem a userError reports.")


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID


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


def user_errors(problems: list[Problem]) -> list[UserError]:
    return [UserError.of(p) for p in problems]


def existing(model: M | None) -> M:
    """A row that a foreign key guarantees; its absence is a bug, not a user error."""
    if model is None:
        raise LookupError("a referenced row is missing")
    return model


def context(info: Any) -> Context:
    ctx: Context = info.context
    return ctx

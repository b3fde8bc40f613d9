"""Errors that services raise and the API shows to people.

`UserFacingError` carries one or more `Problem`s: expected failures (bad input, not found,
conflicts) that mutations turn into `userErrors` after rolling their transaction back.
`AuthError` is for missing or insufficient credentials and becomes a top-level GraphQL error.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.wording import api_name


class ErrorCode(StrEnum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    CONFLICT = "CONFLICT"
    IN_USE = "IN_USE"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    ARCHIVED = "ARCHIVED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    EXPIRED = "EXPIRED"
    FORBIDDEN = "FORBIDDEN"


@dataclass(frozen=True)
class Problem:
    message: str
    code: ErrorCode = ErrorCode.INVALID
    field: tuple[str, ...] | None = None


class UserFacingError(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)

    @classmethod
    def one(
        cls,
        message: str,
        *,
        code: ErrorCode = ErrorCode.INVALID,
        field: Sequence[str] | None = None,
    ) -> "UserFacingError":
        return cls([Problem(message, code, tuple(field) if field is not None else None)])


def refuse_clearing(changes: Mapping[str, Any], *names: str) -> None:
    """Partial updates send null to clear a setting; these settings cannot be empty."""
    cleared = [name for name in names if name in changes and changes[name] is None]
    if cleared:
        raise UserFacingError(
            [
                Problem(
                    f"{api_name(name)} cannot be cleared; leave it out to keep it",
                    field=(api_name(name),),
                )
                for name in cleared
            ]
        )


def not_found(what: str, field: Sequence[str] | None = None) -> UserFacingError:
    return UserFacingError.one(f"{what} was not found", code=ErrorCode.NOT_FOUND, field=field)


class AuthError(Exception):
    """Missing, invalid or insufficient credentials."""

    def __init__(self, message: str, code: str = "UNAUTHENTICATED") -> None:
        super().__init__(message)
        self.code = code


class BadRequestError(Exception):
    """A malformed request argument (an ID or cursor that cannot be decoded, a page too large)."""

    def __init__(self, message: str, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.code = code


class RetryableError(Exception):
    """The service cannot do this right now, through no fault of the request: the client may
    send it again after `retry_after` seconds. Nothing was written.

    `RATE_LIMITED`: too much work of this kind at once (HTTP 429 when it refuses the whole
    request); `UNAVAILABLE`: the database cannot be reached or written (HTTP 503).
    """

    def __init__(self, message: str, code: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


def rate_limited(message: str, retry_after: int = 1) -> RetryableError:
    return RetryableError(message, "RATE_LIMITED", retry_after)


def unavailable(message: str, retry_after: int = 2) -> RetryableError:
    return RetryableError(message, "UNAVAILABLE", retry_after)

"""Opaque global IDs for Relay: base64 of "Type:pk"."""

import base64
import binascii
import json
import re

from services.errors import BadRequestError
from services.wording import a_or_an

# Primary keys are 32-bit integers on PostgreSQL; a larger number cannot name a row.
MAX_PRIMARY_KEY = 2**31 - 1
# How to find an ID from what a client is likely to hold instead (a key, an e-mail address).
LOOKUPS = {"Category": "category(key: {key}) {{ id }}", "User": "users {{ id email }}"}
_KEY_LIKE = re.compile(r"\A[A-Za-z][A-Za-z0-9_]{0,63}\Z")


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def invalid_id(global_id: str, expected_type: str | None = None) -> BadRequestError:
    """A value that is no ID at all, often a key or a name where an ID belongs: say where the
    ID comes from."""
    message = f"{global_id[:100]!r} is not a valid ID: "
    if expected_type is None:
        message += "IDs are the opaque `id` values the API returns"
    else:
        message += f"{a_or_an(expected_type)} ID is the opaque `id` value the API returns"
        if expected_type in LOOKUPS:
            key = global_id if _KEY_LIKE.match(global_id) else "<key>"
            message += f"; look it up with {LOOKUPS[expected_type].format(key=json.dumps(key))}"
    return BadRequestError(message, "INVALID_ID")


def decode_global_id(global_id: str, expected_type: str | None = None) -> tuple[str, int]:
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, pk = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        number = int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid_id(global_id, expected_type) from None
    if not type_name or not 0 < number <= MAX_PRIMARY_KEY:
        raise invalid_id(global_id, expected_type)
    return type_name, number


def decode_id(global_id: str, expected_type: str) -> int:
    """The primary key inside an ID that must name `expected_type`."""
    type_name, pk = decode_global_id(global_id, expected_type)
    if type_name != expected_type:
        raise BadRequestError(
            f"{global_id!r} is the ID of {a_or_an(type_name)}, expected {a_or_an(expected_type)}",
            "INVALID_ID",
        )
    return pk

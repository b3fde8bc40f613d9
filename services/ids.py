"""Opaque global IDs for Relay: base64 of "Type:pk"."""

import base64
import binascii

from services.errors import BadRequestError

# Primary keys are 32-bit integers on PostgreSQL; a larger number cannot name a row.
MAX_PRIMARY_KEY = 2**31 - 1


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_global_id(global_id: str) -> tuple[str, int]:
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, pk = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        number = int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequestError(f"{global_id!r} is not a valid ID", "INVALID_ID") from None
    if not type_name or not 0 < number <= MAX_PRIMARY_KEY:
        raise BadRequestError(f"{global_id!r} is not a valid ID", "INVALID_ID")
    return type_name, number


def decode_id(global_id: str, expected_type: str) -> int:
    """The primary key inside an ID that must name `expected_type`."""
    type_name, pk = decode_global_id(global_id)
    if type_name != expected_type:
        raise BadRequestError(
            f"{global_id!r} is the ID of a {type_name}, expected a {expected_type}", "INVALID_ID"
        )
    return pk

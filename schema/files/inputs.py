"""What clients send to attach and remove files, and the payloads they get back."""

from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

from resolvers.files import ReceivedFile
from schema.common import UserError, user_errors_field
from schema.files.types import File

UPLOAD_HOW = (
    "a file sent as a part of a multipart/form-data request, after the GraphQL multipart "
    "request spec (https://github.com/jaydenseric/graphql-multipart-request-spec), with the "
    "header GraphQL-Require-Preflight: 1"
)


def _upload_value(value: Any) -> ReceivedFile:
    if isinstance(value, ReceivedFile):
        return value
    # A GraphQLError, so that it reaches the client as a bad request rather than as a bug.
    raise GraphQLError(
        f"An Upload is {UPLOAD_HOW}; it cannot be given as a JSON value",
        extensions={"code": "BAD_REQUEST"},
    )


def _upload_literal(*_args: Any) -> ReceivedFile:
    raise GraphQLError(
        f"An Upload is {UPLOAD_HOW}; it cannot be written in the document",
        extensions={"code": "BAD_REQUEST"},
    )


def _no_output(_value: Any) -> Any:
    raise TypeError("Upload is an input type")


# Strawberry maps the annotation ReceivedFile to this scalar (schema/__init__.py, scalar_map).
UPLOAD = strawberry.scalar(
    name="Upload",
    description=f"A file: {UPLOAD_HOW}. Mutations only.",
    serialize=_no_output,
    parse_value=_upload_value,
    parse_literal=_upload_literal,
)
SCALARS: dict[object, ScalarDefinition] = {ReceivedFile: UPLOAD}


@strawberry.input(description="On a card (contactId) or of a project room's own (roomId).")
class FileUploadInput:
    contact_id: strawberry.ID | None = None
    room_id: strawberry.ID | None = None
    file: ReceivedFile = strawberry.field(
        description="Map a file part to it; its filename and Content-Type are kept."
    )


@strawberry.input(
    description="A direct upload to S3: announce the file (on a card, or of a project room's "
    "own), then PUT it."
)
class FileUploadUrlCreateInput:
    contact_id: strawberry.ID | None = None
    room_id: strawberry.ID | None = None
    name: str
    size: int = strawberry.field(description="In bytes; the confirmation checks it.")
    content_type: str | None = strawberry.field(
        default=None, description="Guessed from the name when left out."
    )


@strawberry.input
class FileIdInput:
    id: strawberry.ID


@strawberry.type
class FilePayload:
    file: File | None = None
    user_errors: list[UserError] = user_errors_field()


@strawberry.type
class FileUploadUrlPayload:
    file: File | None = strawberry.field(
        default=None, description="PENDING until fileUploadConfirm."
    )
    upload_url: str | None = strawberry.field(
        default=None, description="PUT the file's bytes here, with `uploadHeaders`."
    )
    upload_headers: JSON | None = strawberry.field(
        default=None, description="Headers the PUT must send, as signed (Content-Type)."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="The upload URL works until then."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.type
class FileDeletePayload:
    deleted_id: strawberry.ID | None = None
    user_errors: list[UserError] = user_errors_field()

"""The operations on files: uploading (in the request, or straight to S3), deleting."""

import strawberry
from strawberry.scalars import JSON

from models.users import Role
from resolvers import files as resolve
from schema.common import Info, payload
from schema.files.inputs import (
    FileDeletePayload,
    FileIdInput,
    FilePayload,
    FileUploadInput,
    FileUploadUrlCreateInput,
    FileUploadUrlPayload,
)
from schema.files.types import File
from schema.permissions import requires
from services.ids import encode_id


@strawberry.type
class FileMutation:
    @strawberry.mutation(
        description="Attach a file to a card or a project room, sent in this request as "
        "multipart/form-data (the GraphQL multipart request spec) with the header "
        "GraphQL-Require-Preflight: 1.",
        extensions=requires(Role.MEMBER),
    )
    async def file_upload(self, info: Info, input: FileUploadInput) -> FilePayload:
        outcome = await resolve.upload(
            info.context, contact_id=input.contact_id, room_id=input.room_id, file=input.file
        )
        return payload(FilePayload, outcome, file=File.of)

    @strawberry.mutation(
        description="Start a direct upload to S3: PUT the file to `uploadUrl` with "
        "`uploadHeaders`, then call fileUploadConfirm. Needs S3 storage.",
        extensions=requires(Role.MEMBER),
    )
    async def file_upload_url_create(
        self, info: Info, input: FileUploadUrlCreateInput
    ) -> FileUploadUrlPayload:
        outcome = await resolve.create_upload_url(
            info.context,
            contact_id=input.contact_id,
            room_id=input.room_id,
            name=input.name,
            content_type=input.content_type,
            size=input.size,
        )
        return payload(
            FileUploadUrlPayload,
            outcome,
            file=lambda direct: File.of(direct.file),
            upload_url=lambda direct: direct.url,
            upload_headers=lambda direct: JSON(direct.headers),
            expires_at=lambda direct: direct.expires_at,
        )

    @strawberry.mutation(
        description="Finish a direct upload: the stored object's size is checked, its SHA-256 "
        "computed, and the file becomes READY.",
        extensions=requires(Role.MEMBER),
    )
    async def file_upload_confirm(self, info: Info, input: FileIdInput) -> FilePayload:
        outcome = await resolve.confirm_upload(info.context, id=input.id)
        return payload(FilePayload, outcome, file=File.of)

    @strawberry.mutation(
        description="Remove a file from its card; its contents go once the removal is saved.",
        extensions=requires(Role.MEMBER),
    )
    async def file_delete(self, info: Info, input: FileIdInput) -> FileDeletePayload:
        outcome = await resolve.delete(info.context, id=input.id)
        return payload(
            FileDeletePayload,
            outcome,
            deleted_id=lambda file: strawberry.ID(encode_id("File", file.id)),
        )

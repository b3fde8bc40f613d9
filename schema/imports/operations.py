"""Previewing and starting imports (members); reading one (its asker and admins)."""

import strawberry

from models.users import Role
from resolvers import imports as resolve
from schema.common import Info, payload
from schema.imports.types import (
    ContactImport,
    ContactImportPayload,
    ContactsImportInput,
    ContactsImportPreviewInput,
    ImportPreview,
    ImportPreviewPayload,
    reading_of,
)
from schema.permissions import requires

MULTIPART = (
    "sent in this request as multipart/form-data (the GraphQL multipart request spec) with the "
    "header GraphQL-Require-Preflight: 1"
)


@strawberry.type
class ImportQuery:
    @strawberry.field(
        description="An import and its progress (its asker's, or any for admins).",
        extensions=requires(),
    )
    async def contact_import(self, info: Info, id: strawberry.ID) -> ContactImport | None:
        found = await resolve.contact_import(info.context, id=id)
        return ContactImport.of(found) if found is not None else None


@strawberry.type
class ImportMutation:
    @strawberry.mutation(
        description=f"Read a CSV or XLSX file ({MULTIPART}): its columns, first rows, and "
        "which field each column seems to be. Nothing is imported.",
        extensions=requires(Role.MEMBER),
    )
    async def contacts_import_preview(
        self, info: Info, input: ContactsImportPreviewInput
    ) -> ImportPreviewPayload:
        outcome = await resolve.preview(
            info.context,
            category_id=input.category_id,
            file=input.file,
            reading=reading_of(input.reading),
        )
        return payload(ImportPreviewPayload, outcome, preview=ImportPreview.of)

    @strawberry.mutation(
        description=f"Import cards from a CSV or XLSX file ({MULTIPART}), in the background: "
        "read contactImport(id) for its progress and every problem by line and column.",
        extensions=requires(Role.MEMBER),
    )
    async def contacts_import(self, info: Info, input: ContactsImportInput) -> ContactImportPayload:
        outcome = await resolve.create(
            info.context,
            category_id=input.category_id,
            file=input.file,
            reading=reading_of(input.reading),
            mapping=[entry.mapping() for entry in input.mapping],
            mode=input.mode,
            upsert_on=input.upsert_on,
            zone=input.time_zone,
        )
        return payload(ContactImportPayload, outcome, contact_import=ContactImport.of)

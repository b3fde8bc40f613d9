"""Exports as the API shows them, and what is sent to ask for one."""

from datetime import date, datetime

import strawberry

from models.exports import ExportFormat, ExportKind
from resolvers.exports import ExportLink
from schema.common import UserError, user_errors_field
from schema.contacts.filters import ContactFilter, ContactOrder
from services.ids import encode_id

strawberry.enum(ExportKind, description="CONTACTS: a category's cards; REPORT: its statistics.")
strawberry.enum(
    ExportFormat,
    name="SpreadsheetFormat",
    description="CSV (exports: UTF-8 with a byte order mark, as Excel opens it) or XLSX.",
)


@strawberry.type(description="An export asked for: download it from `downloadUrl`.")
class Export:
    id: strawberry.ID
    kind: ExportKind
    format: ExportFormat
    file_name: str
    download_url: str = strawberry.field(
        description="Downloads the file without credentials until `expiresAt` "
        "(CRM_DOWNLOAD_URL_TTL_SECONDS); it is written as it downloads, from the data as it "
        "is then."
    )
    expires_at: datetime

    @classmethod
    def of(cls, link: ExportLink) -> "Export":
        export = link.export
        assert export.id is not None
        return cls(
            id=strawberry.ID(encode_id("Export", export.id)),
            kind=ExportKind(export.kind),
            format=ExportFormat(export.format),
            file_name=link.file_name,
            download_url=link.download_url,
            expires_at=export.expires_at,
        )


@strawberry.input
class ContactsExportInput:
    category_id: strawberry.ID
    format: ExportFormat = ExportFormat.CSV
    filter: ContactFilter | None = strawberry.field(
        default=None, description="The cards to export, as in `contacts` (left out: all)."
    )
    search: str | None = None
    order_by: list[ContactOrder] | None = strawberry.field(
        default=None, description="As in `contacts` (left out: by name)."
    )
    time_zone: str | None = strawberry.field(
        default=None,
        description="The zone that dates and times are written in (CRM_TIME_ZONE when left out).",
    )


@strawberry.input
class ReportExportInput:
    category_id: strawberry.ID
    format: ExportFormat = ExportFormat.CSV
    statistic_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Some of the category's statistics, in their order."
    )
    from_: date | None = strawberry.field(default=None, name="from")
    to: date | None = None
    time_zone: str | None = None


@strawberry.type
class ExportPayload:
    export: Export | None = None
    user_errors: list[UserError] = user_errors_field()

"""Imports as the API shows them, and what is sent to preview and start one."""

from datetime import datetime

import strawberry

from models.exports import ExportFormat
from models.imports import ContactImport as ContactImportModel
from models.imports import ImportMode, ImportState
from models.users import Role
from resolvers.files import ReceivedFile
from schema import cost
from schema.categories.types import Category
from schema.common import Info, Node, UserError, node_type, user_errors_field
from services.auth import Viewer
from services.ids import encode_id
from services.imports import ColumnMapping, Preview, ReadingOptions
from services.spreadsheets import SheetFormat

strawberry.enum(
    ImportMode,
    description="ALL_OR_NOTHING: one bad row and nothing is imported. SKIP_INVALID: the good "
    "rows are imported, the bad ones reported.",
)
strawberry.enum(
    ImportState,
    description="PENDING: waiting for a worker; RUNNING; SUCCEEDED (SKIP_INVALID: with the bad "
    "rows left out); FAILED: nothing imported (ALL_OR_NOTHING), or the file could not be read.",
)


def _may_see(viewer: Viewer, job: ContactImportModel) -> bool:
    return job.created_by_id == viewer.id or viewer.role == Role.ADMIN


@strawberry.type(description="A problem of an imported row, by line and column.")
class ImportProblem:
    line: int = strawberry.field(description="The row's line in the file (1: the first).")
    column: str | None = strawberry.field(description="The column's header, where it has one.")
    field: str | None = strawberry.field(description="The field the column goes to.")
    message: str
    code: str


@strawberry.type(description="A column of the file and the field it goes to.")
class ImportMapping:
    column: str
    field: str = strawberry.field(
        description="A custom field's key, or a card's own: name, orgNumber, email, phone, "
        "website, address.street, address.postalCode, address.city, address.region, "
        "address.country."
    )


@node_type(ContactImportModel, visible=_may_see)
@strawberry.type(description="An import of cards, readable by its asker and admins.")
class ContactImport(Node):
    state: ImportState
    mode: ImportMode
    file_name: str
    mapping: list[ImportMapping] = strawberry.field(metadata=cost.typical(20))
    upsert_on: str | None
    rows_done: int = strawberry.field(description="Rows read so far.")
    created: int = strawberry.field(description="Cards added (so far).")
    updated: int = strawberry.field(description="Cards updated through upsertOn (so far).")
    skipped: int = strawberry.field(description="Bad rows left out (SKIP_INVALID).")
    error_count: int = strawberry.field(description="Problems found, all of them.")
    errors: list[ImportProblem] = strawberry.field(
        description="The first 1,000 problems found, by line.",
        metadata=cost.typical(100),
    )
    failure: str | None = strawberry.field(description="Why it FAILED.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    _model: strawberry.Private[ContactImportModel]

    @classmethod
    def of(cls, model: ContactImportModel) -> "ContactImport":
        assert model.id is not None
        return cls(
            id=strawberry.ID(encode_id("ContactImport", model.id)),
            state=ImportState(model.state),
            mode=ImportMode(model.mode),
            file_name=model.file_name,
            mapping=[ImportMapping(column=m["column"], field=m["field"]) for m in model.mapping],
            upsert_on=model.upsert_on,
            rows_done=model.rows_done,
            created=model.created_count,
            updated=model.updated_count,
            skipped=model.skipped_count,
            error_count=model.error_count,
            # A row's clashes with other rows are found after its own checks.
            errors=[
                ImportProblem(**problem)
                for problem in sorted(model.errors, key=lambda problem: problem["line"])
            ],
            failure=model.failure,
            created_at=model.created_at,
            started_at=model.started_at,
            finished_at=model.finished_at,
            _model=model,
        )

    @strawberry.field(description="Null once the category is deleted.")
    async def category(self, info: Info) -> Category | None:
        if self._model.category_id is None:
            return None
        found = await info.context.loaders.category.load(self._model.category_id)
        return Category.of(found) if found is not None else None


@strawberry.type
class ImportPreviewRow:
    line: int
    cells: list[str | None] = strawberry.field(description="As text, one per column.")


@strawberry.type(description="What a file holds, as the import would read it.")
class ImportPreview:
    format: ExportFormat
    encoding: str | None = strawberry.field(description="CSV: as detected or given.")
    delimiter: str | None = strawberry.field(description="CSV: as detected or given.")
    sheet_name: str | None = strawberry.field(description="XLSX: the sheet read.")
    sheet_names: list[str] = strawberry.field(description="XLSX: every sheet.")
    columns: list[str] = strawberry.field(description="The header row.")
    rows: list[ImportPreviewRow] = strawberry.field(
        description="The first ten rows.", metadata=cost.typical(10)
    )
    suggested_mapping: list[ImportMapping] = strawberry.field(
        description="Columns whose header names a field (its label or key) or a card's own.",
        metadata=cost.typical(20),
    )

    @classmethod
    def of(cls, preview: Preview) -> "ImportPreview":
        return cls(
            format=ExportFormat(preview.format),
            encoding=preview.encoding,
            delimiter=preview.delimiter,
            sheet_name=preview.sheet_name,
            sheet_names=list(preview.sheet_names),
            columns=list(preview.header),
            rows=[ImportPreviewRow(line=line, cells=cells) for line, cells in preview.rows],
            suggested_mapping=[
                ImportMapping(column=m.column, field=m.field) for m in preview.suggested
            ],
        )


@strawberry.input(description="How to read the file; what is left out is detected.")
class ReadingInput:
    format: ExportFormat | None = None
    encoding: str | None = strawberry.field(
        default=None, description="CSV: e.g. utf-8, windows-1252, utf-16."
    )
    delimiter: str | None = strawberry.field(default=None, description="CSV: one character.")
    sheet_name: str | None = strawberry.field(
        default=None, description="XLSX: the sheet (left out: the first)."
    )

    def options(self) -> ReadingOptions:
        return ReadingOptions(
            SheetFormat(self.format) if self.format is not None else None,
            self.encoding,
            self.delimiter,
            self.sheet_name,
        )


def reading_of(given: ReadingInput | None) -> ReadingOptions:
    return given.options() if given is not None else ReadingOptions()


@strawberry.input
class ImportMappingInput:
    column: str = strawberry.field(description="A header of the file.")
    field: str = strawberry.field(
        description="A custom field's key, or name, orgNumber, email, phone, website, "
        "address.street, address.postalCode, address.city, address.region, address.country."
    )

    def mapping(self) -> ColumnMapping:
        return ColumnMapping(self.column, self.field)


@strawberry.input
class ContactsImportPreviewInput:
    category_id: strawberry.ID
    file: ReceivedFile = strawberry.field(description="A CSV or XLSX file part.")
    reading: ReadingInput | None = None


@strawberry.input
class ContactsImportInput:
    category_id: strawberry.ID
    file: ReceivedFile = strawberry.field(description="A CSV or XLSX file part.")
    mapping: list[ImportMappingInput] = strawberry.field(
        description="Which column goes to which field; other columns are not read. New cards "
        "need name and every required field without a default."
    )
    mode: ImportMode = ImportMode.ALL_OR_NOTHING
    upsert_on: str | None = strawberry.field(
        default=None,
        description="A unique custom field: a row whose value a card of the category has "
        "already updates that card (its empty cells change nothing) instead of adding one.",
    )
    reading: ReadingInput | None = None
    time_zone: str | None = strawberry.field(
        default=None,
        description="The zone of dates and times written without an offset (CRM_TIME_ZONE "
        "when left out).",
    )


@strawberry.type
class ImportPreviewPayload:
    preview: ImportPreview | None = None
    user_errors: list[UserError] = user_errors_field()


@strawberry.type
class ContactImportPayload:
    contact_import: ContactImport | None = None
    user_errors: list[UserError] = user_errors_field()

"""Imports of cards: the uploaded file is read outside any transaction (its header checked
against the mapping), then the import is saved, its file kept in storage, for a worker to run."""

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from models.imports import ContactImport, ImportMode
from resolvers.context import Context
from resolvers.database import Outcome
from resolvers.files import ReceivedFile, storage_errors
from services import import_jobs
from services.errors import Problem, UserFacingError
from services.ids import decode_id
from services.imports import ColumnMapping, Preview, ReadingOptions

T = TypeVar("T")


def _uploaded(file: ReceivedFile) -> import_jobs.UploadedFile:
    return import_jobs.UploadedFile(file.key, file.filename, file.stored.size)


async def _checked(work: Callable[[], Awaitable[T]]) -> Outcome[T]:
    """What work found, or the problems it raised."""
    try:
        with storage_errors():
            return Outcome(await work())
    except UserFacingError as exc:
        return Outcome(problems=exc.problems)


async def preview(
    ctx: Context, *, category_id: str, file: ReceivedFile, reading: ReadingOptions
) -> Outcome[Preview]:
    await ctx.require()
    category = decode_id(category_id, "Category")
    storage = ctx.resources.storage

    async def read() -> Preview:
        fields = await ctx.read(lambda s: import_jobs.category_fields(s, category))
        return await import_jobs.preview_import(
            storage, fields=fields, file=_uploaded(file), reading=reading
        )

    return await _checked(read)


async def create(
    ctx: Context,
    *,
    category_id: str,
    file: ReceivedFile,
    reading: ReadingOptions,
    mapping: Sequence[ColumnMapping],
    mode: ImportMode,
    upsert_on: str | None,
    zone: str | None,
) -> Outcome[ContactImport]:
    viewer = await ctx.require()
    if file.kept:
        problem = Problem(
            "This file part already went to another mutation of the request; send one part "
            "per file",
            field=("file",),
        )
        return Outcome(problems=[problem])
    category = decode_id(category_id, "Category")
    storage = ctx.resources.storage
    uploaded = _uploaded(file)

    async def check() -> ReadingOptions:
        fields = await ctx.read(lambda s: import_jobs.category_fields(s, category))
        return await import_jobs.check_file(
            storage,
            fields=fields,
            file=uploaded,
            reading=reading,
            mapping=mapping,
            upsert_on=upsert_on,
        )

    checked = await _checked(check)
    if checked.value is None:
        return Outcome(problems=checked.problems)
    found = checked.value
    outcome = await ctx.mutate(
        lambda s: import_jobs.create_import(
            s,
            viewer=viewer,
            category_id=category,
            file=uploaded,
            reading=found,
            mapping=mapping,
            mode=mode,
            upsert_on=upsert_on,
            zone=zone or ctx.settings.time_zone,
        )
    )
    if outcome.value is not None:
        file.kept = True  # the import's until it ends
    return outcome


async def contact_import(ctx: Context, *, id: str) -> ContactImport | None:
    viewer = await ctx.require()
    import_id = decode_id(id, "ContactImport")
    try:
        return await ctx.read(lambda s: import_jobs.import_to_read(s, viewer, import_id))
    except UserFacingError:
        return None

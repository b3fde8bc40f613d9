"""Exports: save the checked request in the operation's transaction, then sign its link."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from models.exports import Export, ExportFormat
from resolvers.context import Context
from resolvers.database import Outcome
from services import exports
from services.categories import get_category
from services.ids import decode_id, encode_id


@dataclass(frozen=True)
class ExportLink:
    export: Export
    file_name: str
    download_url: str


async def create_export(
    ctx: Context,
    *,
    category_id: str,
    sheet_format: ExportFormat,
    request: exports.ContactsRequest | exports.ReportExportRequest,
    zone: str | None,
) -> Outcome[ExportLink]:
    viewer = await ctx.require()
    category = decode_id(category_id, "Category")
    ttl = ctx.settings.download_url_ttl_seconds

    async def create(session: AsyncSession) -> tuple[Export, str]:
        export = await exports.create_export(
            session,
            viewer=viewer,
            category_id=category,
            sheet_format=sheet_format,
            request=request,
            zone=zone or ctx.settings.time_zone,
            ttl_seconds=ttl,
        )
        return export, exports.file_name(await get_category(session, category), export)

    outcome = await ctx.mutate(create)
    if outcome.value is None:
        return Outcome(problems=outcome.problems)
    export, name = outcome.value
    assert export.id is not None
    url = await ctx.resources.links.url(
        global_id=encode_id("Export", export.id),
        file_id=export.id,
        user_id=viewer.id,
        kind="export",
    )
    return Outcome(ExportLink(export, name, url))

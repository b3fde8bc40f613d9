"""Asking for exports: anyone who reads a category's cards and reports may export them."""

import strawberry

from models.exports import ExportFormat
from resolvers import exports as resolve
from schema.common import Info, payload
from schema.contacts.filters import condition_of, orderings_of
from schema.exports.types import ContactsExportInput, Export, ExportPayload, ReportExportInput
from schema.permissions import requires
from services.exports import ContactsRequest, ReportExportRequest
from services.ids import decode_id


@strawberry.type
class ExportMutation:
    @strawberry.mutation(
        description="Export a category's cards (all, or those a filter and search pick, in "
        "the order asked) with every custom field, as CSV or XLSX.",
        extensions=requires(),
    )
    async def contacts_export(self, info: Info, input: ContactsExportInput) -> ExportPayload:
        request = ContactsRequest(
            condition=condition_of(input.filter),
            search=input.search,
            ordering=orderings_of(input.order_by),
        )
        outcome = await resolve.create_export(
            info.context,
            category_id=input.category_id,
            sheet_format=ExportFormat(input.format),
            request=request,
            zone=input.time_zone,
        )
        return payload(ExportPayload, outcome, export=Export.of)

    @strawberry.mutation(
        description="Export a report of a category's statistics (as `report` computes it) as "
        "CSV or XLSX: a row per statistic, period and group.",
        extensions=requires(),
    )
    async def report_export(self, info: Info, input: ReportExportInput) -> ExportPayload:
        request = ReportExportRequest(
            statistic_ids=[decode_id(i, "Statistic") for i in input.statistic_ids]
            if input.statistic_ids is not None
            else None,
            start=input.from_,
            end=input.to,
        )
        outcome = await resolve.create_export(
            info.context,
            category_id=input.category_id,
            sheet_format=ExportFormat(input.format),
            request=request,
            zone=input.time_zone,
        )
        return payload(ExportPayload, outcome, export=Export.of)

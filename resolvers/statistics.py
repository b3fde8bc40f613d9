"""Statistics of a category (admin work): decode what the client sent, run the service in the
operation's session, hand back what it produced."""

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.statistics import Statistic
from resolvers.context import Context
from resolvers.database import Outcome
from services import reports, statistics
from services.ids import decode_id


async def create_statistic(
    ctx: Context, *, category_id: str, changes: Mapping[str, Any]
) -> Outcome[Statistic]:
    viewer = await ctx.require()
    category = decode_id(category_id, "Category")
    return await ctx.mutate(
        lambda s: statistics.create_statistic(
            s, viewer=viewer, category_id=category, changes=changes
        )
    )


async def update_statistic(
    ctx: Context, *, id: str, changes: Mapping[str, Any]
) -> Outcome[Statistic]:
    statistic_id = decode_id(id, "Statistic")
    return await ctx.mutate(
        lambda s: statistics.update_statistic(s, statistic_id=statistic_id, changes=changes)
    )


async def delete_statistic(ctx: Context, *, id: str) -> Outcome[str]:
    """The deleted statistic's ID, or why it was not deleted."""
    statistic_id = decode_id(id, "Statistic")

    async def delete(session: AsyncSession) -> str:
        await statistics.delete_statistic(session, statistic_id=statistic_id)
        return id

    return await ctx.mutate(delete)


async def reorder_statistics(
    ctx: Context, *, category_id: str, statistic_ids: Sequence[str]
) -> Outcome[list[Statistic]]:
    category = decode_id(category_id, "Category")
    ids = [decode_id(i, "Statistic") for i in statistic_ids]
    return await ctx.mutate(
        lambda s: statistics.reorder_statistics(s, category_id=category, statistic_ids=ids)
    )


async def report(
    ctx: Context,
    *,
    category_id: str,
    statistic_ids: Sequence[str] | None,
    start: date | None,
    end: date | None,
    zone: str,
) -> list[reports.StatisticReport]:
    viewer = await ctx.require()
    request = reports.ReportRequest(
        category_id=decode_id(category_id, "Category"),
        statistic_ids=[decode_id(i, "Statistic") for i in statistic_ids]
        if statistic_ids is not None
        else None,
        start=start,
        end=end,
        zone=zone,
        viewer_id=viewer.id,
    )
    return await ctx.read(lambda s: reports.run_report(s, request))

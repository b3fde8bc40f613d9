"""Query.report: a category's statistics computed for a period, rows ready for a chart."""

from datetime import date
from typing import Annotated

import strawberry

from resolvers import statistics as resolve
from schema import cost
from schema.common import Info
from schema.permissions import requires
from schema.statistics.types import Statistic
from services import reports
from services.ids import encode_id


@strawberry.type(description="A period of a report's row, in the report's time zone.")
class ReportPeriod:
    start: date
    end: date = strawberry.field(description="Its last day.")
    label: str = strawberry.field(description="Its first day, YYYY-MM-DD.")


@strawberry.type(description="A group of a report's row.")
class ReportGroup:
    key: str | None = strawberry.field(
        description="The option's value, true or false, a user's or a related card's ID, a "
        "country code; null for the cards without a value."
    )
    label: str = strawberry.field(description="The option's label, Yes or No, a name.")
    color: str | None = strawberry.field(description="The option's colour, if it has one.")

    @classmethod
    def of(cls, group: reports.Group) -> "ReportGroup":
        key = group.key
        if key is not None and group.node_type is not None:
            key = encode_id(group.node_type, int(key))
        return cls(key=key, label=group.label, color=group.color)


@strawberry.type(description="One value of a statistic: for a period, a group, or both.")
class ReportRow:
    period: ReportPeriod | None = strawberry.field(description="Null without a bucket.")
    group: ReportGroup | None = strawberry.field(description="Null without groupBy.")
    value: str | None = strawberry.field(
        description="Exact: an integer for counts, a decimal for sums and averages (two "
        "decimals for MONEY and averages of whole numbers), a date or date-time for MIN and "
        "MAX of dates; null when no card has a value."
    )
    number: float | None = strawberry.field(
        description="The value as a number, for charts (null for dates)."
    )
    cards: int = strawberry.field(
        description="The cards the row is about (the to-dos or notes for those statistics)."
    )

    @classmethod
    def of(cls, row: reports.Row) -> "ReportRow":
        period = row.period
        return cls(
            period=ReportPeriod(start=period.start, end=period.end, label=period.label)
            if period is not None
            else None,
            group=ReportGroup.of(row.group) if row.group is not None else None,
            value=row.cell.value,
            number=row.cell.number,
            cards=row.cell.cards,
        )


@strawberry.type
class StatisticReport:
    statistic: Statistic
    rows: list[ReportRow] = strawberry.field(
        description="Periods in order, each with its groups: the options in their order "
        "(with those no card has), then other values, the cards without a value last.",
        metadata=cost.typical(50),
    )


@strawberry.type
class Report:
    from_: date | None = strawberry.field(name="from")
    to: date | None
    time_zone: str
    statistics: list[StatisticReport] = strawberry.field(metadata=cost.typical(10))


@strawberry.type
class ReportQuery:
    @strawberry.field(
        description="Run a category's statistics (statisticIds: some of them, in their order) "
        "over its cards not in the bin (and the to-dos and notes on them). `from` and `to` "
        "(days, both included) keep the cards, to-dos or notes whose date falls in them: the "
        "statistic's bucketOn, or createdAt. Periods are in `timeZone` (CRM_TIME_ZONE when "
        "left out); weeks start on Monday.",
        extensions=requires(),
    )
    async def report(
        self,
        info: Info,
        category_id: strawberry.ID,
        statistic_ids: list[strawberry.ID] | None = None,
        from_: Annotated[date | None, strawberry.argument(name="from")] = None,
        to: date | None = None,
        time_zone: str | None = None,
    ) -> Report:
        zone = time_zone or info.context.settings.time_zone
        found = await resolve.report(
            info.context,
            category_id=category_id,
            statistic_ids=statistic_ids,
            start=from_,
            end=to,
            zone=zone,
        )
        return Report(
            from_=from_,
            to=to,
            time_zone=zone,
            statistics=[
                StatisticReport(
                    statistic=Statistic.of(part.statistic),
                    rows=[ReportRow.of(row) for row in part.rows],
                )
                for part in found
            ],
        )

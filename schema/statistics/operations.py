"""Defining a category's statistics (admins); everyone signed in reads them on Category."""

from typing import Any

import strawberry

from models.users import Role
from resolvers import statistics as resolve
from schema.categories.inputs import DeletePayload
from schema.common import Info, payload, provided
from schema.contacts.filters import ContactFilter
from schema.permissions import requires
from schema.statistics.inputs import (
    SETTINGS,
    StatisticCreateInput,
    StatisticDeleteInput,
    StatisticPayload,
    StatisticReorderInput,
    StatisticReorderPayload,
    StatisticUpdateInput,
)
from schema.statistics.types import Statistic


def _settings(input: object) -> dict[str, Any]:
    """The settings sent, the filter as conditions."""
    changes = provided(input, SETTINGS)
    if isinstance(changes.get("filter"), ContactFilter):
        changes["filter"] = changes["filter"].to_condition()
    return changes


@strawberry.type
class StatisticMutation:
    @strawberry.mutation(extensions=requires(Role.ADMIN))
    async def statistic_create(self, info: Info, input: StatisticCreateInput) -> StatisticPayload:
        outcome = await resolve.create_statistic(
            info.context, category_id=input.category_id, changes=_settings(input)
        )
        return payload(StatisticPayload, outcome, statistic=Statistic.of)

    @strawberry.mutation(extensions=requires(Role.ADMIN))
    async def statistic_update(self, info: Info, input: StatisticUpdateInput) -> StatisticPayload:
        outcome = await resolve.update_statistic(
            info.context, id=input.id, changes=_settings(input)
        )
        return payload(StatisticPayload, outcome, statistic=Statistic.of)

    @strawberry.mutation(extensions=requires(Role.ADMIN))
    async def statistic_delete(self, info: Info, input: StatisticDeleteInput) -> DeletePayload:
        outcome = await resolve.delete_statistic(info.context, id=input.id)
        return payload(DeletePayload, outcome, deleted_id=strawberry.ID)

    @strawberry.mutation(extensions=requires(Role.ADMIN))
    async def statistic_reorder(
        self, info: Info, input: StatisticReorderInput
    ) -> StatisticReorderPayload:
        outcome = await resolve.reorder_statistics(
            info.context, category_id=input.category_id, statistic_ids=input.statistic_ids
        )
        return payload(
            StatisticReorderPayload,
            outcome,
            statistics=lambda rows: [Statistic.of(row) for row in rows],
        )

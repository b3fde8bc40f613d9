"""The GraphQL schema: one module per domain, assembled here with the request limits."""

from typing import Any

import strawberry
from strawberry import Info
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.tools import merge_types

from schema.categories import CategoryMutation, CategoryQuery
from schema.common import Node, context
from schema.contacts import ContactMutation, ContactQuery
from schema.limits import ErrorPolicy, ReleaseSession, cost_rule
from schema.node import resolve_nodes
from schema.users import UserMutation, UserQuery
from services.settings import Settings


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global ID.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        await context(info).require()
        return (await resolve_nodes(context(info), [id]))[0]

    @strawberry.field(description="Several objects by their global IDs, in the same order.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        await context(info).require()
        return await resolve_nodes(context(info), ids)


Query = merge_types("Query", (UserQuery, CategoryQuery, ContactQuery, NodeQuery))
Mutation = merge_types("Mutation", (UserMutation, CategoryMutation, ContactMutation))


def build_schema(settings: Settings) -> strawberry.Schema:
    extensions: list[Any] = [
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_query_aliases),
        lambda: AddValidationRules([cost_rule(settings.max_query_cost, settings.max_page_size)]),
        ErrorPolicy,
        ReleaseSession,
    ]
    return strawberry.Schema(query=Query, mutation=Mutation, extensions=extensions)

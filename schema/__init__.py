"""The GraphQL schema: one package per domain (types, inputs, operations), assembled here with
the request limits."""

import warnings
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.activity.subscription import ActivitySubscription
from schema.categories.operations import CategoryMutation, CategoryQuery
from schema.contacts.operations import ContactMutation, ContactQuery
from schema.cost import cost_rule
from schema.exports.operations import ExportMutation
from schema.files.inputs import SCALARS
from schema.files.operations import FileMutation
from schema.imports.operations import ImportMutation, ImportQuery
from schema.limits import ErrorPolicy, ReleaseSession, StorableStrings
from schema.mail.operations import MailMutation, MailQuery
from schema.node import NodeQuery
from schema.notes.operations import NoteMutation
from schema.rooms.operations import RoomMutation, RoomQuery
from schema.rooms.subscription import RoomSubscription
from schema.statistics.operations import StatisticMutation
from schema.statistics.report import ReportQuery
from schema.todos.operations import TodoMutation
from schema.users.operations import UserMutation, UserQuery
from services.settings import Settings

# When a field's error nulls its parent, graphql-core cancels the parent's other fields; one
# cancelled before it started leaves its resolver's coroutine unawaited, which Python reports
# when it collects it. Nothing is lost (that result is discarded anyway), so it is not news.
warnings.filterwarnings(
    "ignore", message=r"coroutine '.*_async_resolver' was never awaited", category=RuntimeWarning
)

# Distinct operation texts whose parsed and validated form is kept (clients send few).
CACHED_DOCUMENTS = 512


Query = merge_types(
    "Query",
    (
        UserQuery,
        CategoryQuery,
        ContactQuery,
        RoomQuery,
        NodeQuery,
        MailQuery,
        ReportQuery,
        ImportQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        UserMutation,
        CategoryMutation,
        ContactMutation,
        NoteMutation,
        TodoMutation,
        RoomMutation,
        MailMutation,
        FileMutation,
        StatisticMutation,
        ExportMutation,
        ImportMutation,
    ),
)

Subscription = merge_types("Subscription", (ActivitySubscription, RoomSubscription))


def build_schema(settings: Settings) -> strawberry.Schema:
    # The limit rules are built once: the validation cache below is keyed by the rule classes,
    # so rules made afresh for each request (as the stock extensions do) would never hit it.
    rules: list[type[ASTValidationRule]] = [
        depth_rule(settings.max_query_depth, should_ignore=None),
        alias_rule(settings.max_query_aliases),
        cost_rule(settings.max_query_cost, settings.max_page_size),
        StorableStrings,
    ]
    extensions: list[Any] = [
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=CACHED_DOCUMENTS),
        lambda: ValidationCache(maxsize=CACHED_DOCUMENTS),
        ErrorPolicy,
        ReleaseSession,
    ]
    return QuietSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
    )


class QuietSchema(strawberry.Schema):
    """Strawberry logs every error with a traceback, client mistakes included; ErrorPolicy
    (schema/limits.py) already logs the unexpected ones, so nothing more is logged here."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        return None

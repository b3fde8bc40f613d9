"""Every field that returns several objects declares its cost where it is defined, so the cost
limit cannot undercount a new list or connection."""

from graphql import GraphQLInterfaceType, GraphQLObjectType

from schema import build_schema
from schema.cost import declared_cost, returns_many
from tests.conftest import settings_for


def test_every_list_and_connection_declares_its_cost() -> None:
    schema = build_schema(settings_for("sqlite+aiosqlite:///:memory:"))._schema
    undeclared = [
        f"{type_name}.{field_name}"
        for type_name, graphql_type in schema.type_map.items()
        if not type_name.startswith("__")
        and isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType)
        for field_name, field in graphql_type.fields.items()
        if returns_many(field.type) and declared_cost(field) is None
    ]
    assert undeclared == []


def test_the_check_sees_lists_and_connections() -> None:
    schema = build_schema(settings_for("sqlite+aiosqlite:///:memory:"))._schema
    query = schema.query_type
    assert query is not None
    assert returns_many(query.fields["categories"].type)
    assert returns_many(query.fields["contacts"].type)
    assert not returns_many(query.fields["me"].type)
    assert declared_cost(query.fields["contacts"]) is not None

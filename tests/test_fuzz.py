"""Property-based fuzzing of the whole GraphQL schema: no operation may fail inside the server.

hypothesis-graphql writes valid queries and mutations from the schema. Their scalars come from
seeded data (real IDs of every type, field keys, option values, tokens, cursors) mixed with
hostile values (malformed IDs, unicode, empty and long strings, huge numbers, date-times at the
edges of the calendar). Every operation goes through the real app as ADMIN, MEMBER, VIEWER and
anonymously, half of them with inline values and half with variables. None may answer 5xx,
report an INTERNAL_SERVER_ERROR, leak an error that escaped the error policy (no code, no
location) or make the server log an unexpected error. Every failure of a run is collected,
grouped by where the server failed, and reported with the shortest reproduction of each group.

How it is driven: Hypothesis's `@given` calls its test synchronously, while the app runs on the
test's event loop. So a synchronous `@given` function only draws the operations into a list
(generation phase only, fixed seed, no example database: the same list on every run), and the
async test then sends them one after another. Nothing is shrunk: each mutation changes the data
the next operation sees, so shrinking would chase a moving target; the report gives the
shortest operation of each group instead.

`CRM_TEST_FUZZ_EXAMPLES` sets how many operations each root field gets per role (default 5;
half as many for VIEWER and anonymous requests, where most are refused early), and
`CRM_TEST_FUZZ_SEED` draws another set of operations for a longer hunt.
"""

import base64
import json
import logging
import os
import random
import re
import traceback
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache
from types import TracebackType
from typing import Any, TypeVar

import graphql
import hypothesis
import pytest
from hypothesis import strategies as st
from hypothesis_graphql import from_schema
from sqlalchemy import insert, update
from sqlmodel import col

from models.users import AuthSession, User
from schema import build_schema
from services.auth import SESSION_PREFIX, hash_token, new_token
from services.ids import decode_global_id, encode_id
from tests.conftest import PASSWORD, ROOT, Api, settings_for
from tests.helpers import (
    CONTACT_LINK,
    FIELD_ARCHIVE,
    create_category,
    create_contact,
    create_field,
    mutation,
)

T = TypeVar("T")

ROLES = ("ADMIN", "MEMBER", "VIEWER", "ANONYMOUS")
EXAMPLES = int(os.environ.get("CRM_TEST_FUZZ_EXAMPLES", "5"))
# Any other text draws other operations (the default run stays the same everywhere).
SEED = os.environ.get("CRM_TEST_FUZZ_SEED", "")

# --- seeded data ---------------------------------------------------------------------------

INDUSTRIES = [
    {"value": "tech", "label": "Technology", "color": "#3b82f6"},
    {"value": "retail", "label": "Retail", "color": "#f59e0b"},
    {"value": "bygg", "label": "Byggnad och anläggning"},
]
TAGS = [{"value": "b2b", "label": "B2B"}, {"value": "vip", "label": "VIP ★"}]
# (key, type, further FieldDefinitionCreateInput settings): one field of every FieldType.
CUSTOMER_FIELDS: list[tuple[str, str, dict[str, Any]]] = [
    ("orgNo", "TEXT", {"unique": True, "validation": {"pattern": "[0-9]{6}-[0-9]{4}"}}),
    ("notes", "LONG_TEXT", {"validation": {"maxLength": 5000}}),
    ("employees", "INTEGER", {"indexed": True, "validation": {"min": 0}}),
    ("score", "NUMBER", {"validation": {"min": -1000.5, "max": 1000.5}}),
    ("revenue", "MONEY", {"indexed": True, "currency": "EUR"}),
    ("vip", "BOOLEAN", {"defaultValue": False}),
    ("founded", "DATE", {"indexed": True, "validation": {"min": "1800-01-01"}}),
    ("lastContact", "DATETIME", {"indexed": True}),
    ("mail", "EMAIL", {"unique": True}),
    ("tel", "PHONE", {}),
    ("site", "URL", {}),
    ("industry", "SELECT", {"indexed": True, "options": INDUSTRIES}),
    ("tags", "MULTI_SELECT", {"options": TAGS}),
    ("rating", "RATING", {"validation": {"max": 5}}),
    ("owner", "USER", {}),
    ("legacy", "TEXT", {"validation": {"minLength": 2, "maxLength": 40}}),  # archived below
]
OTHER_STRINGS = [
    "SE",
    "se",
    "Malmö",
    "acme",
    "Acme AB",
    "EUR",
    "#3b82f6",
    "[0-9]+",
    "(a+)+$",
    "2024-02-29",
    "2024-02-29T12:30:00Z",
    "https://acme.example/path?q=1",
    "+46 70 123 45 67",
    "556000-0001",
    " padded ",
    "a\nb",
    "\x00",
    "%_\\",
    "' OR 1=1 --",
    "東京",
    "👩‍💻",
    "\u202eevil",
    "e\u0301",
]


@dataclass
class Seed:
    """What the generator draws from: the global IDs of every seeded object by type, and the
    strings the data answers to by kind ("fieldKey", "relation", "cursor", "token", ...)."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    strings: dict[str, list[str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # role -> session token
    user_ids: dict[str, int] = field(default_factory=dict)  # role -> primary key

    def add_id(self, global_id: str) -> None:
        type_name, _ = decode_global_id(global_id)
        if global_id not in self.ids.setdefault(type_name, []):
            self.ids[type_name].append(global_id)

    def add(self, kind: str, *values: str) -> None:
        self.strings.setdefault(kind, []).extend(values)

    def every_string(self) -> list[str]:
        return [value for values in self.strings.values() for value in values]


ALL_IDS = """query { users(includeInactive: true) { id apiKeys { id } }
  categories { id fields(includeArchived: true) { id } relations { id }
    contacts(first: 20, includeDeleted: true) { nodes { id persons { id } } } } }"""
CURSORS = """query($c: ID!, $o: [ContactOrder!]) { contacts(categoryId: $c, first: 2, orderBy: $o) {
  pageInfo { startCursor endCursor } } }"""
RELATED_CURSOR = """query($id: ID!) { contact(id: $id) { related(relation: "subsidiaries", first: 1) {
  pageInfo { endCursor } } } }"""
RELATION_CREATE = mutation(
    "categoryRelationCreate", "CategoryRelationCreateInput", "relation { id }"
)
PERSON_CREATE = mutation("personCreate", "PersonCreateInput", "person { id }")
CONTACT_DELETE = mutation("contactDelete", "ContactIdInput", "contact { id }")
API_KEY_CREATE = mutation("apiKeyCreate", "ApiKeyCreateInput", "token apiKey { id }")
USER_UPDATE = mutation("userUpdate", "UserUpdateInput", "user { id }")
RESET = mutation("userPasswordReset", "UserPasswordResetInput", "token")
INVITE = mutation("userInvite", "UserInviteInput", "token")
ME = "query { me { id role active } }"


async def seed(api: Api) -> Seed:
    """Users of every role, two categories with fields of every type, relations, cards with
    values, persons and links, API keys, an open invitation and a password reset."""
    found = Seed()
    found.tokens["ADMIN"] = await api.sign_up_admin()
    await api.add_user("ben@example.com", "ADMIN", "Ben Admin")
    found.tokens["MEMBER"] = await api.add_user("mia@example.com", "MEMBER", "Mia Member")
    found.tokens["VIEWER"] = await api.add_user("vic@example.com", "VIEWER", "Vic Viewer")
    await api.add_user("old@example.com", "VIEWER", "Olle Gone")
    for role, token in found.tokens.items():
        me = (await api.ok(ME, token=token))["me"]
        found.user_ids[role] = decode_global_id(me["id"])[1]
        found.add_id(me["id"])
    gone = await api.ok("query { users { id email } }")
    (old_id,) = [u["id"] for u in gone["users"] if u["email"] == "old@example.com"]
    await api.ok(USER_UPDATE, {"input": {"id": old_id, "active": False}})
    owner = encode_id("User", found.user_ids["MEMBER"])

    customers = await create_category(api, "customers", "Customers", "Companies we sell to")
    suppliers = await create_category(api, "suppliers", "Leverantörer ✓")
    await create_category(api, "empty", "Nothing here")
    field_ids = {}
    for key, type_, settings in CUSTOMER_FIELDS:
        field_ids[key] = (await create_field(api, customers["id"], key, type_, **settings))["id"]
    # The same keys as customers with other types: casts must keep the categories apart.
    await create_field(api, suppliers["id"], "employees", "TEXT", indexed=True)
    await create_field(api, suppliers["id"], "industry", "INTEGER", indexed=True, unique=True)
    for key, name, inverse_key, inverse_name, target, cardinality in (
        ("subsidiaries", "Subsidiaries", "parent", "Parent", customers, "ONE_TO_MANY"),
        ("vendors", "Vendors", "clients", "Clients", suppliers, "MANY_TO_MANY"),
    ):
        await api.ok(
            RELATION_CREATE,
            {
                "input": {
                    "key": key,
                    "name": name,
                    "inverseKey": inverse_key,
                    "inverseName": inverse_name,
                    "fromCategoryId": customers["id"],
                    "toCategoryId": target["id"],
                    "cardinality": cardinality,
                }
            },
        )

    acme = await create_contact(
        api,
        customers["id"],
        "Acme AB",
        {
            "orgNo": "556000-0001",
            "notes": "Första kunden.\nRing före lunch.",
            "employees": 120,
            "score": 12.5,
            "revenue": 1250000.5,
            "vip": True,
            "founded": "1999-03-01",
            "lastContact": "2024-05-01T09:30:00+02:00",
            "mail": "info@acme.example",
            "tel": "+46 40 123 45",
            "site": "https://acme.example",
            "industry": "tech",
            "tags": ["b2b", "vip"],
            "rating": 4,
            "owner": owner,
            "legacy": "old value",
        },
        email="info@acme.example",
        address={"city": "Malmö", "country": "SE"},
        persons=[
            {"firstName": "Bo", "lastName": "Ek", "title": "CFO", "email": "bo@acme.example"},
            {"firstName": "Åsa", "lastName": "Öberg", "mobile": "+46 70 123 45 67"},
        ],
    )
    beta = await create_contact(
        api,
        customers["id"],
        "Beta Oy",
        {"orgNo": "556000-0002", "employees": 5, "revenue": 99.99, "industry": "retail"},
        token=found.tokens["MEMBER"],
        address={"city": "Helsinki", "country": "FI"},
    )
    await create_contact(api, customers["id"], "Ωmega ✓", {"tags": [], "rating": 1})
    doomed = await create_contact(api, customers["id"], "Deleted Ltd", {"orgNo": "556000-0009"})
    await api.ok(CONTACT_DELETE, {"input": {"id": doomed["id"]}})
    supplier = await create_contact(api, suppliers["id"], "Parts & Co", {"employees": "many"})
    await create_contact(api, suppliers["id"], "Bolts Inc", {"industry": 7})
    await api.ok(PERSON_CREATE, {"input": {"contactId": beta["id"], "firstName": "Eva"}})
    for relation, from_id, to_id in (
        ("subsidiaries", acme["id"], beta["id"]),
        ("vendors", acme["id"], supplier["id"]),
        ("clients", supplier["id"], beta["id"]),
    ):
        await api.ok(
            CONTACT_LINK, {"input": {"relation": relation, "fromId": from_id, "toId": to_id}}
        )
    await api.ok(FIELD_ARCHIVE, {"input": {"id": field_ids["legacy"]}})

    for role in ("ADMIN", "MEMBER"):
        created = await api.ok(
            API_KEY_CREATE, {"input": {"name": f"{role} import"}}, found.tokens[role]
        )
        found.add("token", created["apiKeyCreate"]["token"])
    invitation = await api.ok(INVITE, {"input": {"email": "new@example.com", "role": "VIEWER"}})
    reset = await api.ok(RESET, {"input": {"id": encode_id("User", found.user_ids["VIEWER"])}})
    found.add("token", invitation["userInvite"]["token"], reset["userPasswordReset"]["token"])
    found.add("token", *found.tokens.values())

    for order in (
        None,
        [{"key": "revenue"}],
        [{"field": "NAME", "direction": "DESC"}],
        [{"key": "industry"}, {"key": "founded", "direction": "DESC"}],
        [{"key": "lastContact", "direction": "DESC"}, {"field": "UPDATED_AT"}],
    ):
        page = (await api.ok(CURSORS, {"c": customers["id"], "o": order}))["contacts"]["pageInfo"]
        found.add("cursor", page["startCursor"], page["endCursor"])
    related = await api.ok(RELATED_CURSOR, {"id": acme["id"]})
    found.add("cursor", related["contact"]["related"]["pageInfo"]["endCursor"])

    every = await api.ok(ALL_IDS)
    for user in every["users"]:
        found.add_id(user["id"])
        for api_key in user["apiKeys"]:
            found.add_id(api_key["id"])
    for category in every["categories"]:
        found.add_id(category["id"])
        for child in category["fields"] + category["relations"]:
            found.add_id(child["id"])
        for card in category["contacts"]["nodes"]:
            found.add_id(card["id"])
            for person in card["persons"]:
                found.add_id(person["id"])

    found.add("fieldKey", *(key for key, _, _ in CUSTOMER_FIELDS), "missing")
    found.add("categoryKey", "customers", "suppliers", "empty", "missing")
    found.add("relation", "subsidiaries", "parent", "vendors", "clients", "missing")
    found.add("option", *(option["value"] for option in INDUSTRIES + TAGS))
    found.add("email", *(f"{n}@example.com" for n in ("ada", "ben", "mia", "vic", "old", "new")))
    found.add("password", PASSWORD, "a new long passphrase")
    found.add("country", "SE", "se", "FI", "Sweden", "")
    found.add("currency", "EUR", "SEK", "usd", "EURO")
    found.add("color", "#3b82f6", "#FFF", "#12345g", "red", "")
    found.add("pattern", "[0-9]+", "^\\d{3}$", "(a+)+$", "[", "(?P<x>a)(?P=x)", "\\")
    found.add("other", *OTHER_STRINGS)
    return found


# --- strategies ----------------------------------------------------------------------------


def weighted(*choices: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """One of the strategies, each drawn about `weight` times as often as a weight of 1."""
    return st.one_of([strategy for weight, strategy in choices for _ in range(weight)])


TEXT = st.text(st.characters(codec="utf-8"), max_size=24)  # NUL and every plane but surrogates
LONG_TEXT = st.builds(
    lambda piece, times: piece * times,
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=3),
    st.sampled_from([65, 201, 321, 1001, 2049, 5001, 30_001]),
) | st.sampled_from(["x" * 100_001, "é" * 100_001])
BIG_INTEGERS = st.sampled_from(
    [2**31, -(2**31) - 1, 2**53 + 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**400), 10**400]
)
FLOATS = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [0.1, -0.0, 1e308, -1e308, 5e-324, 1e16 + 0.5, 0.005, 123456789.125]
)
EDGE_DATETIMES = [
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:59:59.999999",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:30:00-01:00",
    "1970-01-01T00:00:00+00:00",
    "2024-02-29T12:00:00.5+05:30",
    "2024-02-29",
]
OFFSETS: st.SearchStrategy[tzinfo] = st.integers(-14 * 60, 14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
FIRST, LAST = datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999)
DATETIMES = weighted(
    (2, st.datetimes(FIRST, LAST).map(datetime.isoformat)),
    (2, st.datetimes(FIRST, LAST, timezones=OFFSETS).map(datetime.isoformat)),
    (1, st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat().replace("+00:00", "Z"))),
    (2, st.sampled_from(EDGE_DATETIMES)),
)


URLS = [
    "https://acme.example",
    "acme.example",
    "http://xn--mlm-0na.example/ä?q=1#x",
    "ftp://files.example",
    "javascript:alert(1)",
    "https://",
    "https://[::1]:99999/",
]


def malformed_ids() -> st.SearchStrategy[str]:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    forged = [
        b64(raw)
        for raw in (
            b"Contact:0",
            b"Contact:-1",
            b"Contact:2147483648",
            b"Contact:99999999999999999999",
            b"Contact:1.5",
            b"Contact: 1",
            b"Contact:\xd9\xa1",  # an Arabic-Indic digit one: int() takes it
            b"Nope:1",
            b":1",
            b"Contact",
            b"Contact:1:2",
            b"\xff\xfe:1",
            b"User:1\x00",
        )
    ]
    return (
        st.sampled_from(["", "=", "not an id", "Q29udGFjdDox=", "Q29udGFjdDox\n", *forged]) | TEXT
    )


@dataclass(frozen=True)
class Values:
    """Strategies for plain values, built once from the seeded data."""

    strings: st.SearchStrategy[str]
    json: st.SearchStrategy[Any]
    typed: dict[str, st.SearchStrategy[Any]]  # FieldType -> values a field of it may hold
    typed_lists: dict[str, st.SearchStrategy[list[Any]]]
    field_types: dict[str, str]  # seeded field key -> its FieldType
    custom_values: st.SearchStrategy[dict[str, Any]]
    ids: st.SearchStrategy[str]


def values_for(seed: Seed) -> Values:
    known_ids = [i for ids in seed.ids.values() for i in ids]
    # IDs the next rows of each table will get: mutations create them during the run.
    future_ids = [
        encode_id(type_name, max(decode_global_id(i)[1] for i in ids) + step)
        for type_name, ids in seed.ids.items()
        for step in (1, 2, 3)
    ]
    ids = weighted(
        (6, st.sampled_from(known_ids)),
        (1, st.sampled_from(future_ids)),
        (2, malformed_ids()),
    )
    strings = weighted(
        (4, st.sampled_from(seed.every_string())),
        (1, st.sampled_from(seed.strings["fieldKey"])),
        (3, TEXT),
        (1, st.just("")),
        (1, LONG_TEXT),
    )
    leaves: st.SearchStrategy[Any] = weighted(
        (1, st.none()),
        (1, st.booleans()),
        (2, st.integers()),
        (1, BIG_INTEGERS),
        (2, FLOATS),
        (4, strings),
        (2, DATETIMES),
        (1, st.sampled_from(known_ids)),
    )
    field_keys = st.sampled_from(seed.strings["fieldKey"])
    json_keys = weighted((3, field_keys), (1, TEXT))
    json = st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=5)
        ),
        max_leaves=12,
    )
    numbers = st.integers(-(10**6), 10**6) | FLOATS | BIG_INTEGERS
    options = st.sampled_from(seed.strings["option"])
    # Mostly what a field of each type accepts, sometimes just beyond it; never null, as
    # these also fill lists of non-null values (FieldFilter.in).
    typed: dict[str, st.SearchStrategy[Any]] = {
        "TEXT": strings,
        "LONG_TEXT": strings,
        "INTEGER": numbers,
        "NUMBER": numbers,
        "MONEY": st.integers(-(10**15), 10**15).map(lambda cents: cents / 100) | numbers,
        "BOOLEAN": st.booleans(),
        "DATE": st.dates().map(lambda d: d.isoformat()) | st.sampled_from(EDGE_DATETIMES),
        "DATETIME": DATETIMES,
        "EMAIL": st.emails() | st.sampled_from(seed.strings["email"]) | strings,
        "PHONE": st.from_regex(r"\+?[0-9 ()./-]{3,24}", fullmatch=True) | strings,
        "URL": st.sampled_from(URLS) | strings,
        "SELECT": options | strings,
        "MULTI_SELECT": st.lists(options, max_size=4) | st.lists(strings, max_size=2),
        "RATING": st.integers(-1, 11),
        "USER": st.sampled_from(seed.ids["User"]) | ids,
    }
    field_types = {key: type_ for key, type_, _ in CUSTOMER_FIELDS}
    orgnos = st.from_regex(r"[0-9]{6}-[0-9]{4}", fullmatch=True)

    def plausible(key: str) -> st.SearchStrategy[Any]:
        if key == "orgNo":
            return orgnos
        return typed[field_types[key]] if key in field_types else json

    # Custom values keyed by real field keys, mostly of the field's type, so that cards get
    # written and later filters and orders meet all kinds of stored values.
    custom_values = st.fixed_dictionaries(
        {},
        optional={
            key: weighted((3, plausible(key)), (1, json)) for key in seed.strings["fieldKey"]
        },
    )
    typed_lists = {name: st.lists(strategy, max_size=4) for name, strategy in typed.items()}
    return Values(strings, json, typed, typed_lists, field_types, custom_values, ids)


def scalars(values: Values) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Strategies for the value nodes of every scalar the schema uses."""
    integers = weighted(
        (4, st.integers(0, 10)),
        (1, st.sampled_from([-1, 99, 100, 101, 2**31 - 1, -(2**31)])),
    )
    return {
        "ID": weighted((9, values.ids.map(string_node)), (1, st.integers(-1, 20).map(int_node))),
        "String": values.strings.map(string_node),
        "Int": integers.map(int_node),
        "DateTime": DATETIMES.map(string_node),
        "JSON": weighted((3, values.json), (2, values.custom_values)).map(literal),
        # Files come as multipart parts; anything written in the document is refused.
        "Upload": values.strings.map(string_node),
    }


def string_node(value: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=value)


def int_node(value: int) -> graphql.IntValueNode:
    return graphql.IntValueNode(value=str(value))


def literal(value: Any) -> graphql.ValueNode:
    """A JSON value as a GraphQL literal (object keys that are no GraphQL names make the
    document unparsable; `operation` then sends it with variables instead)."""
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return graphql.BooleanValueNode(value=value)
    if isinstance(value, int):
        return graphql.IntValueNode(value=str(value))
    if isinstance(value, float):
        return graphql.FloatValueNode(value=repr(value))
    if isinstance(value, str):
        return graphql.StringValueNode(value=value)
    if isinstance(value, list):
        return graphql.ListValueNode(values=tuple(literal(item) for item in value))
    return graphql.ObjectValueNode(
        fields=tuple(
            graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=literal(v))
            for k, v in value.items()
        )
    )


@dataclass(frozen=True)
class Operation:
    query: str
    variables: dict[str, Any]

    @property
    def is_mutation(self) -> bool:
        return self.query.startswith("mutation")


@cache
def graphql_schema() -> graphql.GraphQLSchema:
    return graphql.build_schema(sdl())


@cache
def sdl() -> str:
    return build_schema(settings_for("sqlite+aiosqlite://")).as_str()


NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
Composite = graphql.GraphQLObjectType | graphql.GraphQLInterfaceType
# Given a field's name, its arguments and their definitions, the arguments to send instead.
ArgumentChange = Callable[
    [str, tuple[graphql.ArgumentNode, ...], dict[str, graphql.GraphQLArgument]],
    tuple[graphql.ArgumentNode, ...],
]


def rewrite(document: graphql.DocumentNode, change: ArgumentChange) -> graphql.DocumentNode:
    """The document with the arguments of every field, at any depth, changed by `change`."""
    schema = graphql_schema()

    def selections(selection_set: graphql.SelectionSetNode, parent: Composite) -> Any:
        rewritten: list[graphql.SelectionNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, graphql.InlineFragmentNode):
                assert selection.type_condition is not None
                on = schema.get_type(selection.type_condition.name.value)
                assert isinstance(on, Composite)
                rewritten.append(
                    graphql.InlineFragmentNode(
                        type_condition=selection.type_condition,
                        directives=selection.directives,
                        selection_set=selections(selection.selection_set, on),
                    )
                )
                continue
            assert isinstance(selection, graphql.FieldNode)
            definition = parent.fields[selection.name.value]
            children = selection.selection_set
            if children is not None:
                target = graphql.get_named_type(definition.type)
                assert isinstance(target, Composite)
                children = selections(children, target)
            rewritten.append(
                graphql.FieldNode(
                    alias=selection.alias,
                    name=selection.name,
                    arguments=change(
                        selection.name.value, selection.arguments or (), definition.args
                    ),
                    directives=selection.directives,
                    selection_set=children,
                )
            )
        return graphql.SelectionSetNode(selections=tuple(rewritten))

    (definition,) = document.definitions
    assert isinstance(definition, graphql.OperationDefinitionNode)
    root = (
        schema.mutation_type
        if definition.operation == graphql.OperationType.MUTATION
        else schema.query_type
    )
    assert root is not None
    operation = graphql.OperationDefinitionNode(
        operation=definition.operation,
        variable_definitions=definition.variable_definitions,
        directives=(),
        selection_set=selections(definition.selection_set, root),
    )
    return graphql.DocumentNode(definitions=(operation,))


def printable(node: graphql.ValueNode) -> bool:
    """Whether a value can be written inline: JSON object keys must be GraphQL names there."""
    if isinstance(node, graphql.ListValueNode):
        return all(map(printable, node.values))
    if isinstance(node, graphql.ObjectValueNode):
        return all(NAME.fullmatch(f.name.value) and printable(f.value) for f in node.fields)
    return True


def operation(document: graphql.DocumentNode, with_variables: bool) -> Operation:
    """The document as sent: values inline, or every argument as a variable."""
    inline = [not with_variables]

    def check(
        _field: str,
        arguments: tuple[graphql.ArgumentNode, ...],
        _definitions: dict[str, graphql.GraphQLArgument],
    ) -> tuple[graphql.ArgumentNode, ...]:
        inline[0] = inline[0] and all(printable(a.value) for a in arguments)
        return arguments

    rewrite(document, check)
    if inline[0]:
        return Operation(graphql.print_ast(document), {})
    variables: dict[str, Any] = {}
    definitions: list[graphql.VariableDefinitionNode] = []

    def lift(
        _field: str,
        arguments: tuple[graphql.ArgumentNode, ...],
        types: dict[str, graphql.GraphQLArgument],
    ) -> tuple[graphql.ArgumentNode, ...]:
        lifted = []
        for argument in arguments:
            name = f"{argument.name.value}{len(variables) + 1}"
            variable = graphql.VariableNode(name=graphql.NameNode(value=name))
            argument_type = graphql.parse_type(str(types[argument.name.value].type))
            definitions.append(
                graphql.VariableDefinitionNode(variable=variable, type=argument_type, directives=())
            )
            variables[name] = graphql.value_from_ast_untyped(argument.value)
            lifted.append(graphql.ArgumentNode(name=argument.name, value=variable))
        return tuple(lifted)

    lifted = rewrite(document, lift)
    (definition,) = lifted.definitions
    assert isinstance(definition, graphql.OperationDefinitionNode)
    with_definitions = graphql.OperationDefinitionNode(
        operation=definition.operation,
        variable_definitions=tuple(definitions),
        directives=(),
        selection_set=definition.selection_set,
    )
    text = graphql.print_ast(graphql.DocumentNode(definitions=(with_definitions,)))
    return Operation(text, variables)


# Strings whose argument or input field name tells which seeded values suit them.
STRING_KINDS = {
    "key": "fieldKey",  # FieldFilter.key, ContactOrder.key (Query.category's is a category key)
    "keys": "fieldKey",
    "relation": "relation",
    "after": "cursor",
    "before": "cursor",
    "email": "email",
    "password": "password",
    "currentPassword": "password",
    "newPassword": "password",
    "token": "token",
    "invitationToken": "token",
    "country": "country",
    "currency": "currency",
    "value": "option",
    "color": "color",
    "pattern": "pattern",
}
# ID arguments and input fields named after what they point to; an `id` points to the type
# its input or query field is named after (ContactUpdateInput.id, Query.category(id:)).
ID_TYPES = {
    "categoryId": "Category",
    "fromCategoryId": "Category",
    "toCategoryId": "Category",
    "contactId": "Contact",
    "fromId": "Contact",
    "toId": "Contact",
    "fieldIds": "FieldDefinition",
}


def suited(seed: Seed, scalar: str, owner: str, name: str) -> list[str]:
    """The seeded values that suit a scalar named `name` in an input type or a field named
    `owner`; empty when any value is as good as another."""
    if scalar == "String":
        kind = "categoryKey" if (owner, name) == ("category", "key") else STRING_KINDS.get(name)
        return seed.strings.get(kind, []) if kind else []
    if scalar != "ID":
        return []
    target = ID_TYPES.get(name)
    if target is None and name == "id":
        named = [t for t in seed.ids if owner.lower().startswith(t.lower())]
        target = max(named, key=len) if named else None
    return seed.ids.get(target, []) if target else []


def aim(
    draw: st.DrawFn,
    seed: Seed,
    values: Values,
    node: graphql.ValueNode,
    type_: graphql.GraphQLInputType,
    owner: str,
    name: str,
) -> graphql.ValueNode:
    """`node` with most of its IDs and keys replaced by seeded ones of the right kind, so that
    operations get past "not found" to the code behind it."""
    unwrapped = graphql.get_nullable_type(type_)
    if isinstance(unwrapped, graphql.GraphQLList):
        if isinstance(node, graphql.ListValueNode):
            items = tuple(
                aim(draw, seed, values, v, unwrapped.of_type, owner, name) for v in node.values
            )
            return graphql.ListValueNode(values=items)
        return aim(draw, seed, values, node, unwrapped.of_type, owner, name)
    if isinstance(unwrapped, graphql.GraphQLInputObjectType) and isinstance(
        node, graphql.ObjectValueNode
    ):
        fields = [
            graphql.ObjectFieldNode(
                name=f.name,
                value=aim(
                    draw,
                    seed,
                    values,
                    f.value,
                    unwrapped.fields[f.name.value].type,
                    unwrapped.name,
                    f.name.value,
                ),
            )
            for f in node.fields
        ]
        return graphql.ObjectValueNode(
            fields=tuple(meaningful(draw, values, unwrapped.name, fields))
        )
    if isinstance(unwrapped, graphql.GraphQLScalarType) and not isinstance(
        node, graphql.NullValueNode
    ):
        choices = suited(seed, unwrapped.name, owner, name)
        if choices and draw(QUARTERS) < 3:
            return string_node(draw(one_of_these(tuple(choices))))
    return node


OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte")
QUARTERS = st.integers(0, 3)


@cache
def one_of_these(choices: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from(choices)


def meaningful(
    draw: st.DrawFn, values: Values, type_name: str, fields: list[graphql.ObjectFieldNode]
) -> list[graphql.ObjectFieldNode]:
    """Most of the time, JSON whose meaning a sibling field tells gets a value of that
    meaning: a card's values, a filter's operands (by its key), a field's default value."""
    given = {f.name.value: f.value for f in fields}
    chosen: dict[str, Any] = {}
    if type_name in ("ContactCreateInput", "ContactUpdateInput") and "values" in given:
        chosen["values"] = draw(values.custom_values)
    key = given.get("key")
    if type_name == "FieldFilter" and isinstance(key, graphql.StringValueNode):
        field_type = values.field_types.get(key.value)
        if field_type is not None:
            operand = values.typed[field_type]
            chosen |= {name: draw(operand) for name in OPERATORS if name in given}
            if "in" in given:
                chosen["in"] = draw(values.typed_lists[field_type])
    type_node = given.get("type")
    if "defaultValue" in given and isinstance(type_node, graphql.EnumValueNode):
        chosen["defaultValue"] = draw(values.typed[type_node.value])
    if not chosen or draw(QUARTERS) == 3:  # a quarter keep the random JSON
        return fields
    return [
        graphql.ObjectFieldNode(name=f.name, value=literal(chosen[f.name.value]))
        if f.name.value in chosen
        else f
        for f in fields
    ]


@st.composite
def aimed(
    draw: st.DrawFn,
    documents: st.SearchStrategy[graphql.DocumentNode],
    seed: Seed,
    values: Values,
) -> graphql.DocumentNode:
    """Documents whose arguments, at any depth, are aimed at the seeded data."""

    def change(
        field_name: str,
        arguments: tuple[graphql.ArgumentNode, ...],
        types: dict[str, graphql.GraphQLArgument],
    ) -> tuple[graphql.ArgumentNode, ...]:
        aimed = tuple(
            graphql.ArgumentNode(
                name=a.name,
                value=aim(
                    draw, seed, values, a.value, types[a.name.value].type, field_name, a.name.value
                ),
            )
            for a in arguments
        )
        if field_name in ("contacts", "related") and draw(QUARTERS) < 3:
            # One direction at a time, or nearly every page request is refused outright.
            drop = ("last", "before") if draw(st.booleans()) else ("first", "after")
            aimed = tuple(
                graphql.ArgumentNode(name=a.name, value=graphql.NullValueNode())
                if a.name.value in drop
                else a
                for a in aimed
            )
        return aimed

    return rewrite(draw(documents), change)


def keep(document: graphql.DocumentNode) -> graphql.DocumentNode:
    return document


def operations(seed: Seed, fields: list[str] | None = None) -> st.SearchStrategy[Operation]:
    """Operations on the given root fields (all by default), half of them with variables."""
    values = values_for(seed)
    documents = from_schema(sdl(), fields=fields, custom_scalars=scalars(values), print_ast=keep)
    return st.builds(operation, aimed(documents, seed, values), st.booleans())


def draw(strategy: st.SearchStrategy[Operation], count: int, seed: int) -> list[Operation]:
    """`count` operations from `strategy`, the same ones on every run."""
    drawn: list[Operation] = []

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(strategy)
    def collect(operation: Operation) -> None:
        drawn.append(operation)

    collect()
    return drawn


# --- running and reporting -----------------------------------------------------------------


class Recorder(logging.Handler):
    """Keeps the errors the server logs as bugs while an operation runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def recording() -> Iterator[Recorder]:
    recorder = Recorder()
    logger = logging.getLogger("crm")  # "crm.graphql" (ErrorPolicy) and the server's own
    logger.addHandler(recorder)
    try:
        yield recorder
    finally:
        logger.removeHandler(recorder)


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def own_code(filename: str) -> bool:
    """Whether a traceback frame is the application's (not a library's, not this test's)."""
    inside = filename.startswith(f"{ROOT}{os.sep}")
    return inside and not os.path.relpath(filename, ROOT).startswith((".venv", "tests"))


def where(exc_info: ExcInfo) -> str:
    """The innermost frame of the project's own code, as "path:line in function"."""
    frames = traceback.extract_tb(exc_info[2])
    own = [f for f in frames if own_code(f.filename)]
    frame = (own or frames)[-1] if frames else None
    if frame is None:
        return "?"
    return f"{os.path.relpath(frame.filename, ROOT)}:{frame.lineno} in {frame.name}"


def tail(exc_info: ExcInfo) -> str:
    """The project's own frames of a traceback, the innermost frame and the exception."""
    frames = traceback.extract_tb(exc_info[2])
    kept = [f for i, f in enumerate(frames) if i == len(frames) - 1 or own_code(f.filename)]
    lines = [
        f"  {os.path.relpath(f.filename, ROOT)}:{f.lineno} in {f.name}: {(f.line or '').strip()}"
        for f in kept
    ]
    exception = traceback.format_exception_only(exc_info[0], exc_info[1])
    return "\n".join([*lines, *(line.rstrip() for line in exception)])


def code_of(error: dict[str, Any]) -> str | None:
    code: str | None = (error.get("extensions") or {}).get("code")
    return code


def normalized(message: str) -> str:
    """The first line of a message without what varies between examples (numbers, quotes)."""
    first_line = (message.splitlines() or [""])[0]
    return re.sub(r"'[^']*'|\"[^\"]*\"|\d+", "…", first_line)[:120]


@dataclass
class Failure:
    key: str  # what groups failures: the exception and where the server raised it
    role: str
    database: str
    operation: Operation
    status: int
    response: str
    traceback: str


@dataclass
class Run:
    api: Api
    role: str
    seed: Seed
    database: str
    failures: list[Failure] = field(default_factory=list)

    @property
    def token(self) -> str | None:
        return self.seed.tokens.get(self.role)

    async def send(self, op: Operation, recorder: Recorder) -> dict[str, Any]:
        """Send one operation as the role, record what went wrong inside the server and
        return the response body (empty when it is not JSON)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        recorder.records.clear()
        try:
            response = await self.api.client.post(
                "/graphql", json={"query": op.query, "variables": op.variables}, headers=headers
            )
        except Exception as error:  # the app raised: a client would get a 500
            exc_info: ExcInfo = (type(error), error, error.__traceback__)
            self.fail(op, exc_info, 500, f"{type(error).__name__}: {error}")
            return {}
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        for record in recorder.records:
            if record.exc_info and record.exc_info[0] is not None:
                self.fail(op, record.exc_info, response.status_code, response.text)
            else:
                key = f"logged: {record.getMessage()}"
                self.failures.append(self.failure(key, op, response.status_code, response.text))
        if recorder.records:
            return body
        errors: list[dict[str, Any]] = body.get("errors") or []
        internal = [e for e in errors if code_of(e) == "INTERNAL_SERVER_ERROR"]
        # Errors of parsing and validation point at the document; one with neither a code nor
        # a location was raised outside every resolver and escaped the error policy unmasked.
        escaped = [
            e
            for e in errors
            if response.status_code < 400 and code_of(e) is None and not e.get("locations")
        ]
        if internal:
            key = f"INTERNAL_SERVER_ERROR at {internal[0].get('path')} without a logged traceback"
        elif escaped:
            key = "unmasked error without a code: " + normalized(str(escaped[0].get("message")))
        elif response.status_code >= 500:
            key = f"HTTP {response.status_code}"
        else:
            return body
        self.failures.append(self.failure(key, op, response.status_code, response.text))
        return body

    def fail(self, op: Operation, exc_info: ExcInfo, status: int, response: str) -> None:
        key = f"{exc_info[0].__name__} at {where(exc_info)}: {normalized(str(exc_info[1]))}"
        self.failures.append(self.failure(key, op, status, response, tail(exc_info)))

    def failure(
        self, key: str, op: Operation, status: int, response: str, trace: str = ""
    ) -> Failure:
        return Failure(key, self.role, self.database, op, status, response[:1500], trace)

    async def keep_signed_in(self, recorder: Recorder) -> None:
        """Mutations may sign the role out, demote or deactivate it (sessionRevoke,
        passwordReset, userUpdate): put the account back and sign in afresh."""
        if self.token is None:
            return
        me = ((await self.send(Operation(ME, {}), recorder)).get("data") or {}).get("me")
        if me and me["role"] == self.role and me["active"]:
            return
        user_id = self.seed.user_ids[self.role]
        token = new_token(SESSION_PREFIX)
        async with self.api.engine.begin() as connection:
            await connection.execute(
                update(User).where(col(User.id) == user_id).values(role=self.role, active=True)
            )
            await connection.execute(
                insert(AuthSession).values(
                    user_id=user_id,
                    token_hash=hash_token(token),
                    created_at=datetime.now(UTC),
                    expires_at=datetime.now(UTC) + timedelta(hours=1),
                )
            )
        self.seed.tokens[self.role] = token


def report(failures: list[Failure]) -> str:
    groups: dict[str, list[Failure]] = {}
    for failure in failures:
        groups.setdefault(failure.key, []).append(failure)
    parts = [f"{len(failures)} failing operation(s) in {len(groups)} group(s)"]
    for number, (key, members) in enumerate(sorted(groups.items()), 1):
        shortest = min(
            members, key=lambda f: len(f.operation.query) + len(str(f.operation.variables))
        )
        roles = ", ".join(sorted({f.role for f in members}))
        parts.append(
            f"\n[{number}] {key}\n"
            f"    seen {len(members)} time(s) as {roles} on {shortest.database}; the shortest:\n"
            f"    role: {shortest.role}\n"
            f"    query: {shortest.operation.query}\n"
            f"    variables: {json.dumps(shortest.operation.variables, ensure_ascii=False)[:1500]}\n"
            f"    response ({shortest.status}): {shortest.response}\n"
            f"    traceback:\n{shortest.traceback or '    (none logged)'}"
        )
    return "\n".join(parts)


def plan(seed: Seed, role: str) -> list[Operation]:
    """Examples of every root field on its own, then of several at once, in an order that
    mixes reads and writes; the same list on every run."""
    schema = graphql_schema()
    assert schema.query_type is not None
    assert schema.mutation_type is not None
    names = sorted([*schema.query_type.fields, *schema.mutation_type.fields])
    count = max(1, EXAMPLES // 2) if role in ("VIEWER", "ANONYMOUS") else EXAMPLES
    planned = [
        op
        for name in names
        for op in draw(operations(seed, [name]), count, zlib.crc32(f"{SEED}{role} {name}".encode()))
    ]
    random.Random(role).shuffle(planned)
    return planned + draw(operations(seed), len(names) // 2, zlib.crc32(f"{SEED}{role}".encode()))


@pytest.mark.parametrize("role", ROLES)
async def test_no_operation_fails_inside_the_server(api: Api, role: str) -> None:
    seeded = await seed(api)
    run = Run(api, role, seeded, api.engine.dialect.name)
    with recording() as recorder:
        for op in plan(seeded, role):
            await run.send(op, recorder)
            if op.is_mutation:
                await run.keep_signed_in(recorder)
    if run.failures:
        pytest.fail(report(run.failures), pytrace=False)

"""Finding cards: filters, text search, sorting and keyset pages, on SQLite and PostgreSQL alike,
and the number of SQL statements a page of cards costs."""

import base64
import functools
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from models.contacts import Contact
from services.ids import decode_id, encode_id
from tests.conftest import Api
from tests.helpers import create_contact, create_field, new_category_id

# --- GraphQL ---------------------------------------------------------------------------------

ERRORS = "userErrors { field message code }"
RELATION_CREATE = f"""mutation($input: CategoryRelationCreateInput!) {{
  categoryRelationCreate(input: $input) {{ relation {{ id }} {ERRORS} }} }}"""
CONTACT_CREATE = f"""mutation($input: ContactCreateInput!) {{
  contactCreate(input: $input) {{ contact {{ id name createdAt updatedAt }} {ERRORS} }} }}"""
CONTACT_UPDATE = f"""mutation($input: ContactUpdateInput!) {{
  contactUpdate(input: $input) {{ contact {{ id updatedAt }} {ERRORS} }} }}"""
CONTACT_DELETE = f"""mutation($input: ContactIdInput!) {{
  contactDelete(input: $input) {{ contact {{ id }} {ERRORS} }} }}"""
CONTACT_LINK = f"""mutation($input: ContactLinkInput!) {{
  contactLink(input: $input) {{ from {{ id }} {ERRORS} }} }}"""

ARGUMENTS = """$categoryId: ID!, $first: Int, $after: String, $last: Int, $before: String,
  $filter: ContactFilter, $search: String, $orderBy: [ContactOrder!]"""
PASS_ARGUMENTS = """first: $first, after: $after, last: $last, before: $before,
  filter: $filter, search: $search, orderBy: $orderBy"""
CONNECTION = """totalCount
  edges { cursor node { id name } }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"""
CONTACTS = f"""query({ARGUMENTS}) {{
  contacts(categoryId: $categoryId, {PASS_ARGUMENTS}) {{ {CONNECTION} }} }}"""
CATEGORY_CONTACTS = f"""query({ARGUMENTS}) {{
  category(id: $categoryId) {{ contacts({PASS_ARGUMENTS}) {{ {CONNECTION} }} }} }}"""
RELATED_CURSOR = """query($id: ID!) { contact(id: $id) {
  related(relation: "owner", first: 1) { edges { cursor } } } }"""


# --- helpers ---------------------------------------------------------------------------------

Filter = dict[str, Any]
Order = list[dict[str, str]]


async def page(api: Api, category_id: str, **arguments: Any) -> dict[str, Any]:
    """One page of `contacts`; it must succeed."""
    data = await api.ok(CONTACTS, {"categoryId": category_id, **arguments})
    connection: dict[str, Any] = data["contacts"]
    return connection


def names_of(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in connection["edges"]]


async def find(api: Api, category_id: str, **arguments: Any) -> list[str]:
    """The names of every card matching, in order (one page holds them all)."""
    connection = await page(api, category_id, first=100, **arguments)
    names = names_of(connection)
    assert connection["totalCount"] == len(names)
    assert not connection["pageInfo"]["hasNextPage"]
    return names


async def refused(api: Api, category_id: str, **arguments: Any) -> dict[str, Any]:
    """The one top-level error of a `contacts` request that must fail."""
    errors = await api.errors(CONTACTS, {"categoryId": category_id, **arguments})
    assert len(errors) == 1, errors
    return errors[0]


def field(key: str, **condition: Any) -> Filter:
    """A filter on one custom field."""
    return {"fields": [{"key": key, **condition}]}


ACME, BETA, GAMMA, DELTA, EPSILON = "Acme AB", "Beta GmbH", "Gamma Oy", "Delta Ltd", "Epsilon Inc"
BY_NAME = [ACME, BETA, DELTA, EPSILON, GAMMA]
OPTIONS = [{"value": "gold"}, {"value": "silver"}, {"value": "bronze"}]
TAGS = [{"value": "a"}, {"value": "b"}, {"value": "c"}]


async def seed_customers(api: Api) -> tuple[str, dict[str, dict[str, Any]]]:
    """Five customers, created in this order (so Acme has the lowest id), with some gaps."""
    category_id = await new_category_id(api)
    await create_field(api, category_id, "size", "INTEGER", indexed=True)
    await create_field(api, category_id, "revenue", "MONEY", currency="EUR")
    await create_field(api, category_id, "since", "DATE", indexed=True)
    await create_field(api, category_id, "active", "BOOLEAN")
    await create_field(api, category_id, "tier", "SELECT", options=OPTIONS, indexed=True)
    await create_field(api, category_id, "tags", "MULTI_SELECT", options=TAGS)
    await create_field(api, category_id, "note", "TEXT")
    rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (
            ACME,
            {"orgNumber": "556001", "email": "info@acme.example"},
            {
                "address": {"city": "Stockholm", "country": "SE"},
                "values": {
                    "size": 50,
                    "revenue": "1250.50",
                    "since": "2020-01-15",
                    "active": True,
                    "tier": "gold",
                    "tags": ["a", "b"],
                    "note": "Long-time partner",
                },
            },
        ),
        (
            BETA,
            {"orgNumber": "DE123", "email": "kontakt@beta.example"},
            {
                "address": {"city": "Berlin", "country": "DE"},
                "values": {
                    "size": 10,
                    "revenue": 99,
                    "since": "2021-06-01",
                    "active": False,
                    "tier": "silver",
                    "tags": ["b"],
                    "note": "Prefers e-mail",
                },
            },
        ),
        (GAMMA, {}, {"address": {"city": "Helsinki", "country": "FI"}}),
        (
            DELTA,
            {"orgNumber": "GB999", "email": "hello@delta.example"},
            {
                "address": {"city": "London", "country": "GB"},
                "values": {
                    "size": 250,
                    "revenue": 100000,
                    "since": "2019-03-10",
                    "active": True,
                    "tier": "bronze",
                    "tags": ["c"],
                    "note": "Key account in London",
                },
            },
        ),
        (
            EPSILON,
            {"orgNumber": "US42", "email": "sales@epsilon.example"},
            {
                "values": {
                    "size": 10,
                    "revenue": 0,
                    "since": "2022-12-31",
                    "active": False,
                    "tier": "gold",
                }
            },
        ),
    ]
    cards = {}
    for name, details, extra in rows:
        cards[name] = await create_contact(
            api,
            category_id,
            name,
            extra.get("values"),
            address=extra.get("address"),
            operation=CONTACT_CREATE,
            **details,
        )
    return category_id, cards


# --- filters ---------------------------------------------------------------------------------

FILTERS = [
    # built-in text fields
    pytest.param({"name": {"eq": ACME}}, [ACME], id="name-eq"),
    pytest.param({"name": {"eq": "acme ab"}}, [], id="name-eq-is-exact"),
    pytest.param({"name": {"neq": ACME}}, [BETA, DELTA, EPSILON, GAMMA], id="name-neq"),
    pytest.param({"name": {"contains": "GMBH"}}, [BETA], id="name-contains-any-case"),
    pytest.param({"name": {"contains": "a o"}}, [GAMMA], id="name-contains-space"),
    pytest.param({"name": {"contains": "%"}}, [], id="name-contains-percent-is-literal"),
    pytest.param({"name": {"startsWith": "de"}}, [DELTA], id="name-startsWith-any-case"),
    pytest.param({"name": {"startsWith": "Ltd"}}, [], id="name-startsWith-not-contains"),
    pytest.param({"name": {"in": [ACME, GAMMA, "Nobody"]}}, [ACME, GAMMA], id="name-in"),
    pytest.param({"name": {"isNull": False}}, BY_NAME, id="name-isNull-false"),
    pytest.param({"orgNumber": {"eq": "DE123"}}, [BETA], id="orgNumber-eq"),
    pytest.param({"orgNumber": {"isNull": True}}, [GAMMA], id="orgNumber-isNull"),
    pytest.param(
        {"orgNumber": {"isNull": False}}, [ACME, BETA, DELTA, EPSILON], id="orgNumber-set"
    ),
    pytest.param({"orgNumber": {"startsWith": "de"}}, [BETA], id="orgNumber-startsWith"),
    pytest.param(
        {"orgNumber": {"neq": "DE123"}},
        [ACME, DELTA, EPSILON, GAMMA],
        id="orgNumber-neq-includes-empty",
    ),
    pytest.param({"email": {"contains": "@DELTA."}}, [DELTA], id="email-contains"),
    pytest.param({"email": {"isNull": True}}, [GAMMA], id="email-isNull"),
    pytest.param({"city": {"eq": "Berlin"}}, [BETA], id="city-eq"),
    pytest.param({"city": {"in": ["Berlin", "London"]}}, [BETA, DELTA], id="city-in"),
    pytest.param({"city": {"isNull": True}}, [EPSILON], id="city-isNull"),
    pytest.param({"country": {"in": ["SE", "FI"]}}, [ACME, GAMMA], id="country-in"),
    pytest.param({"country": {"neq": "SE"}}, [BETA, DELTA, EPSILON, GAMMA], id="country-neq"),
    # INTEGER
    pytest.param(field("size", eq=10), [BETA, EPSILON], id="INTEGER-eq"),
    pytest.param(field("size", neq=10), [ACME, DELTA, GAMMA], id="INTEGER-neq-includes-empty"),
    pytest.param(field("size", **{"in": [50, 250]}), [ACME, DELTA], id="INTEGER-in"),
    pytest.param(field("size", gt=10), [ACME, DELTA], id="INTEGER-gt"),
    pytest.param(field("size", gte=10), [ACME, BETA, DELTA, EPSILON], id="INTEGER-gte"),
    pytest.param(field("size", lt=50), [BETA, EPSILON], id="INTEGER-lt"),
    pytest.param(field("size", lte=50), [ACME, BETA, EPSILON], id="INTEGER-lte"),
    pytest.param(field("size", gt=10, lte=250), [ACME, DELTA], id="INTEGER-range"),
    pytest.param(field("size", gte=100), [DELTA], id="INTEGER-gte-compares-numbers-not-text"),
    pytest.param(field("size", isNull=True), [GAMMA], id="INTEGER-isNull"),
    pytest.param(field("size", isNull=False), [ACME, BETA, DELTA, EPSILON], id="INTEGER-set"),
    # MONEY
    pytest.param(field("revenue", eq=1250.5), [ACME], id="MONEY-eq"),
    pytest.param(field("revenue", eq="1250.50"), [ACME], id="MONEY-eq-string"),
    pytest.param(field("revenue", eq=0), [EPSILON], id="MONEY-eq-zero"),
    pytest.param(field("revenue", gte="1250.50"), [ACME, DELTA], id="MONEY-gte"),
    pytest.param(field("revenue", lt=100), [BETA, EPSILON], id="MONEY-lt"),
    pytest.param(field("revenue", **{"in": [99, "0.00"]}), [BETA, EPSILON], id="MONEY-in"),
    pytest.param(field("revenue", neq=0), [ACME, BETA, DELTA, GAMMA], id="MONEY-neq"),
    pytest.param(field("revenue", isNull=True), [GAMMA], id="MONEY-isNull"),
    # DATE
    pytest.param(field("since", eq="2019-03-10"), [DELTA], id="DATE-eq"),
    pytest.param(field("since", gt="2020-01-15"), [BETA, EPSILON], id="DATE-gt"),
    pytest.param(field("since", lte="2020-01-15"), [ACME, DELTA], id="DATE-lte"),
    pytest.param(field("since", gte="2020-01-01", lt="2022-01-01"), [ACME, BETA], id="DATE-range"),
    pytest.param(
        field("since", **{"in": ["2019-03-10", "2022-12-31"]}), [DELTA, EPSILON], id="DATE-in"
    ),
    pytest.param(field("since", neq="2019-03-10"), [ACME, BETA, EPSILON, GAMMA], id="DATE-neq"),
    pytest.param(field("since", isNull=True), [GAMMA], id="DATE-isNull"),
    # BOOLEAN
    pytest.param(field("active", eq=True), [ACME, DELTA], id="BOOLEAN-true"),
    pytest.param(field("active", eq=False), [BETA, EPSILON], id="BOOLEAN-false"),
    pytest.param(field("active", neq=True), [BETA, EPSILON, GAMMA], id="BOOLEAN-neq"),
    pytest.param(field("active", **{"in": [True]}), [ACME, DELTA], id="BOOLEAN-in"),
    pytest.param(field("active", isNull=True), [GAMMA], id="BOOLEAN-isNull"),
    # SELECT
    pytest.param(field("tier", eq="gold"), [ACME, EPSILON], id="SELECT-eq"),
    pytest.param(field("tier", neq="gold"), [BETA, DELTA, GAMMA], id="SELECT-neq"),
    pytest.param(field("tier", **{"in": ["silver", "bronze"]}), [BETA, DELTA], id="SELECT-in"),
    pytest.param(field("tier", isNull=True), [GAMMA], id="SELECT-isNull"),
    # MULTI_SELECT: eq means "includes the option"
    pytest.param(field("tags", eq="b"), [ACME, BETA], id="MULTI_SELECT-eq-includes"),
    pytest.param(field("tags", eq="a"), [ACME], id="MULTI_SELECT-eq-a"),
    pytest.param(field("tags", **{"in": ["a", "c"]}), [ACME, DELTA], id="MULTI_SELECT-in-any"),
    pytest.param(
        field("tags", neq="b"), [DELTA, EPSILON, GAMMA], id="MULTI_SELECT-neq-includes-empty"
    ),
    pytest.param(field("tags", isNull=True), [EPSILON, GAMMA], id="MULTI_SELECT-isNull"),
    pytest.param(field("tags", isNull=False), [ACME, BETA, DELTA], id="MULTI_SELECT-set"),
    # TEXT
    pytest.param(field("note", eq="Prefers e-mail"), [BETA], id="TEXT-eq"),
    pytest.param(field("note", contains="LONDON"), [DELTA], id="TEXT-contains-any-case"),
    pytest.param(field("note", neq="Prefers e-mail"), [ACME, DELTA, EPSILON, GAMMA], id="TEXT-neq"),
    pytest.param(
        field("note", **{"in": ["Prefers e-mail", "Long-time partner"]}), [ACME, BETA], id="TEXT-in"
    ),
    pytest.param(field("note", isNull=True), [EPSILON, GAMMA], id="TEXT-isNull"),
    # several conditions: all must hold
    pytest.param(
        {"fields": [{"key": "size", "gte": 10}, {"key": "tier", "eq": "gold"}]},
        [ACME, EPSILON],
        id="two-fields",
    ),
    pytest.param(
        {"country": {"in": ["SE", "DE"]}, **field("active", eq=False)},
        [BETA],
        id="built-in-and-custom",
    ),
    # and / or / not
    pytest.param({"or": [{"name": {"eq": ACME}}, field("size", gt=100)]}, [ACME, DELTA], id="or"),
    pytest.param({"and": [field("active", eq=True), field("size", lt=100)]}, [ACME], id="and"),
    pytest.param({"not": field("tier", eq="gold")}, [BETA, DELTA, GAMMA], id="not-custom"),
    pytest.param(
        {"not": {"orgNumber": {"startsWith": "DE"}}},
        [ACME, DELTA, EPSILON, GAMMA],
        id="not-built-in",
    ),
    pytest.param(
        {"not": {"or": [{"name": {"startsWith": "a"}}, {"name": {"startsWith": "b"}}]}},
        [DELTA, EPSILON, GAMMA],
        id="not-or",
    ),
    pytest.param(
        {
            "and": [
                {"or": [{"country": {"eq": "SE"}}, {"country": {"eq": "GB"}}]},
                {"not": field("size", gt=100)},
            ]
        },
        [ACME],
        id="nested",
    ),
]


@pytest.mark.parametrize(("filter_", "expected"), FILTERS)
async def test_filter_finds_exactly_the_matching_cards(
    admin: Api, filter_: Filter, expected: list[str]
) -> None:
    category_id, _ = await seed_customers(admin)
    assert await find(admin, category_id, filter=filter_) == expected


@pytest.mark.parametrize(
    "filter_",
    [
        pytest.param(field("tier", eq="gold"), id="SELECT"),
        pytest.param(field("size", gt=10), id="INTEGER"),
        pytest.param(field("tags", eq="b"), id="MULTI_SELECT"),
        pytest.param(field("note", contains="london"), id="TEXT"),
        pytest.param({"orgNumber": {"startsWith": "DE"}}, id="orgNumber"),
        pytest.param({"city": {"eq": "Berlin"}}, id="city"),
    ],
)
async def test_not_finds_every_card_the_filter_leaves_out(admin: Api, filter_: Filter) -> None:
    """Cards without a value do not match a condition, so `not` includes them."""
    category_id, _ = await seed_customers(admin)
    matching = await find(admin, category_id, filter=filter_)
    others = await find(admin, category_id, filter={"not": filter_})
    assert sorted(matching + others) == BY_NAME


async def test_deleted_cards_are_not_found_by_filters(admin: Api) -> None:
    category_id, cards = await seed_customers(admin)
    await admin.ok(CONTACT_DELETE, {"input": {"id": cards[ACME]["id"]}})
    assert await find(admin, category_id, filter=field("tier", eq="gold")) == [EPSILON]


async def test_filter_on_created_at_range(admin: Api) -> None:
    category_id, cards = await seed_customers(admin)
    second, fourth = cards[BETA]["createdAt"], cards[DELTA]["createdAt"]

    between = {"createdAt": {"gte": second, "lt": fourth}}
    assert await find(admin, category_id, filter=between) == [BETA, GAMMA]
    after = {"createdAt": {"gt": second}}
    assert await find(admin, category_id, filter=after) == [DELTA, EPSILON, GAMMA]
    up_to = {"createdAt": {"lte": second}}
    assert await find(admin, category_id, filter=up_to) == [ACME, BETA]


async def test_filter_on_updated_at(admin: Api) -> None:
    category_id, cards = await seed_customers(admin)
    last_created = cards[EPSILON]["updatedAt"]
    await admin.ok(CONTACT_UPDATE, {"input": {"id": cards[BETA]["id"], "phone": "+49 30 1234"}})

    changed = {"updatedAt": {"gt": last_created}}
    assert await find(admin, category_id, filter=changed) == [BETA]


async def test_created_at_filter_in_another_time_zone_means_the_same_instant(admin: Api) -> None:
    category_id, cards = await seed_customers(admin)
    second = datetime.fromisoformat(cards[BETA]["createdAt"])
    local = second.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert local.endswith("+02:00")

    assert await find(admin, category_id, filter={"createdAt": {"lte": local}}) == [ACME, BETA]


async def test_created_at_filter_without_time_zone_gets_a_clear_error(admin: Api) -> None:
    category_id, _ = await seed_customers(admin)
    error = await refused(admin, category_id, filter={"createdAt": {"gte": "2026-01-01T00:00:00"}})
    assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", error
    assert "time zone" in error["message"], error


async def test_search_and_filter_work_in_category_contacts_too(admin: Api) -> None:
    category_id, _ = await seed_customers(admin)
    data = await admin.ok(
        CATEGORY_CONTACTS,
        {
            "categoryId": category_id,
            "filter": field("tier", **{"in": ["gold", "silver"]}),
            "search": "example",
            "orderBy": [{"key": "size", "direction": "DESC"}],
        },
    )
    connection = data["category"]["contacts"]
    assert names_of(connection) == [ACME, EPSILON, BETA]
    assert connection["totalCount"] == 3


# --- bad filters -----------------------------------------------------------------------------

BAD_FILTERS = [
    pytest.param(
        field("size", gt="abc"),
        "INVALID",
        "filter.fields.0.gt: size: expected an integer, got a string",
        id="INTEGER-gt-string",
    ),
    pytest.param(
        field("size", eq=1.5),
        "INVALID",
        "filter.fields.0.eq: size: expected an integer",
        id="INTEGER-eq-fraction",
    ),
    pytest.param(
        field("since", lt="31/12/2020"),
        "INVALID",
        "filter.fields.0.lt: since: expected a date as YYYY-MM-DD",
        id="DATE-lt-format",
    ),
    pytest.param(
        field("tier", eq="platinum"),
        "INVALID",
        "filter.fields.0.eq: tier: 'platinum' is not one of the options",
        id="SELECT-unknown-option",
    ),
    pytest.param(
        field("active", gt=True),
        "INVALID",
        "filter.fields.0.gt: active cannot be compared with gt",
        id="BOOLEAN-gt",
    ),
    pytest.param(
        field("size", contains="1"),
        "INVALID",
        "filter.fields.0.contains: contains works on text fields",
        id="INTEGER-contains",
    ),
    pytest.param(
        field("tags", gt="a"),
        "INVALID",
        "filter.fields.0.gt: tags is a MULTI_SELECT",
        id="MULTI_SELECT-gt",
    ),
    pytest.param(
        field("tags", eq="z"),
        "INVALID",
        "filter.fields.0.eq: tags: 'z' is not one of the options",
        id="MULTI_SELECT-unknown-option",
    ),
    pytest.param(
        field("colour", eq="red"),
        "UNKNOWN_FIELD",
        "filter.fields.0.key: The category has no field 'colour'",
        id="unknown-key",
    ),
    pytest.param(
        {
            "and": [
                {"name": {"eq": ACME}},
                {"fields": [{"key": "note", "eq": "x"}, {"key": "size", "lte": "ten"}]},
            ]
        },
        "INVALID",
        "filter.and.1.fields.1.lte: size: expected an integer",
        id="nested-path",
    ),
    pytest.param(
        {"not": {"or": [field("nope", isNull=True)]}},
        "UNKNOWN_FIELD",
        "filter.not.or.0.fields.0.key",
        id="nested-unknown-key",
    ),
]


@pytest.mark.parametrize(("filter_", "code", "message"), BAD_FILTERS)
async def test_bad_filter_is_a_top_level_error_naming_the_path(
    admin: Api, filter_: Filter, code: str, message: str
) -> None:
    category_id, _ = await seed_customers(admin)
    error = await refused(admin, category_id, filter=filter_)
    assert error["extensions"]["code"] == code, error
    assert message in error["message"], error
    assert error["path"] == ["contacts"]


# --- search ----------------------------------------------------------------------------------

SEARCHES = [
    pytest.param("acme", [ACME], id="name"),
    pytest.param("ACME ab", [ACME], id="all-words-any-case"),
    pytest.param("ab acme", [ACME], id="words-in-any-order"),
    pytest.param("acme london", [], id="every-word-must-match"),
    pytest.param("de123", [BETA], id="org-number"),
    pytest.param("hello@delta", [DELTA], id="email"),
    pytest.param("partner", [ACME], id="text-value"),
    pytest.param("london key", [DELTA], id="words-from-text-value"),
    pytest.param("acme partner", [ACME], id="name-and-text-value"),
    pytest.param("gold", [ACME, EPSILON], id="select-value"),
    pytest.param("berlin", [], id="city-is-not-searched"),
    pytest.param("100%", [], id="percent-is-literal"),
    pytest.param("   ", BY_NAME, id="blank-finds-everything"),
]


@pytest.mark.parametrize(("search", "expected"), SEARCHES)
async def test_search_finds_cards_with_every_word(
    admin: Api, search: str, expected: list[str]
) -> None:
    category_id, _ = await seed_customers(admin)
    assert await find(admin, category_id, search=search) == expected


async def test_search_combines_with_filter_and_follows_updates(admin: Api) -> None:
    category_id, cards = await seed_customers(admin)
    assert await find(admin, category_id, search="example", filter=field("size", eq=10)) == [
        BETA,
        EPSILON,
    ]

    await admin.ok(
        CONTACT_UPDATE,
        {"input": {"id": cards[BETA]["id"], "values": {"note": "Moved to Munich"}}},
    )
    assert await find(admin, category_id, search="munich") == [BETA]
    assert await find(admin, category_id, search="prefers") == []


# --- sorting ---------------------------------------------------------------------------------

ORDERS = [
    pytest.param([{"field": "NAME"}], BY_NAME, id="name-asc"),
    pytest.param([{"field": "NAME", "direction": "DESC"}], BY_NAME[::-1], id="name-desc"),
    pytest.param(
        [{"field": "CREATED_AT"}], [ACME, BETA, GAMMA, DELTA, EPSILON], id="createdAt-asc"
    ),
    pytest.param(
        [{"field": "CREATED_AT", "direction": "DESC"}],
        [EPSILON, DELTA, GAMMA, BETA, ACME],
        id="createdAt-desc",
    ),
    # NULL first ascending, last descending; ties in creation order (reversed when descending)
    pytest.param([{"key": "size"}], [GAMMA, BETA, EPSILON, ACME, DELTA], id="INTEGER-asc"),
    pytest.param(
        [{"key": "size", "direction": "DESC"}],
        [DELTA, ACME, EPSILON, BETA, GAMMA],
        id="INTEGER-desc",
    ),
    pytest.param([{"key": "revenue"}], [GAMMA, EPSILON, BETA, ACME, DELTA], id="MONEY-asc"),
    pytest.param(
        [{"key": "revenue", "direction": "DESC"}],
        [DELTA, ACME, BETA, EPSILON, GAMMA],
        id="MONEY-desc",
    ),
    pytest.param([{"key": "since"}], [GAMMA, DELTA, ACME, BETA, EPSILON], id="DATE-asc"),
    pytest.param(
        [{"key": "since", "direction": "DESC"}], [EPSILON, BETA, ACME, DELTA, GAMMA], id="DATE-desc"
    ),
    pytest.param([{"key": "active"}], [GAMMA, BETA, EPSILON, ACME, DELTA], id="BOOLEAN-asc"),
    pytest.param([{"key": "tier"}], [GAMMA, DELTA, ACME, EPSILON, BETA], id="SELECT-asc"),
    pytest.param([{"key": "note"}], [GAMMA, EPSILON, DELTA, ACME, BETA], id="TEXT-asc"),
    pytest.param(
        [{"key": "note", "direction": "DESC"}], [BETA, ACME, DELTA, EPSILON, GAMMA], id="TEXT-desc"
    ),
    # several keys with mixed directions
    pytest.param(
        [{"key": "tier"}, {"key": "size", "direction": "DESC"}],
        [GAMMA, DELTA, ACME, EPSILON, BETA],
        id="tier-asc-size-desc",
    ),
    pytest.param(
        [{"key": "active", "direction": "DESC"}, {"field": "NAME"}],
        [ACME, DELTA, BETA, EPSILON, GAMMA],
        id="active-desc-name-asc",
    ),
    pytest.param(
        [{"key": "size"}, {"field": "NAME", "direction": "DESC"}],
        [GAMMA, EPSILON, BETA, ACME, DELTA],
        id="size-asc-name-desc",
    ),
]


@pytest.mark.parametrize(("order_by", "expected"), ORDERS)
async def test_order_by(admin: Api, order_by: Order, expected: list[str]) -> None:
    category_id, _ = await seed_customers(admin)
    assert await find(admin, category_id, orderBy=order_by) == expected


async def test_order_by_updated_at_puts_recently_changed_cards_last(admin: Api) -> None:
    category_id, cards = await seed_customers(admin)
    await admin.ok(CONTACT_UPDATE, {"input": {"id": cards[BETA]["id"], "phone": "+49 30 1"}})
    await admin.ok(CONTACT_UPDATE, {"input": {"id": cards[ACME]["id"], "phone": "+46 8 1"}})

    ascending = await find(admin, category_id, orderBy=[{"field": "UPDATED_AT"}])
    assert ascending == [GAMMA, DELTA, EPSILON, BETA, ACME]
    descending = await find(
        admin, category_id, orderBy=[{"field": "UPDATED_AT", "direction": "DESC"}]
    )
    assert descending == ascending[::-1]


@pytest.mark.parametrize(
    ("order_by", "message"),
    [
        pytest.param(
            [{"key": "colour"}],
            "orderBy.0.key: The category has no field 'colour'",
            id="unknown-key",
        ),
        pytest.param([{"field": "NAME"}, {"key": "tags"}], "orderBy.1", id="MULTI_SELECT"),
        pytest.param(
            [{"field": "NAME", "key": "size"}],
            "orderBy.0: give either field or key",
            id="field-and-key",
        ),
        pytest.param([{"direction": "DESC"}], "orderBy.0: give either field or key", id="neither"),
    ],
)
async def test_bad_order_is_a_top_level_error_naming_it(
    admin: Api, order_by: Order, message: str
) -> None:
    category_id, _ = await seed_customers(admin)
    error = await refused(admin, category_id, orderBy=order_by)
    assert message in error["message"], error


# --- keyset pages ----------------------------------------------------------------------------

SIZES: list[int | None] = [None, 10, 10, 30, None, 20, 10, 0, 30, None, 20, 10]
SIZES += [0, 30, 20, None, 10, 20, 0, 30, 10, None, 20]
TIERS = [None, "gold", "silver", "bronze"]
ACTIVE = [None, True, False]
BASE_TIME = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


async def seed_many(api: Api) -> tuple[str, list[dict[str, Any]]]:
    """23 cards with repeated names, NULLs and ties in every sort key, and created in groups of
    three at the same instant. Returns the cards with their sort values (id order = list order)."""
    category_id = await new_category_id(api)
    await create_field(api, category_id, "size", "INTEGER", indexed=True)
    await create_field(api, category_id, "tier", "SELECT", options=OPTIONS)
    await create_field(api, category_id, "active", "BOOLEAN")
    await create_field(api, category_id, "revenue", "MONEY")
    cards = []
    for i, size in enumerate(SIZES):
        values = {
            "size": size,
            "tier": TIERS[i % 4],
            "active": ACTIVE[i % 3],
            "revenue": None if i % 4 == 0 else f"{(i * 37) % 11 * 12.5:.2f}",
        }
        created = await create_contact(
            api, category_id, f"Card {i % 9:02d}", values, operation=CONTACT_CREATE
        )
        cards.append(
            {
                "id": created["id"],
                "index": i,
                "NAME": created["name"],
                "CREATED_AT": BASE_TIME + timedelta(minutes=i // 3),
                "size": size,
                "tier": TIERS[i % 4],
                "active": ACTIVE[i % 3],
                "revenue": None if i % 4 == 0 else (i * 37) % 11 * 12.5,
            }
        )
    async with api.engine.begin() as connection:
        for card in cards:
            pk = decode_id(card["id"], "Contact")
            await connection.execute(
                update(Contact).where(col(Contact.id) == pk).values(created_at=card["CREATED_AT"])
            )
    return category_id, cards


def expected_order(cards: list[dict[str, Any]], order_by: Order) -> list[str]:
    """The documented order: each key in turn, NULL lowest (first ascending, last descending),
    and ties broken by creation order in the direction of the last key."""
    terms = [(o.get("field") or o["key"], o.get("direction") == "DESC") for o in order_by]
    terms = terms or [("NAME", False)]
    terms.append(("index", terms[-1][1]))

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        for key, descending in terms:
            x, y = a[key], b[key]
            if x == y:
                continue
            result = -1 if x is None else 1 if y is None else -1 if x < y else 1
            return -result if descending else result
        return 0

    return [card["id"] for card in sorted(cards, key=functools.cmp_to_key(compare))]


def ids_of(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def walk_forward(
    api: Api,
    category_id: str,
    size: int,
    query: str = CONTACTS,
    after: str | None = None,
    **arguments: Any,
) -> list[str]:
    """Every card (after `after`), page by page with first/after, checking each pageInfo."""
    seen: list[str] = []
    while True:
        data = await api.ok(
            query, {"categoryId": category_id, "first": size, "after": after, **arguments}
        )
        connection = data["contacts"] if "contacts" in data else data["category"]["contacts"]
        info = connection["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        assert len(connection["edges"]) == size or not info["hasNextPage"]
        assert connection["edges"], "an empty page"
        assert info["startCursor"] == connection["edges"][0]["cursor"]
        assert info["endCursor"] == connection["edges"][-1]["cursor"]
        seen += ids_of(connection)
        if not info["hasNextPage"]:
            return seen
        after = info["endCursor"]
        assert len(seen) < 200, "the pages never end"


async def walk_backward(
    api: Api, category_id: str, size: int, before: str | None = None, **arguments: Any
) -> list[str]:
    """Every card (before `before`), page by page with last/before, in forward order."""
    seen: list[str] = []
    while True:
        connection = await page(api, category_id, last=size, before=before, **arguments)
        info = connection["pageInfo"]
        assert info["hasNextPage"] is (before is not None)
        assert len(connection["edges"]) == size or not info["hasPreviousPage"]
        assert info["startCursor"] == connection["edges"][0]["cursor"]
        seen = ids_of(connection) + seen
        if not info["hasPreviousPage"]:
            return seen
        before = info["startCursor"]
        assert len(seen) < 200, "the pages never end"


PAGED_ORDERS = [
    pytest.param([], id="default-name"),
    pytest.param([{"field": "NAME", "direction": "DESC"}], id="name-desc"),
    pytest.param([{"field": "CREATED_AT"}], id="createdAt-ties"),
    pytest.param([{"field": "CREATED_AT", "direction": "DESC"}], id="createdAt-desc-ties"),
    pytest.param([{"key": "size"}], id="INTEGER-nulls-ties"),
    pytest.param([{"key": "size", "direction": "DESC"}], id="INTEGER-desc-nulls-ties"),
    pytest.param(
        [{"key": "tier"}, {"key": "size", "direction": "DESC"}], id="SELECT-asc-INTEGER-desc"
    ),
    pytest.param([{"key": "active"}], id="BOOLEAN-nulls-ties"),
    pytest.param([{"key": "active", "direction": "DESC"}], id="BOOLEAN-desc-nulls-ties"),
    pytest.param(
        [{"key": "active", "direction": "DESC"}, {"key": "revenue"}, {"field": "NAME"}],
        id="BOOLEAN-desc-MONEY-asc-name",
    ),
    pytest.param(
        [{"key": "size"}, {"field": "CREATED_AT", "direction": "DESC"}],
        id="INTEGER-asc-createdAt-desc",
    ),
    pytest.param(
        [{"key": "revenue", "direction": "DESC"}, {"key": "tier", "direction": "DESC"}],
        id="MONEY-desc-SELECT-desc",
    ),
]


@pytest.mark.parametrize("order_by", PAGED_ORDERS)
async def test_pages_forward_and_backward_give_every_card_once_in_order(
    admin: Api, order_by: Order
) -> None:
    category_id, cards = await seed_many(admin)
    expected = expected_order(cards, order_by)

    one_page = await page(admin, category_id, first=100, orderBy=order_by)
    assert ids_of(one_page) == expected
    assert await walk_forward(admin, category_id, 4, orderBy=order_by) == expected
    assert await walk_forward(admin, category_id, 5, orderBy=order_by) == expected
    assert await walk_backward(admin, category_id, 4, orderBy=order_by) == expected
    assert await walk_backward(admin, category_id, 1, orderBy=order_by) == expected


async def test_pages_of_a_filtered_and_searched_list(admin: Api) -> None:
    category_id, cards = await seed_many(admin)
    order_by = [{"key": "size", "direction": "DESC"}, {"field": "NAME"}]
    wanted_names = ["Card 01", "Card 03", "Card 05"]
    filter_ = {"and": [field("tier", neq="gold"), {"name": {"in": wanted_names}}]}
    chosen = [c for c in cards if c["tier"] != "gold" and c["NAME"] in wanted_names]
    expected = expected_order(chosen, order_by)
    assert len(expected) > 4

    first = await page(admin, category_id, first=2, orderBy=order_by, filter=filter_, search="card")
    assert first["totalCount"] == len(expected)
    walked = await walk_forward(
        admin, category_id, 2, orderBy=order_by, filter=filter_, search="card"
    )
    assert walked == expected


async def test_pages_in_category_contacts(admin: Api) -> None:
    category_id, cards = await seed_many(admin)
    order_by = [{"key": "tier", "direction": "DESC"}, {"key": "size"}]
    walked = await walk_forward(admin, category_id, 3, query=CATEGORY_CONTACTS, orderBy=order_by)
    assert walked == expected_order(cards, order_by)


@pytest.mark.parametrize(
    "order_by",
    [
        pytest.param([{"field": "NAME"}], id="name"),
        pytest.param([{"key": "size"}], id="INTEGER-nulls-first"),
        pytest.param(
            [{"key": "size", "direction": "DESC"}, {"field": "NAME"}], id="INTEGER-desc-nulls-last"
        ),
    ],
)
async def test_pages_stay_stable_when_cards_are_added_and_removed_between_requests(
    admin: Api, order_by: Order
) -> None:
    category_id, cards = await seed_many(admin)
    expected = expected_order(cards, order_by)
    first_page = await page(admin, category_id, first=6, orderBy=order_by)
    assert ids_of(first_page) == expected[:6]

    # Meanwhile, cards without values arrive (before the cursor, except where NULL sorts
    # last), and the last card seen goes away.
    now = datetime.now(UTC)
    for name in ("Aaa new", "Card 00", "Aab new"):
        created = await create_contact(admin, category_id, name, operation=CONTACT_CREATE)
        empty = dict.fromkeys(("size", "tier", "active", "revenue"))
        cards.append(
            {"id": created["id"], "index": len(cards), "NAME": name, "CREATED_AT": now, **empty}
        )
    await admin.ok(CONTACT_DELETE, {"input": {"id": expected[5]}})
    now_ordered = expected_order(cards, order_by)
    still_to_come = now_ordered[now_ordered.index(expected[5]) + 1 :]

    rest = await walk_forward(
        admin, category_id, 6, orderBy=order_by, after=first_page["pageInfo"]["endCursor"]
    )

    assert rest == still_to_come
    assert set(expected[6:]) <= set(rest), "a card was skipped"
    assert not set(expected[:6]) & set(rest), "a card was repeated"


async def test_backward_pages_stay_stable_when_cards_are_added_after_the_cursor(
    admin: Api,
) -> None:
    category_id, cards = await seed_many(admin)
    expected = expected_order(cards, [])

    last_page = await page(admin, category_id, last=5)
    assert ids_of(last_page) == expected[-5:]
    await create_contact(admin, category_id, "Zzz new", operation=CONTACT_CREATE)
    await create_contact(admin, category_id, "Card 99", operation=CONTACT_CREATE)

    earlier = await walk_backward(
        admin, category_id, 5, before=last_page["pageInfo"]["startCursor"]
    )
    assert earlier == expected[:-5]


async def test_total_count_and_page_info(admin: Api) -> None:
    category_id, _ = await seed_customers(admin)

    first = await page(admin, category_id, first=2)
    assert names_of(first) == [ACME, BETA]
    assert first["totalCount"] == 5
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False

    middle = await page(admin, category_id, first=2, after=first["pageInfo"]["endCursor"])
    assert names_of(middle) == [DELTA, EPSILON]
    assert middle["totalCount"] == 5
    assert (middle["pageInfo"]["hasNextPage"], middle["pageInfo"]["hasPreviousPage"]) == (
        True,
        True,
    )

    last = await page(admin, category_id, first=2, after=middle["pageInfo"]["endCursor"])
    assert names_of(last) == [GAMMA]
    assert (last["pageInfo"]["hasNextPage"], last["pageInfo"]["hasPreviousPage"]) == (False, True)

    exact = await page(admin, category_id, first=5)
    assert exact["pageInfo"]["hasNextPage"] is False

    tail = await page(admin, category_id, last=2)
    assert names_of(tail) == [EPSILON, GAMMA]
    assert (tail["pageInfo"]["hasNextPage"], tail["pageInfo"]["hasPreviousPage"]) == (False, True)

    default = await page(admin, category_id)
    assert names_of(default) == BY_NAME

    nothing = await page(admin, category_id, first=3, search="nobody")
    assert nothing == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }


async def test_first_zero_counts_without_returning_cards(admin: Api) -> None:
    category_id, _ = await seed_customers(admin)
    counted = await page(admin, category_id, first=0)
    assert counted["edges"] == []
    assert counted["totalCount"] == 5
    assert counted["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param({"first": 101}, "first must be between 0 and 100, got 101", id="first-101"),
        pytest.param({"last": 101}, "last must be between 0 and 100, got 101", id="last-101"),
        pytest.param({"first": -1}, "first must be between 0 and 100", id="first-negative"),
        pytest.param({"first": 5, "last": 5}, "either first or last", id="first-and-last"),
        pytest.param(
            {"first": 5, "before": "x"}, "first with after, and last with before", id="first-before"
        ),
    ],
)
async def test_bad_page_size_is_an_invalid_page_error(
    admin: Api, arguments: dict[str, Any], message: str
) -> None:
    category_id = await new_category_id(admin)
    error = await refused(admin, category_id, **arguments)
    assert error["extensions"]["code"] == "INVALID_PAGE"
    assert message in error["message"]


async def test_first_100_is_allowed(admin: Api) -> None:
    category_id = await new_category_id(admin)
    assert (await page(admin, category_id, first=100))["edges"] == []


async def test_cursor_from_another_ordering_or_category_is_refused(admin: Api) -> None:
    category_id, _ = await seed_customers(admin)
    by_name = (await page(admin, category_id, first=2))["pageInfo"]["endCursor"]
    by_size = (await page(admin, category_id, first=2, orderBy=[{"key": "size"}]))["pageInfo"][
        "endCursor"
    ]
    suppliers = await new_category_id(admin, "suppliers")
    await create_field(admin, suppliers, "size", "INTEGER")
    await create_contact(admin, suppliers, "Supplier", operation=CONTACT_CREATE)

    cases = [
        {"first": 2, "after": by_name, "orderBy": [{"key": "size"}]},
        {"first": 2, "after": by_name, "orderBy": [{"field": "NAME", "direction": "DESC"}]},
        {"first": 2, "after": by_size, "orderBy": [{"key": "size", "direction": "DESC"}]},
        {"first": 2, "after": by_size, "orderBy": [{"key": "size"}, {"field": "NAME"}]},
        {"last": 2, "before": by_size, "orderBy": [{"field": "CREATED_AT"}]},
    ]
    for arguments in cases:
        error = await refused(admin, category_id, **arguments)
        assert error["extensions"]["code"] == "INVALID_CURSOR", arguments
        assert "another list or ordering" in error["message"]

    error = await refused(admin, suppliers, first=2, after=by_name)
    assert error["extensions"]["code"] == "INVALID_CURSOR"
    error = await refused(admin, suppliers, first=2, after=by_size, orderBy=[{"key": "size"}])
    assert error["extensions"]["code"] == "INVALID_CURSOR"


async def test_cursor_of_related_cards_is_refused_in_contacts(admin: Api) -> None:
    category_id, cards = await seed_customers(admin)
    users = await new_category_id(admin, "people")
    owner = await create_contact(admin, users, "Owner", operation=CONTACT_CREATE)
    await admin.ok(
        RELATION_CREATE,
        {
            "input": {
                "key": "owner",
                "name": "Owner",
                "inverseKey": "owns",
                "inverseName": "Owns",
                "fromCategoryId": category_id,
                "toCategoryId": users,
            }
        },
    )
    await admin.ok(
        CONTACT_LINK,
        {"input": {"relation": "owner", "fromId": cards[ACME]["id"], "toId": owner["id"]}},
    )
    related = await admin.ok(RELATED_CURSOR, {"id": cards[ACME]["id"]})
    cursor = related["contact"]["related"]["edges"][0]["cursor"]

    error = await refused(admin, users, first=2, after=cursor)
    assert error["extensions"]["code"] == "INVALID_CURSOR"


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param("!!!", id="not-base64"),
        pytest.param(base64.urlsafe_b64encode(b"[1, 2]").decode(), id="json-list"),
        pytest.param(base64.urlsafe_b64encode(b'{"f": "x"}').decode(), id="json-without-values"),
        pytest.param(
            base64.urlsafe_b64encode(json.dumps({"f": "abc", "v": ["A", 1]}).encode()).decode(),
            id="made-up",
        ),
        pytest.param("", id="empty"),
    ],
)
async def test_garbage_cursor_is_refused(admin: Api, cursor: str) -> None:
    category_id, _ = await seed_customers(admin)
    error = await refused(admin, category_id, first=2, after=cursor)
    assert error["extensions"]["code"] == "INVALID_CURSOR", error
    error = await refused(admin, category_id, last=2, before=cursor)
    assert error["extensions"]["code"] == "INVALID_CURSOR", error


@pytest.mark.parametrize(
    "category_id",
    [
        pytest.param("nope", id="garbage"),
        pytest.param(encode_id("Contact", 1), id="id-of-a-contact"),
        pytest.param(encode_id("Category", 0), id="zero"),
    ],
)
async def test_malformed_category_id_is_an_invalid_id_error(admin: Api, category_id: str) -> None:
    error = await refused(admin, category_id)
    assert error["extensions"]["code"] == "INVALID_ID"
    assert repr(category_id) in error["message"]


async def test_unknown_category_is_not_found(admin: Api) -> None:
    error = await refused(admin, encode_id("Category", 999))
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "category" in error["message"]


# --- what a page costs -----------------------------------------------------------------------

PAGE_WITH_EVERYTHING = """query($categoryId: ID!, $first: Int) {
  contacts(categoryId: $categoryId, first: $first, orderBy: [{key: "size", direction: DESC}]) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id name orgNumber values createdAt
      persons { id fullName email }
      category { id name }
      createdBy { id name }
      related(relation: "owner", first: 3) { totalCount nodes { id name values } }
    } }
  }
}"""
# The session lookup, the category, its fields, the page, its count, then one statement each
# for the persons, the creators, the relations, the related cards and the related cards' fields.
STATEMENTS_PER_PAGE = 10


async def test_a_page_costs_the_same_statements_whatever_its_size(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "size", "INTEGER", indexed=True)
    await create_field(admin, category_id, "tier", "SELECT", options=OPTIONS)
    people = await new_category_id(admin, "people")
    await create_field(admin, people, "role", "TEXT")
    await admin.ok(
        RELATION_CREATE,
        {
            "input": {
                "key": "owner",
                "name": "Owner",
                "inverseKey": "owns",
                "inverseName": "Owns",
                "fromCategoryId": category_id,
                "toCategoryId": people,
            }
        },
    )
    owners = [
        await create_contact(
            admin, people, f"Owner {i}", {"role": "sales"}, operation=CONTACT_CREATE
        )
        for i in range(3)
    ]
    for i in range(50):
        card = await create_contact(
            admin,
            category_id,
            f"Customer {i:02d}",
            {"size": i, "tier": "gold"},
            persons=[
                {"firstName": "Anna", "email": f"anna{i}@example.com"},
                {"lastName": f"Berg {i}"},
            ],
            operation=CONTACT_CREATE,
        )
        await admin.ok(
            CONTACT_LINK,
            {"input": {"relation": "owner", "fromId": card["id"], "toId": owners[i % 3]["id"]}},
        )

    small = await admin.count_statements(
        PAGE_WITH_EVERYTHING, {"categoryId": category_id, "first": 5}
    )
    statements = list(admin.counter.statements)
    large = await admin.count_statements(
        PAGE_WITH_EVERYTHING, {"categoryId": category_id, "first": 50}
    )

    assert small == large, "the number of statements grows with the page size"
    assert large == STATEMENTS_PER_PAGE, "\n\n".join(statements)

    data = await admin.ok(PAGE_WITH_EVERYTHING, {"categoryId": category_id, "first": 50})
    nodes = [edge["node"] for edge in data["contacts"]["edges"]]
    assert len(nodes) == 50
    assert nodes[0]["name"] == "Customer 49"
    assert all(len(node["persons"]) == 2 for node in nodes)
    assert all(node["category"]["name"] == "Customers" for node in nodes)
    assert all(node["createdBy"]["name"] == "Ada Admin" for node in nodes)
    assert all(node["related"]["totalCount"] == 1 for node in nodes)
    assert nodes[0]["related"]["nodes"] == [
        {"id": owners[49 % 3]["id"], "name": "Owner 1", "values": {"role": "sales"}}
    ]

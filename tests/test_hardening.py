"""Hostile or careless input gets a clear, cheap refusal, never a stuck server or a 500."""

import asyncio
import base64
import json
import time
from typing import Any

from sqlalchemy import text

from tests.conftest import SIGN_UP, Api
from tests.helpers import (
    CONTACT_LINK,
    FIELD_CREATE,
    RELATION_CREATE,
    contact_values,
    create_category,
    create_contact,
    create_field,
)

LIST = """query($c: ID!, $f: ContactFilter, $o: [ContactOrder!], $after: String) {
  contacts(categoryId: $c, first: 10, filter: $f, orderBy: $o, after: $after) {
    nodes { name } pageInfo { endCursor } } }"""
API_KEY_CREATE = """mutation($input: ApiKeyCreateInput!) { apiKeyCreate(input: $input) {
  token apiKey { id } userErrors { field message code } } }"""


async def test_a_huge_malformed_email_is_refused_quickly(api: Api) -> None:
    started = time.perf_counter()
    body = await api.post(
        SIGN_UP,
        {"input": {"email": "a@" + "." * 50_000 + "@", "password": "long enough pw", "name": "A"}},
    )
    assert time.perf_counter() - started < 2
    (error,) = body["data"]["signUp"]["userErrors"]
    assert error["field"] == ["email"]
    assert "is not an e-mail address" in error["message"]
    assert len(error["message"]) < 200


async def test_nested_lists_count_towards_the_cost_limit(admin: Api) -> None:
    query = "{ categories { fields { category { fields { category { fields { category { fields { id } } } } } } } } }"
    errors = await admin.errors(query)
    assert errors[0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_nodes_takes_at_most_100_ids_and_batches_them(admin: Api) -> None:
    category = await create_category(admin, "customers")
    ids = [(await create_contact(admin, category["id"], f"C{i}"))["id"] for i in range(3)]
    errors = await admin.errors(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids * 34}
    )
    assert errors[0]["extensions"]["code"] == "TOO_MANY_IDS"
    statements = await admin.count_statements(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids}
    )
    assert statements == 2  # who is asking, then the three cards at once


async def test_an_in_list_longer_than_100_is_refused(admin: Api) -> None:
    category = await create_category(admin, "customers")
    errors = await admin.errors(
        LIST, {"c": category["id"], "f": {"name": {"in": [f"n{i}" for i in range(101)]}}}
    )
    assert "filter.name.in" in errors[0]["message"]
    assert "at most 100 values" in errors[0]["message"]


async def test_keys_with_a_trailing_newline_are_refused(admin: Api) -> None:
    errors = await admin.user_errors(
        "mutation($i: CategoryCreateInput!) { categoryCreate(input: $i) { category { id } userErrors { field message code } } }",
        {"i": {"key": "customers\n", "name": "Customers"}},
    )
    assert errors[0]["field"] == ["key"]


async def test_an_api_key_cannot_create_another(admin: Api) -> None:
    key = (await admin.ok(API_KEY_CREATE, {"input": {"name": "import"}}))["apiKeyCreate"]["token"]
    errors = await admin.errors(API_KEY_CREATE, {"input": {"name": "forever"}}, token=key)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_expiry_without_time_zone_is_refused(admin: Api) -> None:
    errors = await admin.user_errors(
        API_KEY_CREATE, {"input": {"name": "x", "expiresAt": "2030-01-01T00:00:00"}}
    )
    assert errors[0]["field"] == ["expiresAt"]
    assert "time zone" in errors[0]["message"]


async def test_a_same_key_in_two_categories_may_hold_different_types(admin: Api) -> None:
    """On PostgreSQL a numeric index, its statistics and ANALYZE must not trip over text
    stored under the same key in another category."""
    shop = await create_category(admin, "shops")
    await create_field(admin, shop["id"], "size", "TEXT")
    await create_contact(admin, shop["id"], "Big shop", {"size": "big"})
    plant = await create_category(admin, "plants")
    await create_field(admin, plant["id"], "size", "INTEGER", indexed=True)
    await create_contact(admin, plant["id"], "Plant", {"size": 7})
    found = await admin.ok(LIST, {"c": plant["id"], "f": {"fields": [{"key": "size", "gt": 5}]}})
    assert found["contacts"]["nodes"] == [{"name": "Plant"}]


async def test_date_times_far_in_the_past_sort_in_time_order(admin: Api) -> None:
    category = await create_category(admin, "archive")
    await create_field(admin, category["id"], "founded", "DATETIME", indexed=True)
    await create_contact(admin, category["id"], "Old", {"founded": "0999-05-01T00:00:00Z"})
    await create_contact(admin, category["id"], "New", {"founded": "2020-05-01T00:00:00Z"})
    found = await admin.ok(LIST, {"c": category["id"], "o": [{"key": "founded"}]})
    assert [n["name"] for n in found["contacts"]["nodes"]] == ["Old", "New"]
    out_of_range = await admin.user_errors(
        "mutation($i: ContactCreateInput!) { contactCreate(input: $i) { contact { id } userErrors { field message code } } }",
        {
            "i": {
                "categoryId": category["id"],
                "name": "X",
                "values": {"founded": "0001-01-01T00:00:00+01:00"},
            }
        },
    )
    assert out_of_range[0]["field"] == ["values", "founded"]


async def test_filters_ask_questions_beyond_the_rules_for_written_values(admin: Api) -> None:
    category = await create_category(admin, "customers")
    await create_field(admin, category["id"], "score", "INTEGER", validation={"min": 1, "max": 100})
    await create_field(admin, category["id"], "mail", "EMAIL")
    await create_contact(admin, category["id"], "A", {"score": 50, "mail": "a@example.com"})
    for condition in (
        {"key": "score", "lt": 1000},
        {"key": "score", "gte": 0},
        {"key": "mail", "gte": "a"},
    ):
        found = await admin.ok(LIST, {"c": category["id"], "f": {"fields": [condition]}})
        assert found["contacts"]["nodes"] == [{"name": "A"}], condition


async def test_archived_fields_cannot_be_filtered_or_sorted(admin: Api) -> None:
    category = await create_category(admin, "customers")
    secret = await create_field(admin, category["id"], "secret", "TEXT")
    await admin.ok(
        "mutation($i: FieldDefinitionIdInput!) { fieldDefinitionArchive(input: $i) { userErrors { message } } }",
        {"i": {"id": secret["id"]}},
    )
    errors = await admin.errors(
        LIST, {"c": category["id"], "f": {"fields": [{"key": "secret", "eq": "x"}]}}
    )
    assert "no field 'secret'" in errors[0]["message"]


async def test_a_forged_cursor_value_is_refused(admin: Api) -> None:
    category = await create_category(admin, "customers")
    await create_field(admin, category["id"], "score", "INTEGER", indexed=True)
    for i in range(3):
        await create_contact(admin, category["id"], f"C{i}", {"score": i})
    order = [{"key": "score"}]
    page = await admin.ok(LIST, {"c": category["id"], "o": order})
    cursor = page["contacts"]["pageInfo"]["endCursor"]
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    data["v"][0] = "not a number"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    errors = await admin.errors(LIST, {"c": category["id"], "o": order, "after": forged})
    assert errors[0]["extensions"]["code"] == "INVALID_CURSOR"


async def test_an_id_beyond_any_row_is_invalid(admin: Api) -> None:
    huge = base64.urlsafe_b64encode(b"Contact:99999999999").decode().rstrip("=")
    errors = await admin.errors("query($id: ID!) { contact(id: $id) { id } }", {"id": huge})
    assert errors[0]["extensions"]["code"] == "INVALID_ID"


async def test_the_same_sort_key_twice_is_refused(admin: Api) -> None:
    category = await create_category(admin, "customers")
    errors = await admin.errors(
        LIST, {"c": category["id"], "o": [{"field": "NAME"}, {"field": "NAME"}]}
    )
    assert "twice" in errors[0]["message"]


async def test_values_that_are_not_an_object_are_refused_on_update(admin: Api) -> None:
    category = await create_category(admin, "customers")
    card = await create_contact(admin, category["id"], "A")
    errors = await admin.user_errors(
        "mutation($i: ContactUpdateInput!) { contactUpdate(input: $i) { contact { id } userErrors { field message code } } }",
        {"i": {"id": card["id"], "values": []}},
    )
    assert errors[0]["field"] == ["values"]
    assert await contact_values(admin, card["id"]) == {}


async def test_old_sign_in_failures_are_forgotten(api: Api) -> None:
    await api.sign_up_admin()
    sign_in = """mutation($i: SessionCreateInput!) { sessionCreate(input: $i) { token userErrors { code } } }"""
    await api.post(sign_in, {"i": {"email": "ghost@example.com", "password": "wrong"}})
    async with api.engine.begin() as connection:
        await connection.execute(
            text("UPDATE login_throttle SET updated_at = '2000-01-01 00:00:00'")
        )
    await api.post(sign_in, {"i": {"email": "other@example.com", "password": "wrong"}})
    async with api.engine.connect() as connection:
        emails = (
            await connection.execute(text("SELECT DISTINCT email FROM login_throttle"))
        ).scalars()
        assert sorted(emails) == ["", "other@example.com"]


async def test_a_field_with_the_same_key_created_twice_at_once_is_one_duplicate(admin: Api) -> None:
    category = await create_category(admin, "customers")
    field_input = {"categoryId": category["id"], "key": "size", "label": "Size", "type": "TEXT"}
    results = await asyncio.gather(
        *(admin.post(FIELD_CREATE, {"input": field_input}, admin.admin_token) for _ in range(3))
    )
    payloads = [r["data"]["fieldDefinitionCreate"] for r in results]
    assert sum(1 for p in payloads if p["fieldDefinition"]) == 1
    codes = sorted(p["userErrors"][0]["code"] for p in payloads if p["userErrors"])
    assert set(codes) <= {"DUPLICATE", "CONFLICT"}
    assert len(codes) == 2


async def test_an_api_key_expiring_at_the_end_of_the_calendar_is_refused_clearly(
    admin: Api,
) -> None:
    errors = await admin.user_errors(
        API_KEY_CREATE, {"input": {"name": "x", "expiresAt": "9999-12-31T23:59:59-12:00"}}
    )
    assert errors[0]["field"] == ["expiresAt"]
    assert "out of range" in errors[0]["message"]


async def test_a_not_over_an_empty_condition_agrees_on_both_databases(admin: Api) -> None:
    category = await create_category(admin, "customers")
    await create_contact(admin, category["id"], "Acme")
    count = """query($c: ID!, $f: ContactFilter) { contacts(categoryId: $c, filter: $f) {
      totalCount } }"""
    empties: list[dict[str, Any]] = [{}, {"name": {}}, {"orgNumber": {"eq": None}}, {"fields": []}]
    for empty in empties:
        # An empty condition holds for every card, so its negation for none.
        matched = await admin.ok(count, {"c": category["id"], "f": empty})
        assert matched["contacts"]["totalCount"] == 1, empty
        negated = await admin.ok(count, {"c": category["id"], "f": {"not": empty}})
        assert negated["contacts"]["totalCount"] == 0, empty


SIBLINGS = """mutation($id: ID!) {
  first: contactUpdate(input: {id: $id}) { contact { related(relation: "clients", first: 9) {
    nodes { persons { firstName } related(relation: "parent", first: 101) { totalCount } } } } }
  again: contactUpdate(input: {id: $id, name: "Again"}) { contact { name } } }"""


async def test_a_failing_field_leaves_the_session_usable_for_what_follows(admin: Api) -> None:
    """A client error in one field cancels its siblings while they use the database; the next
    mutation of the request, and the next request, still work."""
    customers = await create_category(admin, "customers")
    suppliers = await create_category(admin, "suppliers")
    await admin.ok(
        RELATION_CREATE,
        {
            "input": {
                "key": "clients",
                "name": "Clients",
                "inverseKey": "parent",
                "inverseName": "Parent",
                "fromCategoryId": suppliers["id"],
                "toCategoryId": customers["id"],
                "cardinality": "ONE_TO_MANY",
            }
        },
    )
    supplier = await create_contact(admin, suppliers["id"], "Parts & Co")
    for i in range(3):
        client = await create_contact(
            admin, customers["id"], f"Client {i}", persons=[{"firstName": f"P{i}"}]
        )
        await admin.ok(
            CONTACT_LINK,
            {"input": {"relation": "clients", "fromId": supplier["id"], "toId": client["id"]}},
        )
    for _ in range(3):
        body = await admin.post(SIBLINGS, {"id": supplier["id"]}, admin.admin_token)
        codes = [e["extensions"]["code"] for e in body["errors"]]
        assert set(codes) == {"INVALID_PAGE"}, body
        assert body["data"]["again"]["contact"]["name"] == "Again"
        listing = "{ categories { fields { key } contacts(first: 101) { totalCount } } }"
        assert (await admin.errors(listing))[0]["extensions"]["code"] == "INVALID_PAGE"
        assert (await admin.ok("{ me { email } }"))["me"]["email"] == "ada@example.com"


SHARED_LOADS = """query($id: ID!) {
  one: contact(id: $id) { a: related(relation: "clients") { totalCount } }
  other: contact(id: $id) {
    b: related(relation: "clients") { totalCount }
    bad: related(relation: "clients", first: 101) { totalCount } } }"""


async def test_a_field_cancelled_by_its_sibling_leaves_shared_loads_to_the_others(
    admin: Api,
) -> None:
    """Two fields wait for the same batched load; one is cancelled because its sibling failed.
    The other still gets its answer."""
    suppliers = await create_category(admin, "suppliers")
    customers = await create_category(admin, "customers")
    await admin.ok(
        RELATION_CREATE,
        {
            "input": {
                "key": "clients",
                "name": "Clients",
                "inverseKey": "vendor",
                "inverseName": "Vendor",
                "fromCategoryId": suppliers["id"],
                "toCategoryId": customers["id"],
            }
        },
    )
    supplier = await create_contact(admin, suppliers["id"], "Parts & Co")
    client = await create_contact(admin, customers["id"], "Client")
    await admin.ok(
        CONTACT_LINK,
        {"input": {"relation": "clients", "fromId": supplier["id"], "toId": client["id"]}},
    )
    for _ in range(3):
        body = await admin.post(SHARED_LOADS, {"id": supplier["id"]}, admin.admin_token)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_PAGE"]
        assert body["data"] == {"one": {"a": {"totalCount": 1}}, "other": None}

"""Statistics an admin defines on a category: saved with their settings and order, checked
against the category's fields and relations, and kept valid while the category changes."""

import asyncio
from typing import Any

import pytest

from tests.conftest import Api
from tests.helpers import (
    FIELD_ARCHIVE,
    FIELD_UPDATE,
    RELATION_CREATE,
    RELATION_DELETE,
    create_category,
    create_field,
    mutation,
)

STATISTIC_FIELDS = "id name kind fieldKey groupBy bucket bucketOn filter position category { key }"
CREATE = mutation("statisticCreate", "StatisticCreateInput", f"statistic {{ {STATISTIC_FIELDS} }}")
UPDATE = mutation("statisticUpdate", "StatisticUpdateInput", f"statistic {{ {STATISTIC_FIELDS} }}")
DELETE = mutation("statisticDelete", "StatisticDeleteInput", "deletedId")
REORDER = mutation("statisticReorder", "StatisticReorderInput", "statistics { name position }")
STATISTICS = """query($id: ID!) { node(id: $id) { ... on Category {
  statistics { name kind fieldKey groupBy bucket bucketOn filter } } } }"""
OPTIONS = [{"value": "it", "label": "IT"}, {"value": "retail", "label": "Retail"}]


async def customers(admin: Api) -> str:
    """Customers with an industry (SELECT), a revenue (MONEY), a contract end (DATE), a
    note (LONG_TEXT) and subsidiaries (a relation to itself)."""
    category_id: str = (await create_category(admin, "customers"))["id"]
    await create_field(admin, category_id, "industry", "SELECT", options=OPTIONS)
    await create_field(admin, category_id, "revenue", "MONEY", currency="NOK")
    await create_field(admin, category_id, "contract_end", "DATE")
    await create_field(admin, category_id, "remarks", "LONG_TEXT")
    relation = {
        "key": "subsidiaries",
        "name": "Subsidiaries",
        "inverseKey": "parent",
        "inverseName": "Parent",
        "fromCategoryId": category_id,
        "toCategoryId": category_id,
        "cardinality": "ONE_TO_MANY",
    }
    await admin.ok(RELATION_CREATE, {"input": relation})
    return category_id


async def define(admin: Api, category_id: str, **settings: Any) -> dict[str, Any]:
    data = await admin.ok(CREATE, {"input": {"categoryId": category_id, **settings}})
    statistic: dict[str, Any] = data["statisticCreate"]["statistic"]
    return statistic


async def statistics_of(api: Api, category_id: str, token: str | None = None) -> list[Any]:
    found: list[Any] = (await api.ok(STATISTICS, {"id": category_id}, token))["node"]["statistics"]
    return found


async def test_an_admin_defines_statistics_that_everyone_reads(admin: Api) -> None:
    category_id = await customers(admin)
    per_industry = await define(
        admin, category_id, name="Customers per industry", kind="COUNT", groupBy="industry"
    )
    assert per_industry["category"] == {"key": "customers"}
    assert per_industry["position"] == 0
    revenue = await define(
        admin,
        category_id,
        name="Revenue per country, IT only",
        kind="SUM",
        fieldKey="revenue",
        groupBy="country",
        filter={
            "fields": [{"key": "industry", "eq": "it"}],
            "createdAt": {"gte": "2026-01-01T00:00:00+00:00"},
        },
    )
    assert revenue["position"] == 1
    await define(
        admin,
        category_id,
        name="Contracts ending per quarter",
        kind="COUNT_NOT_EMPTY",
        fieldKey="contract_end",
        bucket="QUARTER",
        bucketOn="contract_end",
    )
    await define(admin, category_id, name="New per month", kind="COUNT", bucket="MONTH")
    await define(admin, category_id, name="Subsidiaries per parent", kind="COUNT", groupBy="parent")
    viewer = await admin.add_user("vic@example.com", "VIEWER")
    listed = await statistics_of(admin, category_id, viewer)
    assert [s["name"] for s in listed] == [
        "Customers per industry",
        "Revenue per country, IT only",
        "Contracts ending per quarter",
        "New per month",
        "Subsidiaries per parent",
    ]
    assert listed[1] == {
        "name": "Revenue per country, IT only",
        "kind": "SUM",
        "fieldKey": "revenue",
        "groupBy": "country",
        "bucket": None,
        "bucketOn": None,
        # The filter as the API spells it.
        "filter": {
            "createdAt": {"gte": "2026-01-01T00:00:00+00:00"},
            "fields": [{"key": "industry", "eq": "it"}],
        },
    }
    # A period on the creation time when no date is named.
    assert (listed[3]["bucket"], listed[3]["bucketOn"]) == ("MONTH", "createdAt")
    node = "query($id: ID!) { node(id: $id) { ... on Statistic { name } } }"
    assert (await admin.ok(node, {"id": revenue["id"]}, viewer))["node"] == {
        "name": "Revenue per country, IT only"
    }


async def test_statistics_are_renamed_changed_reordered_and_deleted(admin: Api) -> None:
    category_id = await customers(admin)
    first = await define(admin, category_id, name="Per industry", kind="COUNT", groupBy="industry")
    second = await define(
        admin, category_id, name="Average revenue", kind="AVG", fieldKey="revenue"
    )
    changed = await admin.ok(
        UPDATE,
        {"input": {"id": first["id"], "name": "All customers", "groupBy": None, "bucket": "YEAR"}},
    )
    assert changed["statisticUpdate"]["statistic"] | {"id": None, "category": None} == {
        "id": None,
        "category": None,
        "name": "All customers",
        "kind": "COUNT",
        "fieldKey": None,
        "groupBy": None,
        "bucket": "YEAR",
        "bucketOn": "createdAt",
        "filter": None,
        "position": 0,
    }
    reordered = await admin.ok(
        REORDER, {"input": {"categoryId": category_id, "statisticIds": [second["id"], first["id"]]}}
    )
    assert reordered["statisticReorder"]["statistics"] == [
        {"name": "Average revenue", "position": 0},
        {"name": "All customers", "position": 1},
    ]
    # Clearing the bucket clears the date it was on, which it had by default.
    cleared = await admin.ok(UPDATE, {"input": {"id": first["id"], "bucket": None}})
    assert cleared["statisticUpdate"]["statistic"]["bucketOn"] is None
    deleted = await admin.ok(DELETE, {"input": {"id": second["id"]}})
    assert deleted["statisticDelete"]["deletedId"] == second["id"]
    assert [s["name"] for s in await statistics_of(admin, category_id)] == ["All customers"]


BAD_DEFINITIONS: list[tuple[dict[str, Any], list[str], str, str]] = [
    (
        {"kind": "SUM", "fieldKey": "remarks"},
        ["fieldKey"],
        "INVALID",
        "SUM does not work on remarks (LONG_TEXT)",
    ),
    ({"kind": "AVG"}, ["fieldKey"], "REQUIRED", "AVG needs the field it is over"),
    (
        {"kind": "COUNT", "fieldKey": "revenue"},
        ["fieldKey"],
        "INVALID",
        "COUNT counts cards and takes no field",
    ),
    (
        {"kind": "MAX", "fieldKey": "nothing"},
        ["fieldKey"],
        "UNKNOWN_FIELD",
        "The category has no 'nothing'",
    ),
    (
        {"kind": "SUM", "fieldKey": "subsidiaries"},
        ["fieldKey"],
        "INVALID",
        "SUM does not work on subsidiaries (a relation)",
    ),
    ({"kind": "COUNT", "groupBy": "revenue"}, ["groupBy"], "INVALID", "revenue is MONEY"),
    ({"kind": "COUNT", "groupBy": "name"}, ["groupBy"], "INVALID", "name is TEXT"),
    (
        {"kind": "COUNT", "bucket": "WEEK", "bucketOn": "revenue"},
        ["bucketOn"],
        "INVALID",
        "revenue is MONEY",
    ),
    (
        {"kind": "COUNT", "bucketOn": "contract_end"},
        ["bucket"],
        "REQUIRED",
        "bucketOn needs a bucket",
    ),
    (
        {"kind": "COUNT", "filter": {"fields": [{"key": "colour", "eq": "red"}]}},
        ["filter", "fields", "0", "key"],
        "UNKNOWN_FIELD",
        "no field 'colour'",
    ),
    (
        {"kind": "COUNT", "filter": {"fields": [{"key": "revenue", "gt": "lots"}]}},
        ["filter", "fields", "0", "gt"],
        "INVALID",
        "revenue",
    ),
    ({"kind": "COUNT", "name": "  "}, ["name"], "REQUIRED", "A statistic needs a name"),
    ({"kind": "COUNT", "name": "x" * 201}, ["name"], "INVALID", "at most 200 characters"),
]


@pytest.mark.parametrize(("settings", "field", "code", "message"), BAD_DEFINITIONS)
async def test_bad_definitions_are_refused_naming_the_setting(
    admin: Api, settings: dict[str, Any], field: list[str], code: str, message: str
) -> None:
    category_id = await customers(admin)
    kept = await define(admin, category_id, name="Kept", kind="COUNT")
    sent = {"categoryId": category_id, "name": "Bad", **settings}
    (error,) = await admin.user_errors(CREATE, {"input": sent})
    assert (error["field"], error["code"]) == (field, code), error
    assert message in error["message"]
    # Nothing half-written: neither a new statistic nor a changed one.
    changes = {key: value for key, value in settings.items() if key != "kind"}
    if changes:
        update = {"id": kept["id"], "kind": settings["kind"], **changes}
        (error,) = await admin.user_errors(UPDATE, {"input": update})
        assert (error["field"], error["code"]) == (field, code), error
    assert [s["name"] for s in await statistics_of(admin, category_id)] == ["Kept"]
    assert (await statistics_of(admin, category_id))[0]["kind"] == "COUNT"


async def test_only_admins_define_statistics_and_orders_list_them_all(admin: Api) -> None:
    category_id = await customers(admin)
    member = await admin.add_user("max@example.com", "MEMBER")
    errors = await admin.errors(
        CREATE, {"input": {"categoryId": category_id, "name": "Mine", "kind": "COUNT"}}, member
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    first = await define(admin, category_id, name="One", kind="COUNT")
    await define(admin, category_id, name="Two", kind="COUNT")
    (error,) = await admin.user_errors(
        REORDER, {"input": {"categoryId": category_id, "statisticIds": [first["id"]]}}
    )
    assert error["field"] == ["statisticIds"]
    assert [s["name"] for s in await statistics_of(admin, category_id)] == ["One", "Two"]


async def test_a_field_a_statistic_uses_is_not_archived_or_retyped_from_under_it(
    admin: Api,
) -> None:
    category_id = await customers(admin)
    fields = "query($id: ID!) { node(id: $id) { ... on Category { fields { id key type } } } }"
    by_key = {f["key"]: f for f in (await admin.ok(fields, {"id": category_id}))["node"]["fields"]}
    await define(admin, category_id, name="Revenue", kind="SUM", fieldKey="revenue")
    await define(
        admin,
        category_id,
        name="Late contracts",
        kind="COUNT",
        filter={"fields": [{"key": "contract_end", "lt": "2026-01-01"}]},
    )
    (error,) = await admin.user_errors(FIELD_ARCHIVE, {"input": {"id": by_key["revenue"]["id"]}})
    assert error["code"] == "IN_USE"
    assert error["message"].startswith("The statistic “Revenue” would no longer hold")
    assert "archiving revenue" in error["message"]
    # A field used only in a statistic's filter is held the same way.
    (error,) = await admin.user_errors(
        FIELD_ARCHIVE, {"input": {"id": by_key["contract_end"]["id"]}}
    )
    assert "“Late contracts”" in error["message"]
    retype = {"id": by_key["revenue"]["id"], "type": "TEXT"}
    (error,) = await admin.user_errors(FIELD_UPDATE, {"input": retype})
    assert "“Revenue”" in error["message"]
    after = (await admin.ok(fields, {"id": category_id}))["node"]["fields"]
    assert {f["key"]: f["type"] for f in after}["revenue"] == "MONEY"
    # A change that keeps the statistic valid goes through.
    await admin.ok(FIELD_UPDATE, {"input": {"id": by_key["revenue"]["id"], "type": "NUMBER"}})
    # Once the statistic is gone, so is the hold.
    (revenue,) = [s for s in await statistics_ids(admin, category_id) if s["name"] == "Revenue"]
    await admin.ok(DELETE, {"input": {"id": revenue["id"]}})
    await admin.ok(FIELD_ARCHIVE, {"input": {"id": by_key["revenue"]["id"]}})


async def statistics_ids(admin: Api, category_id: str) -> list[dict[str, Any]]:
    query = "query($id: ID!) { node(id: $id) { ... on Category { statistics { id name } } } }"
    found: list[dict[str, Any]] = (await admin.ok(query, {"id": category_id}))["node"]["statistics"]
    return found


async def test_a_relation_a_statistic_groups_by_is_not_deleted_from_under_it(admin: Api) -> None:
    category_id = await customers(admin)
    await define(admin, category_id, name="Per parent", kind="COUNT", groupBy="parent")
    relations = "query($id: ID!) { node(id: $id) { ... on Category { relations { id } } } }"
    (relation,) = (await admin.ok(relations, {"id": category_id}))["node"]["relations"]
    (error,) = await admin.user_errors(RELATION_DELETE, {"input": {"id": relation["id"]}})
    assert error["code"] == "IN_USE"
    assert "“Per parent”" in error["message"]
    assert (await admin.ok(relations, {"id": category_id}))["node"]["relations"] == [relation]


async def test_a_built_in_stays_built_in_when_a_field_takes_its_name(admin: Api) -> None:
    """A statistic over the card's own country keeps meaning the card's own country after a
    custom field called country appears: archiving that field does not touch it."""
    category_id = await customers(admin)
    await define(admin, category_id, name="Per country", kind="COUNT", groupBy="country")
    field = await create_field(admin, category_id, "country", "SELECT", options=OPTIONS)
    await admin.ok(FIELD_ARCHIVE, {"input": {"id": field["id"]}})
    assert (await statistics_of(admin, category_id))[0]["groupBy"] == "country"


async def test_listing_statistics_costs_the_same_for_any_number_of_categories(
    admin: Api,
) -> None:
    query = "{ categories { key statistics { name category { key } } } }"
    first = await customers(admin)
    await define(admin, first, name="All", kind="COUNT")
    few = await admin.count_statements(query)
    for key in ("suppliers", "members", "partners"):
        category_id = (await create_category(admin, key))["id"]
        await define(admin, category_id, name="All", kind="COUNT")
        await define(admin, category_id, name="Per country", kind="COUNT", groupBy="country")
    assert await admin.count_statements(query) == few


async def test_a_statistic_and_the_archiving_of_its_field_never_both_land(admin: Api) -> None:
    """Defined while its field is being archived: one of the two wins, never both."""
    category_id = await customers(admin)
    for attempt in range(12):
        field = await create_field(admin, category_id, f"score_{attempt}", "NUMBER")
        statistic = {
            "categoryId": category_id,
            "name": f"Score {attempt}",
            "kind": "SUM",
            "fieldKey": f"score_{attempt}",
        }
        defined, archived = await asyncio.gather(
            admin.post(CREATE, {"input": statistic}, admin.admin_token),
            admin.post(FIELD_ARCHIVE, {"input": {"id": field["id"]}}, admin.admin_token),
        )
        assert "errors" not in defined, defined
        assert "errors" not in archived, archived
        landed = [
            body["data"][name]["userErrors"] == []
            for body, name in ((defined, "statisticCreate"), (archived, "fieldDefinitionArchive"))
        ]
        assert landed.count(True) == 1, (defined, archived)

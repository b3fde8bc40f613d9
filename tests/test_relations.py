"""Relations between categories, and the links between cards made through them."""

from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import Api
from tests.helpers import (
    CONTACT_DELETE,
    CONTACT_LINK,
    CONTACT_RESTORE,
    CONTACT_UNLINK,
    RELATION_CREATE,
    RELATION_DELETE,
    count_rows,
    create_category,
    create_contact,
)

RELATED = """query($id: ID!, $relation: String!, $first: Int, $after: String) {
  contact(id: $id) { related(relation: $relation, first: $first, after: $after) {
    totalCount nodes { name } pageInfo { hasNextPage hasPreviousPage endCursor } } } }"""
CATEGORY_RELATIONS = "query($id: ID!) { category(id: $id) { relations { key inverseKey } } }"
RELATED_OF_EVERY_COMPANY = """query($categoryId: ID!) {
  contacts(categoryId: $categoryId, first: 50) { nodes { name
    related(relation: "subsidiaries", first: 5) { totalCount nodes { name } } } } }"""


async def create_relation(
    api: Api,
    key: str,
    inverse_key: str,
    from_id: str,
    to_id: str,
    cardinality: str = "MANY_TO_MANY",
) -> dict[str, Any]:
    data = await api.ok(
        RELATION_CREATE, {"input": relation_input(key, inverse_key, from_id, to_id, cardinality)}
    )
    relation: dict[str, Any] = data["categoryRelationCreate"]["relation"]
    return relation


def relation_input(
    key: str, inverse_key: str, from_id: str, to_id: str, cardinality: str = "MANY_TO_MANY"
) -> dict[str, Any]:
    return {
        "key": key,
        "name": key.capitalize(),
        "inverseKey": inverse_key,
        "inverseName": inverse_key.capitalize(),
        "fromCategoryId": from_id,
        "toCategoryId": to_id,
        "cardinality": cardinality,
    }


@dataclass
class Group:
    """Companies that may own subsidiaries (ONE_TO_MANY 'subsidiaries', inverse 'parent')."""

    category: str
    relation: dict[str, Any]
    cards: dict[str, str]  # card id by name


async def company_group(api: Api, *names: str) -> Group:
    companies = (await create_category(api, "companies"))["id"]
    relation = await create_relation(
        api, "subsidiaries", "parent", companies, companies, "ONE_TO_MANY"
    )
    cards = {name: (await create_contact(api, companies, name))["id"] for name in names}
    return Group(companies, relation, cards)


def link(relation: str, from_id: str, to_id: str) -> dict[str, Any]:
    return {"input": {"relation": relation, "fromId": from_id, "toId": to_id}}


async def related(
    api: Api, contact_id: str, relation: str, first: int | None = None, after: str | None = None
) -> dict[str, Any]:
    data = await api.ok(
        RELATED, {"id": contact_id, "relation": relation, "first": first, "after": after}
    )
    connection: dict[str, Any] = data["contact"]["related"]
    return connection


async def related_names(api: Api, contact_id: str, relation: str) -> list[str]:
    return [c["name"] for c in (await related(api, contact_id, relation))["nodes"]]


def problems(errors: list[dict[str, Any]]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in errors]


# --- defining relations ------------------------------------------------------------------------


async def test_one_to_many_relation_of_a_category_with_itself(admin: Api) -> None:
    companies = await create_category(admin, "companies")

    relation = await create_relation(
        admin, "subsidiaries", "parent", companies["id"], companies["id"], "ONE_TO_MANY"
    )

    assert {k: v for k, v in relation.items() if k != "id"} == {
        "key": "subsidiaries",
        "name": "Subsidiaries",
        "inverseKey": "parent",
        "inverseName": "Parent",
        "cardinality": "ONE_TO_MANY",
        "from": {"id": companies["id"], "key": "companies"},
        "to": {"id": companies["id"], "key": "companies"},
    }
    shown = await admin.ok(CATEGORY_RELATIONS, {"id": companies["id"]})
    assert shown["category"]["relations"] == [{"key": "subsidiaries", "inverseKey": "parent"}]


async def test_many_to_many_relation_links_cards_both_ways(admin: Api) -> None:
    companies = (await create_category(admin, "companies"))["id"]
    projects = (await create_category(admin, "projects"))["id"]
    relation = await create_relation(admin, "projects", "partners", companies, projects)
    acme, globex = [(await create_contact(admin, companies, n))["id"] for n in ("Acme", "Globex")]
    bridge, tunnel = [
        (await create_contact(admin, projects, n))["id"] for n in ("Bridge", "Tunnel")
    ]

    await admin.ok(CONTACT_LINK, link("projects", acme, bridge))
    await admin.ok(CONTACT_LINK, link("projects", acme, tunnel))
    await admin.ok(CONTACT_LINK, link("partners", bridge, globex))

    assert relation["cardinality"] == "MANY_TO_MANY"
    assert (relation["from"]["id"], relation["to"]["id"]) == (companies, projects)
    for category in (companies, projects):
        shown = await admin.ok(CATEGORY_RELATIONS, {"id": category})
        assert shown["category"]["relations"] == [{"key": "projects", "inverseKey": "partners"}]
    assert await related_names(admin, acme, "projects") == ["Bridge", "Tunnel"]
    assert await related_names(admin, globex, "projects") == ["Bridge"]
    assert await related_names(admin, bridge, "partners") == ["Acme", "Globex"]
    assert await related_names(admin, tunnel, "partners") == ["Acme"]


async def test_relation_key_and_inverse_key_must_differ(admin: Api) -> None:
    companies = (await create_category(admin, "companies"))["id"]

    errors = await admin.user_errors(
        RELATION_CREATE, {"input": relation_input("related", "related", companies, companies)}
    )

    assert problems(errors) == [("INVALID", ["inverseKey"])]
    assert (await admin.ok(CATEGORY_RELATIONS, {"id": companies}))["category"]["relations"] == []


@pytest.mark.parametrize(
    ("key", "inverse_key", "field"),
    [
        pytest.param("has space", "parent", ["key"], id="key-with-space"),
        pytest.param("", "parent", ["key"], id="empty-key"),
        pytest.param(
            "subsidiaries", "1parent", ["inverseKey"], id="inverse-key-starting-with-digit"
        ),
    ],
)
async def test_relation_keys_must_be_usable_as_graphql_names(
    admin: Api, key: str, inverse_key: str, field: list[str]
) -> None:
    companies = (await create_category(admin, "companies"))["id"]

    errors = await admin.user_errors(
        RELATION_CREATE, {"input": relation_input(key, inverse_key, companies, companies)}
    )

    assert problems(errors) == [("INVALID", field)]


@pytest.mark.parametrize(
    ("key", "inverse_key", "source", "target", "field"),
    [
        pytest.param(
            "subsidiaries", "owner", "companies", "projects", ["key"], id="key-taken-by-key"
        ),
        pytest.param(
            "parent", "children", "companies", "projects", ["key"], id="key-taken-by-inverse-key"
        ),
        pytest.param(
            "sponsors",
            "subsidiaries",
            "projects",
            "companies",
            ["inverseKey"],
            id="inverse-key-taken-by-key",
        ),
        pytest.param(
            "sponsors",
            "parent",
            "projects",
            "companies",
            ["inverseKey"],
            id="inverse-key-taken-by-inverse-key",
        ),
    ],
)
async def test_relation_name_the_category_already_uses_is_refused(
    admin: Api, key: str, inverse_key: str, source: str, target: str, field: list[str]
) -> None:
    group = await company_group(admin)
    categories = {
        "companies": group.category,
        "projects": (await create_category(admin, "projects"))["id"],
    }

    errors = await admin.user_errors(
        RELATION_CREATE,
        {"input": relation_input(key, inverse_key, categories[source], categories[target])},
    )

    assert problems(errors) == [("DUPLICATE", field)]
    relations = await admin.ok(CATEGORY_RELATIONS, {"id": group.category})
    assert relations["category"]["relations"] == [{"key": "subsidiaries", "inverseKey": "parent"}]


async def test_same_relation_name_on_another_category_is_fine(admin: Api) -> None:
    group = await company_group(admin)
    projects = (await create_category(admin, "projects"))["id"]

    relation = await create_relation(admin, "subsidiaries", "parent", projects, projects)

    assert relation["key"] == "subsidiaries"
    assert group.relation["id"] != relation["id"]


# --- linking cards ------------------------------------------------------------------------------


async def test_cards_are_linked_through_the_key_and_through_the_inverse_key(admin: Api) -> None:
    group = await company_group(admin, "Holding", "Acme", "Globex")
    holding, acme, globex = group.cards["Holding"], group.cards["Acme"], group.cards["Globex"]

    by_key = await admin.ok(CONTACT_LINK, link("subsidiaries", holding, acme))
    by_inverse = await admin.ok(CONTACT_LINK, link("parent", globex, holding))

    assert by_key["contactLink"]["from"] == {"id": holding, "name": "Holding"}
    assert by_key["contactLink"]["to"] == {"id": acme, "name": "Acme"}
    assert by_inverse["contactLink"]["from"] == {"id": globex, "name": "Globex"}
    subsidiaries = await related(admin, holding, "subsidiaries")
    assert [c["name"] for c in subsidiaries["nodes"]] == ["Acme", "Globex"]
    assert subsidiaries["totalCount"] == 2
    for child in (acme, globex):
        parent = await related(admin, child, "parent")
        assert [c["name"] for c in parent["nodes"]] == ["Holding"]
        assert parent["totalCount"] == 1
    assert await related_names(admin, holding, "parent") == []
    assert await related_names(admin, acme, "subsidiaries") == []


async def test_cards_are_unlinked_through_either_name(admin: Api) -> None:
    group = await company_group(admin, "Holding", "Acme", "Globex")
    holding, acme, globex = group.cards["Holding"], group.cards["Acme"], group.cards["Globex"]
    await admin.ok(CONTACT_LINK, link("subsidiaries", holding, acme))
    await admin.ok(CONTACT_LINK, link("subsidiaries", holding, globex))

    await admin.ok(CONTACT_UNLINK, link("parent", acme, holding))
    assert await related_names(admin, holding, "subsidiaries") == ["Globex"]
    assert await related_names(admin, acme, "parent") == []

    await admin.ok(CONTACT_UNLINK, link("subsidiaries", holding, globex))
    assert await related_names(admin, holding, "subsidiaries") == []
    assert await related_names(admin, globex, "parent") == []


async def test_one_to_many_card_cannot_get_a_second_parent(admin: Api) -> None:
    group = await company_group(admin, "Holding", "Rival", "Acme")
    holding, rival, acme = group.cards["Holding"], group.cards["Rival"], group.cards["Acme"]
    await admin.ok(CONTACT_LINK, link("subsidiaries", holding, acme))

    by_key = await admin.user_errors(CONTACT_LINK, link("subsidiaries", rival, acme))
    by_inverse = await admin.user_errors(CONTACT_LINK, link("parent", acme, rival))

    assert problems(by_key) == [("CONFLICT", ["toId"])]
    assert problems(by_inverse) == [("CONFLICT", ["fromId"])]
    assert "Parent" in by_key[0]["message"]
    assert await related_names(admin, acme, "parent") == ["Holding"]
    assert await related_names(admin, rival, "subsidiaries") == []

    # Once unlinked, the card may move to another parent.
    await admin.ok(CONTACT_UNLINK, link("subsidiaries", holding, acme))
    await admin.ok(CONTACT_LINK, link("subsidiaries", rival, acme))
    assert await related_names(admin, acme, "parent") == ["Rival"]


async def test_one_parent_may_have_many_subsidiaries(admin: Api) -> None:
    group = await company_group(admin, "Holding", "Acme", "Globex", "Initech")

    for name in ("Acme", "Globex", "Initech"):
        await admin.ok(
            CONTACT_LINK, link("subsidiaries", group.cards["Holding"], group.cards[name])
        )

    assert await related_names(admin, group.cards["Holding"], "subsidiaries") == [
        "Acme",
        "Globex",
        "Initech",
    ]


async def test_linking_a_card_of_the_wrong_category_is_refused(admin: Api) -> None:
    group = await company_group(admin, "Holding")
    people = (await create_category(admin, "people"))["id"]
    ada = (await create_contact(admin, people, "Ada"))["id"]

    errors = await admin.user_errors(
        CONTACT_LINK, link("subsidiaries", group.cards["Holding"], ada)
    )

    assert problems(errors) == [("INVALID", ["toId"])]
    assert "subsidiaries" in errors[0]["message"]
    assert await related_names(admin, group.cards["Holding"], "subsidiaries") == []


async def test_card_cannot_be_linked_to_itself(admin: Api) -> None:
    group = await company_group(admin, "Holding")
    holding = group.cards["Holding"]

    errors = await admin.user_errors(CONTACT_LINK, link("subsidiaries", holding, holding))

    assert problems(errors) == [("INVALID", ["toId"])]
    assert await related_names(admin, holding, "subsidiaries") == []


async def test_linking_the_same_cards_twice_is_a_duplicate(admin: Api) -> None:
    group = await company_group(admin, "Holding", "Acme")
    holding, acme = group.cards["Holding"], group.cards["Acme"]
    await admin.ok(CONTACT_LINK, link("subsidiaries", holding, acme))

    again = await admin.user_errors(CONTACT_LINK, link("subsidiaries", holding, acme))
    again_by_inverse = await admin.user_errors(CONTACT_LINK, link("parent", acme, holding))

    assert problems(again) == [("DUPLICATE", ["toId"])]
    assert problems(again_by_inverse) == [("DUPLICATE", ["toId"])]
    assert (await related(admin, holding, "subsidiaries"))["totalCount"] == 1


async def test_unlinking_cards_that_are_not_linked_is_not_found(admin: Api) -> None:
    group = await company_group(admin, "Holding", "Acme", "Globex")
    holding = group.cards["Holding"]
    await admin.ok(CONTACT_LINK, link("subsidiaries", holding, group.cards["Acme"]))

    errors = await admin.user_errors(
        CONTACT_UNLINK, link("subsidiaries", holding, group.cards["Globex"])
    )
    reversed_errors = await admin.user_errors(
        CONTACT_UNLINK, link("subsidiaries", group.cards["Acme"], holding)
    )

    assert problems(errors) == [("NOT_FOUND", ["toId"])]
    assert problems(reversed_errors) == [("NOT_FOUND", ["toId"])]
    assert await related_names(admin, holding, "subsidiaries") == ["Acme"]


async def test_linking_through_an_unknown_relation_is_not_found(admin: Api) -> None:
    group = await company_group(admin, "Holding", "Acme")

    errors = await admin.user_errors(
        CONTACT_LINK, link("owners", group.cards["Holding"], group.cards["Acme"])
    )

    assert problems(errors) == [("NOT_FOUND", ["relation"])]
    assert "owners" in errors[0]["message"]


async def test_deleted_cards_cannot_be_linked(admin: Api) -> None:
    group = await company_group(admin, "Holding", "Acme")
    await admin.ok(CONTACT_DELETE, {"input": {"id": group.cards["Acme"]}})

    errors = await admin.user_errors(
        CONTACT_LINK, link("subsidiaries", group.cards["Holding"], group.cards["Acme"])
    )

    assert [e["code"] for e in errors] == ["ARCHIVED"]


# --- reading related cards ---------------------------------------------------------------------


async def test_related_cards_come_in_pages(admin: Api) -> None:
    names = ["Sub 1", "Sub 2", "Sub 3", "Sub 4", "Sub 5"]
    group = await company_group(admin, "Holding", *names)
    holding = group.cards["Holding"]
    for name in names:
        await admin.ok(CONTACT_LINK, link("subsidiaries", holding, group.cards[name]))

    pages = []
    after = None
    for _ in range(3):
        page = await related(admin, holding, "subsidiaries", first=2, after=after)
        pages.append(page)
        after = page["pageInfo"]["endCursor"]

    assert [[c["name"] for c in p["nodes"]] for p in pages] == [
        ["Sub 1", "Sub 2"],
        ["Sub 3", "Sub 4"],
        ["Sub 5"],
    ]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, False]
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    assert [p["totalCount"] for p in pages] == [5, 5, 5]


async def test_related_total_count_holds_on_a_page_past_the_last_card(admin: Api) -> None:
    group = await company_group(admin, "Holding", "Acme", "Globex")
    holding = group.cards["Holding"]
    for name in ("Acme", "Globex"):
        await admin.ok(CONTACT_LINK, link("subsidiaries", holding, group.cards[name]))
    last_cursor = (await related(admin, holding, "subsidiaries"))["pageInfo"]["endCursor"]

    beyond = await related(admin, holding, "subsidiaries", first=2, after=last_cursor)

    assert beyond["nodes"] == []
    assert beyond["pageInfo"]["hasNextPage"] is False
    assert beyond["totalCount"] == 2


async def test_deleted_cards_disappear_from_related_until_restored(admin: Api) -> None:
    group = await company_group(admin, "Holding", "Acme", "Globex")
    holding, acme, globex = group.cards["Holding"], group.cards["Acme"], group.cards["Globex"]
    await admin.ok(CONTACT_LINK, link("subsidiaries", holding, acme))
    await admin.ok(CONTACT_LINK, link("subsidiaries", holding, globex))

    await admin.ok(CONTACT_DELETE, {"input": {"id": acme}})
    subsidiaries = await related(admin, holding, "subsidiaries")
    assert [c["name"] for c in subsidiaries["nodes"]] == ["Globex"]
    assert subsidiaries["totalCount"] == 1

    await admin.ok(CONTACT_DELETE, {"input": {"id": holding}})
    assert await related_names(admin, globex, "parent") == []

    await admin.ok(CONTACT_RESTORE, {"input": {"id": holding}})
    await admin.ok(CONTACT_RESTORE, {"input": {"id": acme}})
    assert await related_names(admin, holding, "subsidiaries") == ["Acme", "Globex"]
    assert await related_names(admin, globex, "parent") == ["Holding"]


async def test_deleting_a_relation_removes_its_links(admin: Api) -> None:
    group = await company_group(admin, "Holding", "Acme")
    holding, acme = group.cards["Holding"], group.cards["Acme"]
    await admin.ok(CONTACT_LINK, link("subsidiaries", holding, acme))

    data = await admin.ok(RELATION_DELETE, {"input": {"id": group.relation["id"]}})

    assert data["categoryRelationDelete"]["deletedId"] == group.relation["id"]
    assert (await admin.ok(CATEGORY_RELATIONS, {"id": group.category}))["category"][
        "relations"
    ] == []
    errors = await admin.errors(RELATED, {"id": holding, "relation": "subsidiaries"})
    assert "subsidiaries" in errors[0]["message"]
    assert await count_rows(admin, "contact_link") == 0
    # A new relation under the same names starts without links.
    await create_relation(
        admin, "subsidiaries", "parent", group.category, group.category, "ONE_TO_MANY"
    )
    assert (await related(admin, holding, "subsidiaries"))["totalCount"] == 0
    assert await related_names(admin, acme, "parent") == []


async def test_related_through_an_unknown_relation_is_a_top_level_error(admin: Api) -> None:
    group = await company_group(admin, "Holding")

    errors = await admin.errors(RELATED, {"id": group.cards["Holding"], "relation": "nope"})

    assert errors[0]["extensions"]["code"] == "UNKNOWN_RELATION"
    assert "nope" in errors[0]["message"]


async def test_related_cards_of_a_whole_page_load_in_a_fixed_number_of_statements(
    admin: Api,
) -> None:
    group = await company_group(admin)

    async def add_company_with_subsidiaries(name: str) -> None:
        parent = (await create_contact(admin, group.category, name))["id"]
        for n in range(2):
            child = (await create_contact(admin, group.category, f"{name} sub {n}"))["id"]
            await admin.ok(CONTACT_LINK, link("subsidiaries", parent, child))

    for name in ("A", "B"):
        await add_company_with_subsidiaries(name)
    few = await admin.count_statements(RELATED_OF_EVERY_COMPANY, {"categoryId": group.category})
    for name in ("C", "D", "E", "F"):
        await add_company_with_subsidiaries(name)
    many = await admin.count_statements(RELATED_OF_EVERY_COMPANY, {"categoryId": group.category})

    data = await admin.ok(RELATED_OF_EVERY_COMPANY, {"categoryId": group.category})
    by_name = {c["name"]: c["related"] for c in data["contacts"]["nodes"]}
    assert by_name["F"] == {"totalCount": 2, "nodes": [{"name": "F sub 0"}, {"name": "F sub 1"}]}
    assert many == few


# --- who may do what ---------------------------------------------------------------------------


async def test_member_cannot_define_relations_but_can_link_cards(admin: Api) -> None:
    group = await company_group(admin, "Holding", "Acme")
    projects = (await create_category(admin, "projects"))["id"]
    member = await admin.add_user("mia@example.com", "MEMBER")

    create = await admin.errors(
        RELATION_CREATE,
        {"input": relation_input("projects", "partners", group.category, projects)},
        token=member,
    )
    delete = await admin.errors(
        RELATION_DELETE, {"input": {"id": group.relation["id"]}}, token=member
    )
    await admin.ok(
        CONTACT_LINK,
        link("subsidiaries", group.cards["Holding"], group.cards["Acme"]),
        token=member,
    )

    assert create[0]["extensions"]["code"] == "FORBIDDEN"
    assert delete[0]["extensions"]["code"] == "FORBIDDEN"
    assert (await admin.ok(CATEGORY_RELATIONS, {"id": group.category}))["category"][
        "relations"
    ] == [{"key": "subsidiaries", "inverseKey": "parent"}]
    assert await related_names(admin, group.cards["Holding"], "subsidiaries") == ["Acme"]

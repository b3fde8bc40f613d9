"""Categories: an admin creates, renames, finds and deletes them."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Api
from tests.helpers import (
    CATEGORY_BY_ID,
    CATEGORY_BY_KEY,
    CATEGORY_CREATE,
    CATEGORY_DELETE,
    CATEGORY_UPDATE,
    CONTACT_BY_ID,
    CONTACT_CREATE,
    CONTACT_DELETE,
    create_category,
    create_contact,
    create_field,
)

CATEGORIES = "{ categories { key name } }"


async def test_admin_creates_a_category_and_finds_it_by_key_and_by_id(admin: Api) -> None:
    data = await admin.ok(
        CATEGORY_CREATE,
        {"input": {"key": "customers", "name": "Customers", "description": "Who pays us"}},
    )
    category = data["categoryCreate"]["category"]
    assert category["key"] == "customers"
    assert category["name"] == "Customers"
    assert category["description"] == "Who pays us"

    by_key = await admin.ok(CATEGORY_BY_KEY, {"key": "customers"})
    by_id = await admin.ok(CATEGORY_BY_ID, {"id": category["id"]})
    assert by_key["category"] == category
    assert by_id["category"] == category


async def test_categories_are_listed_by_name(admin: Api) -> None:
    await create_category(admin, "suppliers", "Suppliers")
    await create_category(admin, "customers", "Customers")
    await create_category(admin, "members", "Members")

    data = await admin.ok(CATEGORIES)

    assert [c["name"] for c in data["categories"]] == ["Customers", "Members", "Suppliers"]


async def test_unknown_category_key_finds_nothing(admin: Api) -> None:
    await create_category(admin, "customers")

    data = await admin.ok(CATEGORY_BY_KEY, {"key": "suppliers"})

    assert data["category"] is None


@pytest.mark.parametrize(
    "key",
    ["1abc", "has space", "", "with-dash", "Customers", "_private", "kunden_ä", "x" * 65],
)
async def test_category_key_must_be_usable_as_a_graphql_name(admin: Api, key: str) -> None:
    errors = await admin.user_errors(CATEGORY_CREATE, {"input": {"key": key, "name": "Anything"}})

    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["key"])]
    assert "key" in errors[0]["message"]
    assert (await admin.ok(CATEGORIES))["categories"] == []


async def test_category_key_of_64_characters_is_accepted(admin: Api) -> None:
    key = "k" + "x" * 63

    category = await create_category(admin, key)

    assert category["key"] == key


async def test_duplicate_category_key_is_refused(admin: Api) -> None:
    await create_category(admin, "customers", "Customers")

    errors = await admin.user_errors(
        CATEGORY_CREATE, {"input": {"key": "customers", "name": "Other customers"}}
    )

    assert [(e["code"], e["field"]) for e in errors] == [("DUPLICATE", ["key"])]
    assert "customers" in errors[0]["message"]
    assert (await admin.ok(CATEGORIES))["categories"] == [{"key": "customers", "name": "Customers"}]


@pytest.mark.parametrize("name", ["", "   ", "n" * 201])
async def test_category_needs_a_sensible_name(admin: Api, name: str) -> None:
    errors = await admin.user_errors(CATEGORY_CREATE, {"input": {"key": "customers", "name": name}})

    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["name"])]
    assert (await admin.ok(CATEGORIES))["categories"] == []


async def test_renaming_a_category_keeps_its_key(admin: Api) -> None:
    category = await create_category(admin, "customers", "Customers", "Who pays us")

    data = await admin.ok(CATEGORY_UPDATE, {"input": {"id": category["id"], "name": "Clients"}})

    updated = data["categoryUpdate"]["category"]
    assert updated == {**category, "name": "Clients"}
    assert (await admin.ok(CATEGORY_BY_KEY, {"key": "customers"}))["category"] == updated


async def test_category_key_cannot_be_changed(admin: Api) -> None:
    category = await create_category(admin, "customers")

    errors = await admin.errors(
        CATEGORY_UPDATE, {"input": {"id": category["id"], "key": "clients"}}
    )

    assert "key" in errors[0]["message"]
    assert (await admin.ok(CATEGORY_BY_ID, {"id": category["id"]}))["category"]["key"] == (
        "customers"
    )


async def test_description_is_changed_kept_when_omitted_and_cleared_with_null(admin: Api) -> None:
    category = await create_category(admin, "customers", "Customers", "Who pays us")

    changed = await admin.ok(
        CATEGORY_UPDATE, {"input": {"id": category["id"], "description": "Who pays us, yearly"}}
    )
    assert changed["categoryUpdate"]["category"]["description"] == "Who pays us, yearly"

    renamed = await admin.ok(CATEGORY_UPDATE, {"input": {"id": category["id"], "name": "Clients"}})
    assert renamed["categoryUpdate"]["category"]["description"] == "Who pays us, yearly"

    cleared = await admin.ok(
        CATEGORY_UPDATE, {"input": {"id": category["id"], "description": None}}
    )
    assert cleared["categoryUpdate"]["category"] == {
        **category,
        "name": "Clients",
        "description": None,
    }
    assert (await admin.ok(CATEGORY_BY_ID, {"id": category["id"]}))["category"][
        "description"
    ] is None


async def test_too_long_description_is_refused_and_nothing_changes(admin: Api) -> None:
    category = await create_category(admin, "customers", "Customers", "Who pays us")

    errors = await admin.user_errors(
        CATEGORY_UPDATE,
        {"input": {"id": category["id"], "name": "Clients", "description": "d" * 2001}},
    )

    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["description"])]
    assert (await admin.ok(CATEGORY_BY_ID, {"id": category["id"]}))["category"] == category


async def test_category_with_live_cards_cannot_be_deleted(admin: Api) -> None:
    category = await create_category(admin, "customers")
    await create_contact(admin, category["id"], "Acme")
    await create_contact(admin, category["id"], "Globex")

    errors = await admin.user_errors(CATEGORY_DELETE, {"input": {"id": category["id"]}})

    assert [(e["code"], e["field"]) for e in errors] == [("IN_USE", ["id"])]
    assert "2 contact card(s)" in errors[0]["message"]
    assert (await admin.ok(CATEGORY_BY_ID, {"id": category["id"]}))["category"] == category


async def test_category_is_deleted_with_its_deleted_cards(admin: Api) -> None:
    category = await create_category(admin, "customers")
    await create_field(admin, category["id"], "vatId", "TEXT", unique=True)
    cards = [
        await create_contact(admin, category["id"], name, {"vatId": vat})
        for name, vat in (("Acme", "DE1"), ("Globex", "DE2"))
    ]
    await admin.ok(CONTACT_DELETE, {"input": {"id": cards[0]["id"]}})

    still_used = await admin.user_errors(CATEGORY_DELETE, {"input": {"id": category["id"]}})
    assert "1 contact card(s)" in still_used[0]["message"]

    await admin.ok(CONTACT_DELETE, {"input": {"id": cards[1]["id"]}})
    data = await admin.ok(CATEGORY_DELETE, {"input": {"id": category["id"]}})

    assert data["categoryDelete"]["deletedId"] == category["id"]
    assert (await admin.ok(CATEGORY_BY_ID, {"id": category["id"]}))["category"] is None
    assert (await admin.ok(CATEGORY_BY_KEY, {"key": "customers"}))["category"] is None
    for card in cards:
        assert (await admin.ok(CONTACT_BY_ID, {"id": card["id"]}))["contact"] is None


async def test_key_of_a_deleted_category_can_be_used_again(admin: Api) -> None:
    old = await create_category(admin, "customers")
    await create_field(admin, old["id"], "vatId", "TEXT", unique=True)
    card = await create_contact(admin, old["id"], "Acme", {"vatId": "DE1"})
    await admin.ok(CONTACT_DELETE, {"input": {"id": card["id"]}})
    await admin.ok(CATEGORY_DELETE, {"input": {"id": old["id"]}})

    new = await create_category(admin, "customers")
    await create_field(admin, new["id"], "vatId", "TEXT", unique=True)
    await create_contact(admin, new["id"], "Acme again", {"vatId": "DE1"})

    duplicate = await admin.user_errors(
        CONTACT_CREATE,
        {"input": {"categoryId": new["id"], "name": "Copy", "values": {"vatId": "DE1"}}},
    )
    assert [(e["code"], e["field"]) for e in duplicate] == [("DUPLICATE", ["values", "vatId"])]


async def test_deleting_an_unknown_category_is_not_found(admin: Api) -> None:
    category = await create_category(admin, "customers")
    await admin.ok(CATEGORY_DELETE, {"input": {"id": category["id"]}})

    errors = await admin.user_errors(CATEGORY_DELETE, {"input": {"id": category["id"]}})

    assert [e["code"] for e in errors] == ["NOT_FOUND"]


@pytest.mark.parametrize(
    ("operation", "make_input"),
    [
        pytest.param(
            CATEGORY_CREATE, lambda _id: {"key": "suppliers", "name": "Suppliers"}, id="create"
        ),
        pytest.param(CATEGORY_UPDATE, lambda id: {"id": id, "name": "Clients"}, id="update"),
        pytest.param(CATEGORY_DELETE, lambda id: {"id": id}, id="delete"),
    ],
)
async def test_member_cannot_change_categories(
    admin: Api, operation: str, make_input: Callable[[str], dict[str, Any]]
) -> None:
    category = await create_category(admin, "customers", "Customers")
    member = await admin.add_user("mia@example.com", "MEMBER")

    errors = await admin.errors(operation, {"input": make_input(category["id"])}, token=member)

    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert (await admin.ok(CATEGORIES, token=member))["categories"] == [
        {"key": "customers", "name": "Customers"}
    ]

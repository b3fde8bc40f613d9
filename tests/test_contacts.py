"""Contact cards as people use them: create, update, delete and restore cards, and the persons
who work there."""

import asyncio
from typing import Any

import pytest

from services.ids import encode_id
from tests.conftest import Api
from tests.helpers import (
    count_rows,
    create_contact,
    create_field,
    my_id,
    new_category_id,
    read_contact,
)

# --- GraphQL ---------------------------------------------------------------------------------

CARD = """fragment Card on Contact {
  id name version orgNumber email phone website
  address { street postalCode city region country }
  values
  persons { id firstName lastName fullName title email phone mobile }
  category { id key }
  createdAt updatedAt deletedAt
  createdBy { id email name }
}"""
ERRORS = "userErrors { field message code }"

CONTACT_CREATE = (
    f"""mutation($input: ContactCreateInput!) {{
  contactCreate(input: $input) {{ contact {{ ...Card }} {ERRORS} }} }}"""
    + CARD
)
CONTACT_UPDATE = (
    f"""mutation($input: ContactUpdateInput!) {{
  contactUpdate(input: $input) {{ contact {{ ...Card }} {ERRORS} }} }}"""
    + CARD
)
CONTACT_DELETE = (
    f"""mutation($input: ContactIdInput!) {{
  contactDelete(input: $input) {{ contact {{ ...Card }} {ERRORS} }} }}"""
    + CARD
)
CONTACT_RESTORE = (
    f"""mutation($input: ContactIdInput!) {{
  contactRestore(input: $input) {{ contact {{ ...Card }} {ERRORS} }} }}"""
    + CARD
)
CONTACT = "query($id: ID!) { contact(id: $id) { ...Card } }" + CARD
CONTACT_VALUES = "query($id: ID!, $keys: [String!]) { contact(id: $id) { values(keys: $keys) } }"
CONTACT_NAMES = """query($categoryId: ID!, $includeDeleted: Boolean! = false) {
  contacts(categoryId: $categoryId, includeDeleted: $includeDeleted) {
    totalCount nodes { name deletedAt } } }"""

PERSON = "person { id firstName lastName fullName title email phone mobile contact { id name } }"
PERSON_CREATE = f"""mutation($input: PersonCreateInput!) {{
  personCreate(input: $input) {{ {PERSON} {ERRORS} }} }}"""
PERSON_UPDATE = f"""mutation($input: PersonUpdateInput!) {{
  personUpdate(input: $input) {{ {PERSON} {ERRORS} }} }}"""
PERSON_DELETE = f"""mutation($input: PersonDeleteInput!) {{
  personDelete(input: $input) {{ {PERSON} {ERRORS} }} }}"""
PERSONS = "query($id: ID!) { contact(id: $id) { updatedAt persons { fullName } } }"


# --- helpers ---------------------------------------------------------------------------------


async def update_contact(api: Api, contact_id: str, **changes: Any) -> dict[str, Any]:
    data = await api.ok(CONTACT_UPDATE, {"input": {"id": contact_id, **changes}})
    contact: dict[str, Any] = data["contactUpdate"]["contact"]
    return contact


async def listed_names(api: Api, category_id: str, *, include_deleted: bool = False) -> list[str]:
    data = await api.ok(
        CONTACT_NAMES, {"categoryId": category_id, "includeDeleted": include_deleted}
    )
    connection = data["contacts"]
    names = [node["name"] for node in connection["nodes"]]
    assert connection["totalCount"] == len(names)
    return names


async def customers_with_fields(api: Api) -> str:
    """A category with a few custom fields of different kinds."""
    category_id = await new_category_id(api)
    await create_field(api, category_id, "industry", "TEXT")
    await create_field(api, category_id, "employees", "INTEGER")
    await create_field(
        api,
        category_id,
        "tier",
        "SELECT",
        options=[{"value": "gold"}, {"value": "silver"}],
    )
    return category_id


# --- creating cards --------------------------------------------------------------------------


async def test_create_card_with_every_detail_returns_them_normalised(admin: Api) -> None:
    category_id = await customers_with_fields(admin)

    card = await create_contact(
        admin,
        category_id,
        "  Acme AB  ",
        orgNumber="556677-8899",
        email="info@acme.example",
        phone="+46 8 123 456",
        website="example.com",
        address={
            "street": "Storgatan 1",
            "postalCode": "111 22",
            "city": "Stockholm",
            "region": "Stockholm County",
            "country": "se",
        },
        values={"industry": "Steel", "employees": 120, "tier": "gold"},
        persons=[
            {"firstName": "Anna", "lastName": "Berg", "title": "CEO", "email": "anna@acme.example"},
            {"lastName": "Lind", "mobile": "+46 70 111 22 33"},
        ],
        operation=CONTACT_CREATE,
    )

    assert card["name"] == "Acme AB"
    assert card["orgNumber"] == "556677-8899"
    assert card["email"] == "info@acme.example"
    assert card["phone"] == "+46 8 123 456"
    assert card["website"] == "https://example.com"
    assert card["address"] == {
        "street": "Storgatan 1",
        "postalCode": "111 22",
        "city": "Stockholm",
        "region": "Stockholm County",
        "country": "SE",
    }
    assert card["values"] == {"industry": "Steel", "employees": 120, "tier": "gold"}
    assert [(p["fullName"], p["title"]) for p in card["persons"]] == [
        ("Anna Berg", "CEO"),
        ("Lind", None),
    ]
    assert card["persons"][1]["mobile"] == "+46 70 111 22 33"
    assert card["category"]["id"] == category_id
    assert card["deletedAt"] is None
    # What the mutation returned is what was stored.
    assert await read_contact(admin, card["id"], operation=CONTACT) == card


async def test_website_with_a_scheme_is_kept_as_typed(admin: Api) -> None:
    category_id = await new_category_id(admin)
    card = await create_contact(
        admin, category_id, "Beta", website="http://beta.example/about", operation=CONTACT_CREATE
    )
    assert card["website"] == "http://beta.example/about"


async def test_card_without_address_has_no_address(admin: Api) -> None:
    category_id = await new_category_id(admin)
    card = await create_contact(admin, category_id, "Gamma", operation=CONTACT_CREATE)
    assert card["address"] is None
    assert card["persons"] == []
    assert card["values"] == {}


async def test_created_by_is_the_member_who_created_the_card(admin: Api) -> None:
    category_id = await new_category_id(admin)
    member_token = await admin.add_user("mia@example.com", "MEMBER", name="Mia Member")

    card = await create_contact(
        admin, category_id, "Delta", token=member_token, operation=CONTACT_CREATE
    )

    assert card["createdBy"] == {
        "id": await my_id(admin, member_token),
        "email": "mia@example.com",
        "name": "Mia Member",
    }
    # Someone else editing the card does not make them its creator.
    updated = await update_contact(admin, card["id"], email="delta@example.com")
    assert updated["createdBy"]["email"] == "mia@example.com"


async def test_a_viewer_cannot_create_cards(admin: Api) -> None:
    category_id = await new_category_id(admin)
    viewer_token = await admin.add_user("vic@example.com", "VIEWER")

    errors = await admin.errors(
        CONTACT_CREATE, {"input": {"categoryId": category_id, "name": "Nope"}}, token=viewer_token
    )

    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert await count_rows(admin, "contact") == 0


async def test_card_needs_a_name(admin: Api) -> None:
    category_id = await new_category_id(admin)
    errors = await admin.user_errors(
        CONTACT_CREATE, {"input": {"categoryId": category_id, "name": "   "}}
    )
    assert [(e["field"], e["code"]) for e in errors] == [(["name"], "REQUIRED")]
    assert await count_rows(admin, "contact") == 0


async def test_create_in_a_missing_category_is_not_found(admin: Api) -> None:
    errors = await admin.user_errors(
        CONTACT_CREATE, {"input": {"categoryId": encode_id("Category", 999), "name": "Lost"}}
    )
    assert [(e["field"], e["code"]) for e in errors] == [(["categoryId"], "NOT_FOUND")]


async def test_bad_built_in_details_are_refused_naming_the_input(admin: Api) -> None:
    category_id = await new_category_id(admin)
    cases: list[tuple[dict[str, Any], list[str], str]] = [
        ({"email": "not-an-address"}, ["email"], "e-mail"),
        ({"phone": "call me"}, ["phone"], "phone"),
        ({"website": "no website"}, ["website"], "web address"),
        ({"website": "ftp://files.example"}, ["website"], "web address"),
    ]
    for details, field, words in cases:
        errors = await admin.user_errors(
            CONTACT_CREATE, {"input": {"categoryId": category_id, "name": "Bad", **details}}
        )
        assert len(errors) == 1, details
        assert errors[0]["field"] == field, details
        assert errors[0]["code"] == "INVALID", details
        assert words in errors[0]["message"], errors[0]
    assert await count_rows(admin, "contact") == 0


@pytest.mark.parametrize("country", ["D1", "D", "Germany"])
async def test_country_must_be_a_two_letter_code(admin: Api, country: str) -> None:
    category_id = await new_category_id(admin)
    errors = await admin.user_errors(
        CONTACT_CREATE,
        {"input": {"categoryId": category_id, "name": "X", "address": {"country": country}}},
    )
    assert len(errors) == 1
    assert errors[0]["field"] == ["address", "country"], errors[0]
    assert errors[0]["code"] == "INVALID"
    assert "country" in errors[0]["message"].lower()
    assert await count_rows(admin, "contact") == 0


async def test_inline_person_errors_name_the_person_and_write_nothing(admin: Api) -> None:
    category_id = await new_category_id(admin)
    errors = await admin.user_errors(
        CONTACT_CREATE,
        {
            "input": {
                "categoryId": category_id,
                "name": "Epsilon",
                "persons": [{"firstName": "Ok"}, {"firstName": "Bo", "email": "bo(at)example"}],
            }
        },
    )
    assert [(e["field"], e["code"]) for e in errors] == [(["persons", "1", "email"], "INVALID")]
    assert "e-mail" in errors[0]["message"]

    errors = await admin.user_errors(
        CONTACT_CREATE,
        {"input": {"categoryId": category_id, "name": "Epsilon", "persons": [{"title": "CTO"}]}},
    )
    assert [(e["field"], e["code"]) for e in errors] == [(["persons", "0", "lastName"], "REQUIRED")]

    assert await count_rows(admin, "contact") == 0
    assert await count_rows(admin, "person") == 0


# --- values on a card ------------------------------------------------------------------------


async def test_values_keys_narrows_to_the_asked_keys(admin: Api) -> None:
    category_id = await customers_with_fields(admin)
    card = await create_contact(
        admin,
        category_id,
        "Acme",
        values={"industry": "Steel", "employees": 5, "tier": "gold"},
        operation=CONTACT_CREATE,
    )

    narrowed = await admin.ok(CONTACT_VALUES, {"id": card["id"], "keys": ["tier", "industry"]})
    assert narrowed["contact"]["values"] == {"industry": "Steel", "tier": "gold"}

    unset = await admin.ok(CONTACT_VALUES, {"id": card["id"], "keys": ["employees", "nope"]})
    assert unset["contact"]["values"] == {"employees": 5}

    everything = await admin.ok(CONTACT_VALUES, {"id": card["id"], "keys": None})
    assert everything["contact"]["values"] == {"industry": "Steel", "employees": 5, "tier": "gold"}


async def test_update_merges_values_key_by_key(admin: Api) -> None:
    category_id = await customers_with_fields(admin)
    card = await create_contact(
        admin,
        category_id,
        "Acme",
        values={"industry": "Steel", "employees": 5},
        operation=CONTACT_CREATE,
    )

    changed = await update_contact(admin, card["id"], values={"employees": 7, "tier": "silver"})
    assert changed["values"] == {"industry": "Steel", "employees": 7, "tier": "silver"}

    cleared = await update_contact(admin, card["id"], values={"industry": None})
    assert cleared["values"] == {"industry": None, "employees": 7, "tier": "silver"}

    untouched = await update_contact(admin, card["id"], name="Acme AB", values=None)
    assert untouched["values"] == {"industry": None, "employees": 7, "tier": "silver"}
    assert (await read_contact(admin, card["id"], operation=CONTACT))["values"] == untouched[
        "values"
    ]


async def test_update_clearing_a_required_value_is_refused(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "vatId", "TEXT", label="Vatid", required=True)
    card = await create_contact(
        admin, category_id, "Acme", values={"vatId": "SE1"}, operation=CONTACT_CREATE
    )

    errors = await admin.user_errors(
        CONTACT_UPDATE, {"input": {"id": card["id"], "values": {"vatId": None}}}
    )

    assert [(e["field"], e["code"]) for e in errors] == [(["values", "vatId"], "REQUIRED")]
    assert "Vatid" in errors[0]["message"]
    assert (await read_contact(admin, card["id"], operation=CONTACT))["values"] == {"vatId": "SE1"}


# --- built-in details on update --------------------------------------------------------------


async def test_update_omitted_details_stay_and_null_clears(admin: Api) -> None:
    category_id = await new_category_id(admin)
    card = await create_contact(
        admin,
        category_id,
        "Acme",
        orgNumber="556677",
        email="info@acme.example",
        phone="+46 8 123",
        website="acme.example",
        address={"street": "Storgatan 1", "city": "Stockholm", "country": "SE"},
        operation=CONTACT_CREATE,
    )

    renamed = await update_contact(admin, card["id"], name="Acme Group")
    assert renamed["name"] == "Acme Group"
    assert renamed["orgNumber"] == "556677"
    assert renamed["email"] == "info@acme.example"
    assert renamed["phone"] == "+46 8 123"
    assert renamed["website"] == "https://acme.example"
    assert renamed["address"]["city"] == "Stockholm"

    cleared = await update_contact(admin, card["id"], orgNumber=None, phone=None, website=None)
    assert (cleared["orgNumber"], cleared["phone"], cleared["website"]) == (None, None, None)
    assert cleared["email"] == "info@acme.example"

    moved = await update_contact(admin, card["id"], address={"city": "Uppsala", "street": None})
    assert moved["address"] == {
        "street": None,
        "postalCode": None,
        "city": "Uppsala",
        "region": None,
        "country": "SE",
    }

    no_address = await update_contact(admin, card["id"], address=None)
    assert no_address["address"] is None
    assert await read_contact(admin, card["id"], operation=CONTACT) == no_address


async def test_update_moves_updated_at_but_not_created_at(admin: Api) -> None:
    category_id = await new_category_id(admin)
    card = await create_contact(admin, category_id, "Acme", operation=CONTACT_CREATE)
    updated = await update_contact(admin, card["id"], email="a@acme.example")
    assert updated["createdAt"] == card["createdAt"]
    assert updated["updatedAt"] > card["updatedAt"]


async def test_every_change_of_a_card_moves_its_version(admin: Api) -> None:
    category_id = await new_category_id(admin)
    card = await create_contact(
        admin, category_id, "Acme", persons=[{"firstName": "Anna"}], operation=CONTACT_CREATE
    )
    assert card["version"] == 1
    assert (await update_contact(admin, card["id"], email="a@acme.example"))["version"] == 2
    added = await admin.ok(PERSON_CREATE, {"input": {"contactId": card["id"], "lastName": "Ek"}})
    person_id = added["personCreate"]["person"]["id"]
    assert (await read_contact(admin, card["id"], operation=CONTACT))["version"] == 3
    await admin.ok(PERSON_UPDATE, {"input": {"id": person_id, "title": "CFO"}})
    await admin.ok(PERSON_DELETE, {"input": {"id": person_id}})
    assert (await read_contact(admin, card["id"], operation=CONTACT))["version"] == 5
    await admin.ok(CONTACT_DELETE, {"input": {"id": card["id"]}})
    await admin.ok(CONTACT_DELETE, {"input": {"id": card["id"]}})  # already deleted: no change
    restored = await admin.ok(CONTACT_RESTORE, {"input": {"id": card["id"]}})
    assert restored["contactRestore"]["contact"]["version"] == 7


async def test_an_update_from_a_stale_version_is_refused_and_changes_nothing(admin: Api) -> None:
    category_id = await new_category_id(admin)
    card = await create_contact(admin, category_id, "Acme", operation=CONTACT_CREATE)
    # Two people read version 1; the first saves, the second must not overwrite unknowingly.
    first = await update_contact(admin, card["id"], name="Acme AB", expectedVersion=1)
    assert first["version"] == 2
    errors = await admin.user_errors(
        CONTACT_UPDATE, {"input": {"id": card["id"], "name": "ACME", "expectedVersion": 1}}
    )
    assert [(e["field"], e["code"]) for e in errors] == [(["expectedVersion"], "CONFLICT")]
    assert "you read version 1, it is now at 2" in errors[0]["message"]
    assert (await read_contact(admin, card["id"], operation=CONTACT))["name"] == "Acme AB"
    # Reloaded, the second person's change goes through.
    assert (await update_contact(admin, card["id"], name="ACME", expectedVersion=2))["version"] == 3


async def test_concurrent_conditional_updates_of_one_version_let_exactly_one_through(
    admin: Api,
) -> None:
    category_id = await new_category_id(admin)
    card = await create_contact(admin, category_id, "Acme", operation=CONTACT_CREATE)

    async def attempt(i: int) -> list[dict[str, Any]]:
        body = await admin.post(
            CONTACT_UPDATE,
            {"input": {"id": card["id"], "name": f"Acme {i}", "expectedVersion": 1}},
            token=admin.admin_token,
        )
        errors: list[dict[str, Any]] = body["data"]["contactUpdate"]["userErrors"]
        return errors

    outcomes = await asyncio.gather(*(attempt(i) for i in range(8)))
    assert sum(1 for errors in outcomes if not errors) == 1
    assert all(e[0]["code"] == "CONFLICT" for e in outcomes if e)
    assert (await read_contact(admin, card["id"], operation=CONTACT))["version"] == 2


async def test_update_name_to_null_is_refused(admin: Api) -> None:
    category_id = await new_category_id(admin)
    card = await create_contact(admin, category_id, "Acme", operation=CONTACT_CREATE)
    errors = await admin.user_errors(CONTACT_UPDATE, {"input": {"id": card["id"], "name": None}})
    assert [(e["field"], e["code"]) for e in errors] == [(["name"], "REQUIRED")]
    assert (await read_contact(admin, card["id"], operation=CONTACT))["name"] == "Acme"


async def test_update_with_a_bad_detail_changes_nothing(admin: Api) -> None:
    category_id = await customers_with_fields(admin)
    card = await create_contact(
        admin, category_id, "Acme", values={"employees": 5}, operation=CONTACT_CREATE
    )

    errors = await admin.user_errors(
        CONTACT_UPDATE,
        {
            "input": {
                "id": card["id"],
                "name": "Renamed",
                "email": "broken",
                "values": {"employees": 6},
            }
        },
    )

    assert [e["field"] for e in errors] == [["email"]]
    assert await read_contact(admin, card["id"], operation=CONTACT) == card


async def test_update_of_a_missing_card_is_not_found(admin: Api) -> None:
    errors = await admin.user_errors(
        CONTACT_UPDATE, {"input": {"id": encode_id("Contact", 999), "name": "Ghost"}}
    )
    assert [(e["field"], e["code"]) for e in errors] == [(["id"], "NOT_FOUND")]


# --- delete and restore ----------------------------------------------------------------------


async def test_delete_moves_the_card_to_the_bin(admin: Api) -> None:
    category_id = await new_category_id(admin)
    kept = await create_contact(admin, category_id, "Kept", operation=CONTACT_CREATE)
    binned = await create_contact(admin, category_id, "Binned", operation=CONTACT_CREATE)

    data = await admin.ok(CONTACT_DELETE, {"input": {"id": binned["id"]}})

    deleted = data["contactDelete"]["contact"]
    assert deleted["deletedAt"] is not None
    assert await listed_names(admin, category_id) == ["Kept"]
    assert await listed_names(admin, category_id, include_deleted=True) == ["Binned", "Kept"]
    by_id = await read_contact(admin, binned["id"], operation=CONTACT)
    assert by_id["name"] == "Binned"
    assert by_id["deletedAt"] == deleted["deletedAt"]
    assert (await read_contact(admin, kept["id"], operation=CONTACT))["deletedAt"] is None
    # The row is still there: the delete is soft.
    assert await count_rows(admin, "contact") == 2


async def test_restore_brings_a_deleted_card_back(admin: Api) -> None:
    category_id = await customers_with_fields(admin)
    card = await create_contact(
        admin,
        category_id,
        "Acme",
        values={"tier": "gold"},
        persons=[{"firstName": "Anna"}],
        operation=CONTACT_CREATE,
    )
    await admin.ok(CONTACT_DELETE, {"input": {"id": card["id"]}})

    data = await admin.ok(CONTACT_RESTORE, {"input": {"id": card["id"]}})

    restored = data["contactRestore"]["contact"]
    assert restored["deletedAt"] is None
    assert restored["values"] == card["values"]
    assert [p["fullName"] for p in restored["persons"]] == ["Anna"]
    assert await listed_names(admin, category_id) == ["Acme"]


async def test_a_deleted_card_cannot_be_changed_until_restored(admin: Api) -> None:
    category_id = await new_category_id(admin)
    card = await create_contact(admin, category_id, "Acme", operation=CONTACT_CREATE)
    await admin.ok(CONTACT_DELETE, {"input": {"id": card["id"]}})

    errors = await admin.user_errors(CONTACT_UPDATE, {"input": {"id": card["id"], "name": "New"}})
    assert [(e["field"], e["code"]) for e in errors] == [(["id"], "ARCHIVED")]
    assert "restore" in errors[0]["message"]

    errors = await admin.user_errors(
        PERSON_CREATE, {"input": {"contactId": card["id"], "firstName": "Anna"}}
    )
    assert [(e["field"], e["code"]) for e in errors] == [(["contactId"], "ARCHIVED")]

    assert (await read_contact(admin, card["id"], operation=CONTACT))["name"] == "Acme"
    assert await count_rows(admin, "person") == 0


async def test_persons_of_a_deleted_card_cannot_be_changed_until_restored(admin: Api) -> None:
    category_id = await new_category_id(admin)
    card = await create_contact(
        admin, category_id, "Acme", persons=[{"firstName": "Anna"}], operation=CONTACT_CREATE
    )
    person_id = card["persons"][0]["id"]
    await admin.ok(CONTACT_DELETE, {"input": {"id": card["id"]}})

    errors = await admin.user_errors(PERSON_UPDATE, {"input": {"id": person_id, "title": "CEO"}})
    assert [e["code"] for e in errors] == ["ARCHIVED"]
    errors = await admin.user_errors(PERSON_DELETE, {"input": {"id": person_id}})
    assert [e["code"] for e in errors] == ["ARCHIVED"]

    persons = (await read_contact(admin, card["id"], operation=CONTACT))["persons"]
    assert [(p["fullName"], p["title"]) for p in persons] == [("Anna", None)]


async def test_restore_is_refused_when_its_unique_value_was_taken_meanwhile(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "vatId", "TEXT", label="Vatid", unique=True)
    first = await create_contact(
        admin, category_id, "First", values={"vatId": "SE556"}, operation=CONTACT_CREATE
    )
    await admin.ok(CONTACT_DELETE, {"input": {"id": first["id"]}})
    # A deleted card does not hold on to its unique value.
    await create_contact(
        admin, category_id, "Second", values={"vatId": "SE556"}, operation=CONTACT_CREATE
    )

    errors = await admin.user_errors(CONTACT_RESTORE, {"input": {"id": first["id"]}})

    assert [(e["field"], e["code"]) for e in errors] == [(["values", "vatId"], "DUPLICATE")]
    assert "Vatid" in errors[0]["message"]
    assert (await read_contact(admin, first["id"], operation=CONTACT))["deletedAt"] is not None
    assert await listed_names(admin, category_id) == ["Second"]


# --- persons ---------------------------------------------------------------------------------


async def test_person_create_update_and_delete(admin: Api) -> None:
    category_id = await new_category_id(admin)
    card = await create_contact(
        admin, category_id, "Acme", persons=[{"firstName": "Anna"}], operation=CONTACT_CREATE
    )

    created = await admin.ok(
        PERSON_CREATE,
        {
            "input": {
                "contactId": card["id"],
                "firstName": "Bo",
                "lastName": "Ek",
                "title": "CFO",
                "email": "bo@acme.example",
                "phone": "+46 8 555 01",
            }
        },
    )
    person = created["personCreate"]["person"]
    assert person["fullName"] == "Bo Ek"
    assert person["contact"] == {"id": card["id"], "name": "Acme"}
    after_create = await admin.ok(PERSONS, {"id": card["id"]})
    assert [p["fullName"] for p in after_create["contact"]["persons"]] == ["Anna", "Bo Ek"]
    assert after_create["contact"]["updatedAt"] > card["updatedAt"]

    updated = await admin.ok(
        PERSON_UPDATE, {"input": {"id": person["id"], "title": "CEO", "phone": None}}
    )
    changed = updated["personUpdate"]["person"]
    assert changed["title"] == "CEO"
    assert changed["phone"] is None
    # Omitted fields stay.
    assert (changed["firstName"], changed["lastName"], changed["email"]) == (
        "Bo",
        "Ek",
        "bo@acme.example",
    )

    deleted = await admin.ok(PERSON_DELETE, {"input": {"id": person["id"]}})
    assert deleted["personDelete"]["person"]["id"] == person["id"]
    after_delete = await admin.ok(PERSONS, {"id": card["id"]})
    assert [p["fullName"] for p in after_delete["contact"]["persons"]] == ["Anna"]


async def test_person_needs_a_first_or_last_name(admin: Api) -> None:
    category_id = await new_category_id(admin)
    card = await create_contact(admin, category_id, "Acme", operation=CONTACT_CREATE)

    errors = await admin.user_errors(
        PERSON_CREATE, {"input": {"contactId": card["id"], "title": "CEO"}}
    )
    assert [(e["field"], e["code"]) for e in errors] == [(["lastName"], "REQUIRED")]
    assert "first or a last name" in errors[0]["message"]
    assert await count_rows(admin, "person") == 0

    created = await admin.ok(PERSON_CREATE, {"input": {"contactId": card["id"], "lastName": "Ek"}})
    person_id = created["personCreate"]["person"]["id"]
    errors = await admin.user_errors(PERSON_UPDATE, {"input": {"id": person_id, "lastName": None}})
    assert [(e["field"], e["code"]) for e in errors] == [(["lastName"], "REQUIRED")]

    # Swapping one name for the other in one go is fine.
    swapped = await admin.ok(
        PERSON_UPDATE, {"input": {"id": person_id, "lastName": None, "firstName": "Bo"}}
    )
    assert swapped["personUpdate"]["person"]["fullName"] == "Bo"


async def test_person_with_a_bad_email_or_phone_is_refused(admin: Api) -> None:
    category_id = await new_category_id(admin)
    card = await create_contact(admin, category_id, "Acme", operation=CONTACT_CREATE)

    errors = await admin.user_errors(
        PERSON_CREATE, {"input": {"contactId": card["id"], "firstName": "Bo", "email": "bo@"}}
    )
    assert [(e["field"], e["code"]) for e in errors] == [(["email"], "INVALID")]
    assert "e-mail" in errors[0]["message"]

    errors = await admin.user_errors(
        PERSON_CREATE, {"input": {"contactId": card["id"], "firstName": "Bo", "mobile": "n/a"}}
    )
    assert [(e["field"], e["code"]) for e in errors] == [(["mobile"], "INVALID")]
    assert await count_rows(admin, "person") == 0

    created = await admin.ok(PERSON_CREATE, {"input": {"contactId": card["id"], "firstName": "Bo"}})
    person_id = created["personCreate"]["person"]["id"]
    errors = await admin.user_errors(
        PERSON_UPDATE, {"input": {"id": person_id, "email": "no at sign"}}
    )
    assert [e["field"] for e in errors] == [["email"]]
    persons = await admin.ok(
        "query($id: ID!) { contact(id: $id) { persons { email } } }", {"id": card["id"]}
    )
    assert persons["contact"]["persons"] == [{"email": None}]


async def test_changing_a_missing_person_is_not_found(admin: Api) -> None:
    missing = encode_id("Person", 999)
    errors = await admin.user_errors(PERSON_UPDATE, {"input": {"id": missing, "title": "X"}})
    assert [(e["field"], e["code"]) for e in errors] == [(["id"], "NOT_FOUND")]
    errors = await admin.user_errors(PERSON_DELETE, {"input": {"id": missing}})
    assert [(e["field"], e["code"]) for e in errors] == [(["id"], "NOT_FOUND")]

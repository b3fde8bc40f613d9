"""Custom field values: every type stores good values in their canonical form and refuses bad
ones with a userError naming the field, and nothing is written when anything is wrong."""

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

ERRORS = "userErrors { field message code }"
FIELD_ARCHIVE = f"""mutation($input: FieldDefinitionIdInput!) {{
  fieldDefinitionArchive(input: $input) {{ fieldDefinition {{ archived }} {ERRORS} }} }}"""
CONTACT_CREATE = f"""mutation($input: ContactCreateInput!) {{
  contactCreate(input: $input) {{ contact {{ id values updatedAt }} {ERRORS} }} }}"""
CONTACT_UPDATE = f"""mutation($input: ContactUpdateInput!) {{
  contactUpdate(input: $input) {{ contact {{ id values updatedAt }} {ERRORS} }} }}"""
CONTACT = "query($id: ID!) { contact(id: $id) { id values updatedAt } }"
USER_UPDATE = f"""mutation($input: UserUpdateInput!) {{
  userUpdate(input: $input) {{ user {{ active }} {ERRORS} }} }}"""


# --- helpers ---------------------------------------------------------------------------------


async def create_errors(api: Api, category_id: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    return await api.user_errors(
        CONTACT_CREATE, {"input": {"categoryId": category_id, "name": "Acme", "values": values}}
    )


OPTIONS = [{"value": "gold"}, {"value": "silver"}, {"value": "bronze"}]


# --- good values -----------------------------------------------------------------------------

GOOD_VALUES = [
    pytest.param("TEXT", {}, "Steel and iron", "Steel and iron", id="TEXT"),
    pytest.param(
        "LONG_TEXT", {}, "line one\nline two " * 200, "line one\nline two " * 200, id="LONG_TEXT"
    ),
    pytest.param("INTEGER", {}, 42, 42, id="INTEGER"),
    pytest.param("INTEGER", {}, -7, -7, id="INTEGER-negative"),
    pytest.param("INTEGER", {}, 3.0, 3, id="INTEGER-whole-float"),
    pytest.param("NUMBER", {}, 3.25, 3.25, id="NUMBER"),
    pytest.param("MONEY", {"currency": "EUR"}, "1250.50", 1250.5, id="MONEY-string"),
    pytest.param("MONEY", {"currency": "EUR"}, 99, 99, id="MONEY-integer"),
    pytest.param("MONEY", {"currency": "EUR"}, 19.99, 19.99, id="MONEY-number"),
    pytest.param("MONEY", {"currency": "EUR"}, "2000.00", 2000, id="MONEY-whole"),
    pytest.param("BOOLEAN", {}, True, True, id="BOOLEAN-true"),
    pytest.param("BOOLEAN", {}, False, False, id="BOOLEAN-false"),
    pytest.param("DATE", {}, "2026-03-01", "2026-03-01", id="DATE"),
    pytest.param(
        "DATETIME", {}, "2026-03-01T10:30:00+01:00", "2026-03-01T09:30:00Z", id="DATETIME-offset"
    ),
    pytest.param("DATETIME", {}, "2026-03-01T09:30:00Z", "2026-03-01T09:30:00Z", id="DATETIME-utc"),
    pytest.param("EMAIL", {}, " sales@acme.example ", "sales@acme.example", id="EMAIL"),
    pytest.param("PHONE", {}, "+46 (8) 123-456", "+46 (8) 123-456", id="PHONE"),
    pytest.param(
        "URL", {}, "https://acme.example/about?x=1", "https://acme.example/about?x=1", id="URL"
    ),
    pytest.param("SELECT", {"options": OPTIONS}, "silver", "silver", id="SELECT"),
    pytest.param(
        "MULTI_SELECT",
        {"options": OPTIONS},
        ["gold", "bronze"],
        ["gold", "bronze"],
        id="MULTI_SELECT",
    ),
    pytest.param("RATING", {}, 5, 5, id="RATING"),
    pytest.param("RATING", {}, 1, 1, id="RATING-lowest"),
]


@pytest.mark.parametrize(("field_type", "settings", "given", "stored"), GOOD_VALUES)
async def test_good_value_is_stored_in_canonical_form(
    admin: Api, field_type: str, settings: dict[str, Any], given: Any, stored: Any
) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "value", field_type, label="The value", **settings)

    card = await create_contact(
        admin, category_id, "Acme", {"value": given}, operation=CONTACT_CREATE
    )

    assert card["values"] == {"value": stored}
    assert (await read_contact(admin, card["id"], operation=CONTACT))["values"] == {"value": stored}


def some(params: list[Any], *ids: str) -> list[Any]:
    """A representative subset of a parameter list, by id."""
    chosen = [p for p in params if p.id in ids]
    assert len(chosen) == len(ids)
    return chosen


@pytest.mark.parametrize(
    ("field_type", "settings", "given", "stored"),
    some(
        GOOD_VALUES, "INTEGER", "MONEY-string", "DATETIME-offset", "MULTI_SELECT", "BOOLEAN-false"
    ),
)
async def test_good_value_is_accepted_on_update(
    admin: Api, field_type: str, settings: dict[str, Any], given: Any, stored: Any
) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "value", field_type, label="The value", **settings)
    card = await create_contact(admin, category_id, "Acme", {}, operation=CONTACT_CREATE)

    await admin.ok(CONTACT_UPDATE, {"input": {"id": card["id"], "values": {"value": given}}})

    assert (await read_contact(admin, card["id"], operation=CONTACT))["values"] == {"value": stored}


async def test_user_value_takes_and_returns_a_user_id(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "owner", "USER")
    member_token = await admin.add_user("mia@example.com", "MEMBER")
    mia = await my_id(admin, member_token)

    card = await create_contact(
        admin, category_id, "Acme", {"owner": mia}, operation=CONTACT_CREATE
    )

    assert card["values"] == {"owner": mia}
    assert (await read_contact(admin, card["id"], operation=CONTACT))["values"] == {"owner": mia}
    assert (await admin.ok("query($id: ID!) { node(id: $id) { id } }", {"id": mia}))["node"]


# --- bad values ------------------------------------------------------------------------------

BAD_VALUES = [
    # wrong type
    pytest.param("INTEGER", {}, "5", "expected an integer, got a string", id="INTEGER-string"),
    pytest.param("INTEGER", {}, 1.5, "expected an integer", id="INTEGER-fraction"),
    pytest.param("INTEGER", {}, True, "expected an integer, got a boolean", id="INTEGER-boolean"),
    pytest.param("NUMBER", {}, "3.5", "expected a number, got a string", id="NUMBER-string"),
    pytest.param("BOOLEAN", {}, "yes", "expected true or false, got a string", id="BOOLEAN-yes"),
    pytest.param("BOOLEAN", {}, 1, "expected true or false, got a number", id="BOOLEAN-one"),
    pytest.param("TEXT", {}, 12, "expected a string, got a number", id="TEXT-number"),
    pytest.param("TEXT", {}, ["a"], "expected a string, got a list", id="TEXT-list"),
    pytest.param(
        "LONG_TEXT", {}, {"a": 1}, "expected a string, got an object", id="LONG_TEXT-object"
    ),
    pytest.param("DATE", {}, 20260301, "expected a string", id="DATE-number"),
    # options
    pytest.param(
        "SELECT",
        {"options": OPTIONS},
        "platinum",
        "'platinum' is not one of the options: gold, silver, bronze",
        id="SELECT-unknown-option",
    ),
    pytest.param(
        "MULTI_SELECT",
        {"options": OPTIONS},
        ["gold", "gold"],
        "lists an option more than once",
        id="MULTI_SELECT-duplicate",
    ),
    pytest.param(
        "MULTI_SELECT",
        {"options": OPTIONS},
        ["gold", "tin"],
        "'tin' is not one of the options",
        id="MULTI_SELECT-unknown-option",
    ),
    pytest.param(
        "MULTI_SELECT",
        {"options": OPTIONS},
        "gold",
        "expected a list of options",
        id="MULTI_SELECT-not-a-list",
    ),
    # ranges
    pytest.param(
        "INTEGER",
        {"validation": {"min": 1, "max": 10}},
        0,
        "must be at least 1, got 0",
        id="INTEGER-min",
    ),
    pytest.param(
        "INTEGER",
        {"validation": {"min": 1, "max": 10}},
        11,
        "must be at most 10, got 11",
        id="INTEGER-max",
    ),
    pytest.param(
        "NUMBER", {"validation": {"max": 1.5}}, 1.75, "must be at most 1.5", id="NUMBER-max"
    ),
    pytest.param(
        "MONEY", {"validation": {"min": 0}}, "-0.01", "must be at least 0", id="MONEY-min"
    ),
    pytest.param(
        "DATE",
        {"validation": {"min": "2026-01-01"}},
        "2025-12-31",
        "must be on or after 2026-01-01",
        id="DATE-min",
    ),
    pytest.param(
        "DATE",
        {"validation": {"max": "2026-12-31"}},
        "2027-01-01",
        "must be on or before 2026-12-31",
        id="DATE-max",
    ),
    pytest.param("RATING", {}, 6, "must be at most 5, got 6", id="RATING-above-5"),
    pytest.param("RATING", {}, 0, "must be at least 1, got 0", id="RATING-below-1"),
    # text rules
    pytest.param(
        "TEXT",
        {"validation": {"minLength": 3}},
        "ab",
        "must be at least 3 characters long",
        id="TEXT-minLength",
    ),
    pytest.param(
        "TEXT",
        {"validation": {"maxLength": 5}},
        "abcdef",
        "must be at most 5 characters long",
        id="TEXT-maxLength",
    ),
    pytest.param(
        "TEXT",
        {"validation": {"pattern": "[A-Z]{2}[0-9]+"}},
        "se123",
        "does not match the pattern [A-Z]{2}[0-9]+",
        id="TEXT-pattern",
    ),
    pytest.param("TEXT", {}, "x" * 1001, "is longer than 1000 characters", id="TEXT-too-long"),
    # formats
    pytest.param(
        "EMAIL", {}, "sales(at)acme", "'sales(at)acme' is not an e-mail address", id="EMAIL"
    ),
    pytest.param("PHONE", {}, "call us", "'call us' is not a phone number", id="PHONE"),
    pytest.param(
        "URL", {}, "acme.example", "'acme.example' is not an http(s) URL", id="URL-no-scheme"
    ),
    pytest.param("URL", {}, "ftp://acme.example", "is not an http(s) URL", id="URL-ftp"),
    pytest.param(
        "DATE",
        {},
        "2026-02-30",
        "expected a date as YYYY-MM-DD, got '2026-02-30'",
        id="DATE-no-such-day",
    ),
    pytest.param("DATE", {}, "01.03.2026", "expected a date as YYYY-MM-DD", id="DATE-format"),
    pytest.param("DATETIME", {}, "2026-03-01T10:30:00", "needs a time zone", id="DATETIME-no-zone"),
    pytest.param(
        "DATETIME", {}, "tomorrow", "expected an ISO 8601 date-time", id="DATETIME-garbage"
    ),
    # A moment some time zone would show in year 10000 or year 0.
    pytest.param(
        "DATETIME",
        {},
        "9999-12-31T01:00:00+01:00",
        "9999-12-31T00:00:00Z is out of range: give a date-time from 0001-01-02 to 9999-12-30",
        id="DATETIME-calendar-end",
    ),
    pytest.param(
        "DATETIME", {}, "0001-01-01T23:00:00Z", "is out of range", id="DATETIME-calendar-start"
    ),
    pytest.param("MONEY", {}, "10.123", "at most 2 decimals", id="MONEY-3-decimals"),
    pytest.param("MONEY", {}, 0.125, "at most 2 decimals", id="MONEY-3-decimals-number"),
    pytest.param(
        "MONEY", {}, "lots", "expected an amount such as 1250.50", id="MONEY-not-an-amount"
    ),
    pytest.param("USER", {}, "not an id", "is not a valid ID", id="USER-garbage"),
    pytest.param("USER", {}, encode_id("Contact", 1), "expected a User", id="USER-other-type"),
]


@pytest.mark.parametrize(("field_type", "settings", "given", "message"), BAD_VALUES)
async def test_bad_value_is_refused_on_create_naming_the_field(
    admin: Api, field_type: str, settings: dict[str, Any], given: Any, message: str
) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "value", field_type, label="The value", **settings)

    errors = await create_errors(admin, category_id, {"value": given})

    assert len(errors) == 1, errors
    assert errors[0]["field"] == ["values", "value"]
    assert errors[0]["code"] == "INVALID"
    assert errors[0]["message"].startswith("The value: "), errors[0]  # the field's label
    assert message in errors[0]["message"], errors[0]
    assert await count_rows(admin, "contact") == 0


@pytest.mark.parametrize(
    ("field_type", "settings", "given", "message"),
    some(
        BAD_VALUES,
        "INTEGER-string",
        "BOOLEAN-yes",
        "MULTI_SELECT-duplicate",
        "RATING-above-5",
        "TEXT-pattern",
        "DATE-no-such-day",
        "DATETIME-no-zone",
        "MONEY-3-decimals",
        "USER-other-type",
    ),
)
async def test_bad_value_is_refused_on_update_and_nothing_changes(
    admin: Api, field_type: str, settings: dict[str, Any], given: Any, message: str
) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "value", field_type, label="The value", **settings)
    await create_field(admin, category_id, "note", "TEXT")
    card = await create_contact(
        admin, category_id, "Acme", {"note": "before"}, operation=CONTACT_CREATE
    )

    errors = await admin.user_errors(
        CONTACT_UPDATE,
        {
            "input": {
                "id": card["id"],
                "name": "Renamed",
                "values": {"note": "after", "value": given},
            }
        },
    )

    assert [(e["field"], e["code"]) for e in errors] == [(["values", "value"], "INVALID")]
    assert message in errors[0]["message"], errors[0]
    unchanged = await read_contact(admin, card["id"], operation=CONTACT)
    assert unchanged == card
    assert await count_rows(admin, "contact") == 1


async def test_user_id_of_someone_who_does_not_exist_is_refused(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "owner", "USER")

    errors = await create_errors(admin, category_id, {"owner": encode_id("User", 999)})

    assert [(e["field"], e["code"]) for e in errors] == [(["values", "owner"], "NOT_FOUND")]
    assert "no active user" in errors[0]["message"]
    assert await count_rows(admin, "contact") == 0


async def test_user_id_of_a_deactivated_user_is_refused(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "owner", "USER")
    member_token = await admin.add_user("gone@example.com", "MEMBER")
    gone = await my_id(admin, member_token)
    await admin.ok(USER_UPDATE, {"input": {"id": gone, "active": False}})

    errors = await create_errors(admin, category_id, {"owner": gone})

    assert [(e["field"], e["code"]) for e in errors] == [(["values", "owner"], "NOT_FOUND")]
    assert await count_rows(admin, "contact") == 0


async def test_unknown_key_is_refused(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "size", "INTEGER")

    errors = await create_errors(admin, category_id, {"size": 3, "colour": "red"})

    assert [(e["field"], e["code"]) for e in errors] == [(["values", "colour"], "UNKNOWN_FIELD")]
    assert "Customers has no field 'colour'" in errors[0]["message"]
    assert await count_rows(admin, "contact") == 0


async def test_values_must_be_an_object(admin: Api) -> None:
    category_id = await new_category_id(admin)
    errors = await create_errors(admin, category_id, ["size", 3])  # type: ignore[arg-type]
    assert [(e["field"], e["code"]) for e in errors] == [(["values"], "INVALID")]
    assert await count_rows(admin, "contact") == 0


async def test_archived_field_cannot_be_written(admin: Api) -> None:
    category_id = await new_category_id(admin)
    field_id = (await create_field(admin, category_id, "size", "INTEGER"))["id"]
    card = await create_contact(admin, category_id, "Acme", {"size": 3}, operation=CONTACT_CREATE)
    await admin.ok(FIELD_ARCHIVE, {"input": {"id": field_id}})

    errors = await create_errors(admin, category_id, {"size": 4})
    assert [(e["field"], e["code"]) for e in errors] == [(["values", "size"], "ARCHIVED")]
    assert "restore" in errors[0]["message"]
    assert await count_rows(admin, "contact") == 1

    errors = await admin.user_errors(
        CONTACT_UPDATE, {"input": {"id": card["id"], "values": {"size": 5}}}
    )
    assert [(e["field"], e["code"]) for e in errors] == [(["values", "size"], "ARCHIVED")]
    # Archived fields are hidden from the card.
    assert (await read_contact(admin, card["id"], operation=CONTACT))["values"] == {}


async def test_several_bad_values_give_one_error_per_key(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "size", "INTEGER")
    await create_field(admin, category_id, "tier", "SELECT", options=OPTIONS)
    await create_field(admin, category_id, "since", "DATE")
    await create_field(admin, category_id, "name2", "TEXT")
    await create_field(admin, category_id, "vatId", "TEXT", label="VAT number", required=True)

    errors = await create_errors(
        admin,
        category_id,
        {"size": "many", "tier": "tin", "since": "yesterday", "name2": "fine", "nope": 1},
    )

    by_key = {e["field"][1]: e for e in errors}
    assert len(errors) == len(by_key) == 5, errors
    assert {k: e["code"] for k, e in by_key.items()} == {
        "size": "INVALID",
        "tier": "INVALID",
        "since": "INVALID",
        "nope": "UNKNOWN_FIELD",
        "vatId": "REQUIRED",
    }
    assert all(e["field"][0] == "values" for e in errors)
    assert "expected an integer" in by_key["size"]["message"]
    assert "'tin' is not one of the options" in by_key["tier"]["message"]
    assert "YYYY-MM-DD" in by_key["since"]["message"]
    assert await count_rows(admin, "contact") == 0


# --- required, default, unique ---------------------------------------------------------------


async def test_required_field_missing_on_create_is_refused(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "vatId", "TEXT", label="VAT number", required=True)

    for values in ({}, {"vatId": None}):
        errors = await create_errors(admin, category_id, values)
        assert [(e["field"], e["code"]) for e in errors] == [(["values", "vatId"], "REQUIRED")]
        assert errors[0]["message"] == "VAT number is required"
    assert await count_rows(admin, "contact") == 0

    card = await create_contact(
        admin, category_id, "Acme", {"vatId": "SE556"}, operation=CONTACT_CREATE
    )
    assert card["values"] == {"vatId": "SE556"}


async def test_default_value_is_applied_on_create_only(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "tier", "SELECT", options=OPTIONS, defaultValue="bronze")
    await create_field(admin, category_id, "size", "INTEGER", defaultValue=1)

    defaulted = await create_contact(admin, category_id, "Acme", {}, operation=CONTACT_CREATE)
    assert defaulted["values"] == {"tier": "bronze", "size": 1}

    chosen = await create_contact(
        admin, category_id, "Acme", {"tier": "gold", "size": 20}, operation=CONTACT_CREATE
    )
    assert chosen["values"] == {"tier": "gold", "size": 20}

    # Clearing a value later leaves it empty rather than bringing the default back.
    await admin.ok(CONTACT_UPDATE, {"input": {"id": defaulted["id"], "values": {"size": None}}})
    assert (await read_contact(admin, defaulted["id"], operation=CONTACT))["values"] == {
        "tier": "bronze",
        "size": None,
    }


async def test_required_field_with_a_default_needs_no_value(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "size", "INTEGER", required=True, defaultValue=5)
    card = await create_contact(admin, category_id, "Acme", {}, operation=CONTACT_CREATE)
    assert card["values"] == {"size": 5}


async def test_unique_value_is_refused_on_a_second_card(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "vatId", "TEXT", label="VAT number", unique=True)
    first = await create_contact(
        admin, category_id, "Acme", {"vatId": "SE556"}, operation=CONTACT_CREATE
    )
    other = await create_contact(
        admin, category_id, "Acme", {"vatId": "SE557"}, operation=CONTACT_CREATE
    )

    errors = await create_errors(admin, category_id, {"vatId": "SE556"})
    assert [(e["field"], e["code"]) for e in errors] == [(["values", "vatId"], "DUPLICATE")]
    assert "Another card in Customers already has this VAT number" in errors[0]["message"]
    assert await count_rows(admin, "contact") == 2

    errors = await admin.user_errors(
        CONTACT_UPDATE, {"input": {"id": other["id"], "values": {"vatId": "SE556"}}}
    )
    assert [(e["field"], e["code"]) for e in errors] == [(["values", "vatId"], "DUPLICATE")]
    assert (await read_contact(admin, other["id"], operation=CONTACT))["values"] == {
        "vatId": "SE557"
    }

    # A card keeping its own value is no conflict, and another category may use the value.
    await admin.ok(CONTACT_UPDATE, {"input": {"id": first["id"], "values": {"vatId": "SE556"}}})
    suppliers = await new_category_id(admin, "suppliers")
    await create_field(admin, suppliers, "vatId", "TEXT", label="VAT number", unique=True)
    await create_contact(admin, suppliers, "Acme", {"vatId": "SE556"}, operation=CONTACT_CREATE)

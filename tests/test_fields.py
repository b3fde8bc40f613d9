"""Field definitions: typed custom fields an admin adds to a category, changes and archives."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Api
from tests.helpers import (
    CONTACT_CREATE,
    CONTACT_DELETE,
    CONTACT_RESTORE,
    CONTACT_UPDATE,
    FIELD_ARCHIVE,
    FIELD_CREATE,
    FIELD_REORDER,
    FIELD_RESTORE,
    FIELD_UPDATE,
    contact_values,
    create_contact,
    create_field,
    field_list,
    my_id,
    new_category_id,
)

CONTACTS_WHERE = """query($categoryId: ID!, $filter: ContactFilter) {
  contacts(categoryId: $categoryId, filter: $filter, orderBy: [{field: NAME}]) {
    totalCount nodes { name values } } }"""
SEARCH = """query($categoryId: ID!, $search: String) {
  contacts(categoryId: $categoryId, search: $search) { nodes { name values } } }"""
NO_VALIDATION = {"min": None, "max": None, "minLength": None, "maxLength": None, "pattern": None}
TIERS: list[dict[str, Any]] = [
    {"value": "gold", "label": "Gold", "color": "#FFD700"},
    {"value": "silver", "label": "Silver", "color": None},
    {"value": "bronze", "label": "Bronze", "color": None},
]


def problems(errors: list[dict[str, Any]]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in errors]


# --- creating fields ---------------------------------------------------------------------------

EVERY_TYPE = [
    (
        "TEXT",
        {"validation": {"minLength": 2, "maxLength": 20, "pattern": "[A-Z]{2}-[0-9]+"}},
        "AB-12",
        "AB-12",
    ),
    ("LONG_TEXT", {"validation": {"maxLength": 5000}}, "A long\nstory", "A long\nstory"),
    ("INTEGER", {"validation": {"min": 0, "max": 100}, "indexed": True}, 42, 42),
    ("NUMBER", {"validation": {"min": -1.5, "max": 1.5}}, 0.25, 0.25),
    ("MONEY", {"currency": "EUR", "validation": {"min": 0}}, "1250.50", 1250.5),
    ("BOOLEAN", {"defaultValue": False}, True, True),
    (
        "DATE",
        {"validation": {"min": "2000-01-01", "max": "2099-12-31"}},
        "2026-03-01",
        "2026-03-01",
    ),
    ("DATETIME", {}, "2026-03-01T10:30:00+01:00", "2026-03-01T09:30:00Z"),
    ("EMAIL", {"unique": True}, " info@example.com ", "info@example.com"),
    ("PHONE", {"indexed": True}, "+49 30 1234567", "+49 30 1234567"),
    ("URL", {}, "https://example.com/about", "https://example.com/about"),
    ("SELECT", {"options": TIERS, "defaultValue": "silver"}, "gold", "gold"),
    ("MULTI_SELECT", {"options": TIERS}, ["gold", "bronze"], ["gold", "bronze"]),
    ("RATING", {"validation": {"max": 10}}, 7, 7),
    ("USER", {"required": True}, "me", "me"),
]


@pytest.mark.parametrize(
    ("field_type", "settings", "value", "shown"), EVERY_TYPE, ids=[t[0] for t in EVERY_TYPE]
)
async def test_every_field_type_stores_a_value_a_card_shows_back(
    admin: Api, field_type: str, settings: dict[str, Any], value: Any, shown: Any
) -> None:
    if field_type == "USER":
        value = shown = await my_id(admin)
    category_id = await new_category_id(admin)

    definition = await create_field(admin, category_id, "info", field_type, **settings)
    card = await create_contact(admin, category_id, "Acme", {"info": value})

    assert definition["type"] == field_type
    assert definition["key"] == "info"
    assert card["values"] == {"info": shown}
    assert await contact_values(admin, card["id"]) == {"info": shown}


async def test_field_definition_shows_every_setting(admin: Api) -> None:
    category_id = await new_category_id(admin)

    tier = await create_field(
        admin,
        category_id,
        "tier",
        "SELECT",
        label="Tier",
        required=True,
        options=[{"value": "gold", "color": "#ffd700"}, {"value": "silver", "label": "Silver"}],
        defaultValue="silver",
    )
    revenue = await create_field(
        admin,
        category_id,
        "revenue",
        "MONEY",
        label="Revenue",
        currency="EUR",
        validation={"min": 0, "max": 1_000_000},
    )
    vat = await create_field(
        admin,
        category_id,
        "vatId",
        "TEXT",
        label="VAT ID",
        unique=True,
        validation={"pattern": "[A-Z]{2}[0-9]+"},
    )

    assert {k: tier[k] for k in ("label", "required", "unique", "indexed", "defaultValue")} == {
        "label": "Tier",
        "required": True,
        "unique": False,
        "indexed": False,
        "defaultValue": "silver",
    }
    assert tier["options"] == [
        {"value": "gold", "label": "gold", "color": "#ffd700"},
        {"value": "silver", "label": "Silver", "color": None},
    ]
    assert tier["validation"] is None
    assert revenue["currency"] == "EUR"
    assert revenue["validation"] == {**NO_VALIDATION, "min": 0, "max": 1_000_000}
    assert revenue["options"] is None
    assert vat["unique"] is True
    assert vat["indexed"] is True, "a unique field is also searchable by its index"
    assert vat["validation"] == {**NO_VALIDATION, "pattern": "[A-Z]{2}[0-9]+"}
    assert [f["key"] for f in await field_list(admin, category_id)] == ["tier", "revenue", "vatId"]
    assert [f["position"] for f in await field_list(admin, category_id)] == [0, 1, 2]


async def test_new_card_gets_defaults_and_must_fill_required_fields(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "size", "INTEGER", defaultValue=10)
    await create_field(admin, category_id, "active", "BOOLEAN", defaultValue=False)
    await create_field(admin, category_id, "tier", "SELECT", options=TIERS, defaultValue="silver")
    await create_field(admin, category_id, "vatId", "TEXT", label="VAT ID", required=True)

    errors = await admin.user_errors(
        CONTACT_CREATE, {"input": {"categoryId": category_id, "name": "Acme", "values": {}}}
    )
    assert problems(errors) == [("REQUIRED", ["values", "vatId"])]
    assert "VAT ID" in errors[0]["message"]

    card = await create_contact(admin, category_id, "Acme", {"vatId": "DE1", "size": 3})
    assert card["values"] == {"size": 3, "active": False, "tier": "silver", "vatId": "DE1"}


async def test_values_are_checked_against_the_field_settings(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "score", "INTEGER", validation={"min": 0, "max": 100})
    await create_field(admin, category_id, "code", "TEXT", validation={"pattern": "[A-Z]{3}"})

    errors = await admin.user_errors(
        CONTACT_CREATE,
        {
            "input": {
                "categoryId": category_id,
                "name": "Acme",
                "values": {"score": 101, "code": "abc"},
            }
        },
    )

    assert sorted(problems(errors)) == [
        ("INVALID", ["values", "code"]),
        ("INVALID", ["values", "score"]),
    ]


REFUSED = [
    pytest.param(
        "TEXT", {"options": [{"value": "a"}]}, ["options"], "SELECT", id="options-on-text"
    ),
    pytest.param("SELECT", {}, ["options"], "at least one option", id="select-without-options"),
    pytest.param(
        "MULTI_SELECT",
        {"options": []},
        ["options"],
        "at least one option",
        id="multi-select-empty-options",
    ),
    pytest.param(
        "SELECT",
        {"options": [{"value": "a"}, {"value": "b"}, {"value": "a"}]},
        ["options"],
        "repeated: a",
        id="duplicate-option-values",
    ),
    pytest.param(
        "SELECT",
        {"options": [{"value": "a", "color": "red"}]},
        ["options", "0", "color"],
        "#RRGGBB",
        id="colour-red",
    ),
    pytest.param(
        "SELECT",
        {"options": [{"value": "a"}, {"value": " "}]},
        ["options", "1", "value"],
        "option value",
        id="blank-option-value",
    ),
    pytest.param(
        "INTEGER",
        {"validation": {"pattern": "[0-9]+"}},
        ["validation"],
        "pattern",
        id="pattern-on-integer",
    ),
    pytest.param("TEXT", {"validation": {"min": 1}}, ["validation"], "min", id="min-on-text"),
    pytest.param(
        "BOOLEAN",
        {"validation": {"maxLength": 1}},
        ["validation"],
        "maxLength",
        id="max-length-on-boolean",
    ),
    pytest.param(
        "SELECT",
        {"options": [{"value": "a"}], "validation": {"pattern": "a"}},
        ["validation"],
        "pattern",
        id="pattern-on-select",
    ),
    pytest.param(
        "INTEGER",
        {"validation": {"min": 10, "max": 1}},
        ["validation"],
        "min is greater than max",
        id="min-above-max",
    ),
    pytest.param(
        "DATE",
        {"validation": {"min": "2026-12-31", "max": "2026-01-01"}},
        ["validation"],
        "min is greater than max",
        id="date-min-above-max",
    ),
    pytest.param(
        "DATE",
        {"validation": {"min": "31.12.2026"}},
        ["validation", "min"],
        "YYYY-MM-DD",
        id="date-min-not-a-date",
    ),
    pytest.param(
        "NUMBER",
        {"validation": {"max": "ten"}},
        ["validation", "max"],
        "number",
        id="max-not-a-number",
    ),
    pytest.param(
        "TEXT",
        {"validation": {"pattern": "([a-z]"}},
        ["validation", "pattern"],
        "regular expression",
        id="invalid-regex",
    ),
    pytest.param(
        "TEXT",
        {"validation": {"minLength": -1}},
        ["validation", "minLength"],
        "minLength",
        id="negative-min-length",
    ),
    pytest.param(
        "TEXT",
        {"validation": {"minLength": 10, "maxLength": 5}},
        ["validation"],
        "minLength",
        id="min-length-above-max-length",
    ),
    pytest.param("BOOLEAN", {"unique": True}, ["unique"], "unique", id="unique-boolean"),
    pytest.param(
        "MULTI_SELECT",
        {"unique": True, "options": [{"value": "a"}]},
        ["unique"],
        "unique",
        id="unique-multi-select",
    ),
    pytest.param("LONG_TEXT", {"unique": True}, ["unique"], "unique", id="unique-long-text"),
    pytest.param("LONG_TEXT", {"indexed": True}, ["indexed"], "indexed", id="indexed-long-text"),
    pytest.param(
        "INTEGER", {"defaultValue": "x"}, ["defaultValue"], "integer", id="text-default-on-integer"
    ),
    pytest.param(
        "INTEGER",
        {"defaultValue": 11, "validation": {"max": 10}},
        ["defaultValue"],
        "at most 10",
        id="default-above-max",
    ),
    pytest.param(
        "SELECT",
        {"options": [{"value": "a"}], "defaultValue": "b"},
        ["defaultValue"],
        "options",
        id="default-not-an-option",
    ),
    pytest.param(
        "EMAIL", {"defaultValue": "nobody"}, ["defaultValue"], "e-mail", id="default-not-an-email"
    ),
    pytest.param("MONEY", {"currency": "euro"}, ["currency"], "ISO 4217", id="currency-not-iso"),
    pytest.param("TEXT", {"label": "   "}, ["label"], "label", id="blank-label"),
    pytest.param("TEXT", {"key": "Has Space"}, ["key"], "key", id="bad-key"),
    pytest.param("TEXT", {"key": "1st"}, ["key"], "key", id="key-starting-with-digit"),
    pytest.param("TEXT", {"position": -1}, ["position"], "position", id="negative-position"),
]


@pytest.mark.parametrize(("field_type", "settings", "field", "message"), REFUSED)
async def test_settings_that_do_not_fit_are_refused_naming_the_setting(
    admin: Api, field_type: str, settings: dict[str, Any], field: list[str], message: str
) -> None:
    category_id = await new_category_id(admin)
    field_input = {"categoryId": category_id, "key": "info", "label": "Info", "type": field_type}

    errors = await admin.user_errors(FIELD_CREATE, {"input": {**field_input, **settings}})

    assert problems(errors) == [("INVALID", field)]
    assert message in errors[0]["message"]
    assert await field_list(admin, category_id, include_archived=True) == []


async def test_field_key_is_unique_within_its_category_only(admin: Api) -> None:
    customers = await new_category_id(admin, "customers")
    suppliers = await new_category_id(admin, "suppliers")
    await create_field(admin, customers, "vatId", label="VAT ID")

    errors = await admin.user_errors(
        FIELD_CREATE,
        {"input": {"categoryId": customers, "key": "vatId", "label": "Other", "type": "INTEGER"}},
    )
    in_other_category = await create_field(admin, suppliers, "vatId", "INTEGER")

    assert problems(errors) == [("DUPLICATE", ["key"])]
    assert "vatId" in errors[0]["message"]
    assert [(f["label"], f["type"]) for f in await field_list(admin, customers)] == [
        ("VAT ID", "TEXT")
    ]
    assert in_other_category["type"] == "INTEGER"


async def test_new_field_is_placed_at_the_position_asked_for(admin: Api) -> None:
    category_id = await new_category_id(admin)
    for key in ("a", "b", "c"):
        await create_field(admin, category_id, key)

    await create_field(admin, category_id, "inserted", position=1)

    assert [f["key"] for f in await field_list(admin, category_id)] == ["a", "inserted", "b", "c"]


# --- changing fields ---------------------------------------------------------------------------


async def test_relabelling_a_field_keeps_its_key_and_values(admin: Api) -> None:
    category_id = await new_category_id(admin)
    vat = await create_field(admin, category_id, "vatId", label="VAT")
    card = await create_contact(admin, category_id, "Acme", {"vatId": "DE123"})

    data = await admin.ok(FIELD_UPDATE, {"input": {"id": vat["id"], "label": "VAT number"}})

    assert data["fieldDefinitionUpdate"]["fieldDefinition"] == {**vat, "label": "VAT number"}
    assert await contact_values(admin, card["id"]) == {"vatId": "DE123"}


async def test_field_key_cannot_be_changed(admin: Api) -> None:
    category_id = await new_category_id(admin)
    vat = await create_field(admin, category_id, "vatId")

    errors = await admin.errors(FIELD_UPDATE, {"input": {"id": vat["id"], "key": "taxId"}})

    assert "key" in errors[0]["message"]
    assert [f["key"] for f in await field_list(admin, category_id)] == ["vatId"]


async def test_null_clears_validation_and_default_while_omitted_settings_stay(admin: Api) -> None:
    category_id = await new_category_id(admin)
    size = await create_field(
        admin, category_id, "size", "INTEGER", required=True, validation={"min": 1}, defaultValue=5
    )

    data = await admin.ok(
        FIELD_UPDATE, {"input": {"id": size["id"], "validation": None, "defaultValue": None}}
    )

    changed = data["fieldDefinitionUpdate"]["fieldDefinition"]
    assert changed == {**size, "validation": None, "defaultValue": None}
    card = await create_contact(admin, category_id, "Acme", {"size": 0})
    assert card["values"] == {"size": 0}


async def test_a_default_kept_as_it_is_is_not_checked_again(admin: Api) -> None:
    """A default set before a rule that it breaks (a date-time now too near the calendar's
    end) does not stop a rename; a new default is held to the rules."""
    category_id = await new_category_id(admin)
    until = await create_field(
        admin, category_id, "until", "DATETIME", defaultValue="2026-01-01T00:00:00Z"
    )
    async with admin.engine.begin() as connection:
        await connection.execute(
            text("UPDATE field_definition SET default_value = :v WHERE key = 'until'"),
            {"v": '"9999-12-31T23:59:59Z"'},
        )
    data = await admin.ok(FIELD_UPDATE, {"input": {"id": until["id"], "label": "Valid until"}})
    assert data["fieldDefinitionUpdate"]["fieldDefinition"]["label"] == "Valid until"
    errors = await admin.user_errors(
        FIELD_UPDATE, {"input": {"id": until["id"], "defaultValue": "9999-12-31T00:00:00Z"}}
    )
    assert errors[0]["field"] == ["defaultValue"]
    assert "out of range" in errors[0]["message"]


async def test_archived_field_is_hidden_but_its_values_are_kept(admin: Api) -> None:
    category_id = await new_category_id(admin)
    notes = await create_field(admin, category_id, "notes", required=True)
    await create_field(admin, category_id, "tier", "SELECT", options=TIERS)
    card = await create_contact(admin, category_id, "Acme", {"notes": "Pays late", "tier": "gold"})

    data = await admin.ok(FIELD_ARCHIVE, {"input": {"id": notes["id"]}})

    assert data["fieldDefinitionArchive"]["fieldDefinition"]["archived"] is True
    assert [f["key"] for f in await field_list(admin, category_id)] == ["tier"]
    assert [
        (f["key"], f["archived"])
        for f in await field_list(admin, category_id, include_archived=True)
    ] == [
        ("notes", True),
        ("tier", False),
    ]
    assert await contact_values(admin, card["id"]) == {"tier": "gold"}
    # An archived required field no longer asks for a value, and takes none.
    await create_contact(admin, category_id, "Globex", {"tier": "silver"})
    errors = await admin.user_errors(
        CONTACT_UPDATE, {"input": {"id": card["id"], "values": {"notes": "Pays on time"}}}
    )
    assert problems(errors) == [("ARCHIVED", ["values", "notes"])]

    restored = await admin.ok(FIELD_RESTORE, {"input": {"id": notes["id"]}})

    assert restored["fieldDefinitionRestore"]["fieldDefinition"]["archived"] is False
    assert [f["key"] for f in await field_list(admin, category_id)] == ["notes", "tier"]
    assert await contact_values(admin, card["id"]) == {"notes": "Pays late", "tier": "gold"}


async def test_reordering_fields_changes_their_display_order(admin: Api) -> None:
    category_id = await new_category_id(admin)
    a, b, c = [await create_field(admin, category_id, key) for key in ("a", "b", "c")]

    data = await admin.ok(
        FIELD_REORDER,
        {"input": {"categoryId": category_id, "fieldIds": [c["id"], a["id"], b["id"]]}},
    )

    assert data["fieldDefinitionReorder"]["fields"] == [
        {"id": c["id"], "key": "c", "position": 0},
        {"id": a["id"], "key": "a", "position": 1},
        {"id": b["id"], "key": "b", "position": 2},
    ]
    assert [f["key"] for f in await field_list(admin, category_id)] == ["c", "a", "b"]


async def test_reorder_may_leave_out_archived_fields_which_go_last(admin: Api) -> None:
    category_id = await new_category_id(admin)
    a, b, c = [await create_field(admin, category_id, key) for key in ("a", "b", "c")]
    await admin.ok(FIELD_ARCHIVE, {"input": {"id": a["id"]}})

    await admin.ok(
        FIELD_REORDER, {"input": {"categoryId": category_id, "fieldIds": [c["id"], b["id"]]}}
    )

    assert [f["key"] for f in await field_list(admin, category_id, include_archived=True)] == [
        "c",
        "b",
        "a",
    ]


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(["c", "a"], id="one-missing"),
        pytest.param(["c", "a", "b", "a"], id="one-twice"),
        pytest.param(["c", "a", "b", "other"], id="field-of-another-category"),
        pytest.param([], id="empty"),
    ],
)
async def test_reorder_must_list_every_active_field_exactly_once(
    admin: Api, order: list[str]
) -> None:
    category_id = await new_category_id(admin)
    ids = {key: (await create_field(admin, category_id, key))["id"] for key in ("a", "b", "c")}
    suppliers = await new_category_id(admin, "suppliers")
    ids["other"] = (await create_field(admin, suppliers, "other"))["id"]

    errors = await admin.user_errors(
        FIELD_REORDER, {"input": {"categoryId": category_id, "fieldIds": [ids[k] for k in order]}}
    )

    assert problems(errors) == [("INVALID", ["fieldIds"])]
    assert [f["key"] for f in await field_list(admin, category_id)] == ["a", "b", "c"]


# --- changing a field's type or options ---------------------------------------------------------


async def test_text_field_becomes_integer_when_every_value_converts(admin: Api) -> None:
    category_id = await new_category_id(admin)
    employees = await create_field(admin, category_id, "employees", "TEXT", indexed=True)
    big = await create_contact(admin, category_id, "Acme", {"employees": "12"})
    small = await create_contact(admin, category_id, "Globex", {"employees": " 7 "})
    empty = await create_contact(admin, category_id, "Initech")

    data = await admin.ok(FIELD_UPDATE, {"input": {"id": employees["id"], "type": "INTEGER"}})

    assert data["fieldDefinitionUpdate"]["fieldDefinition"]["type"] == "INTEGER"
    assert await contact_values(admin, big["id"]) == {"employees": 12}
    assert await contact_values(admin, small["id"]) == {"employees": 7}
    assert await contact_values(admin, empty["id"]) == {"employees": None}
    # Compared as numbers now: as text, "12" < "7".
    found = await admin.ok(
        CONTACTS_WHERE,
        {"categoryId": category_id, "filter": {"fields": [{"key": "employees", "gt": 8}]}},
    )
    assert [c["name"] for c in found["contacts"]["nodes"]] == ["Acme"]
    update = await admin.user_errors(
        CONTACT_UPDATE, {"input": {"id": small["id"], "values": {"employees": "eight"}}}
    )
    assert problems(update) == [("INVALID", ["values", "employees"])]


async def test_numbers_turned_into_text_are_found_by_search(admin: Api) -> None:
    category_id = await new_category_id(admin)
    customer_no = await create_field(admin, category_id, "customerNo", "INTEGER")
    await create_contact(admin, category_id, "Acme", {"customerNo": 4711})

    await admin.ok(FIELD_UPDATE, {"input": {"id": customer_no["id"], "type": "TEXT"}})

    found = await admin.ok(SEARCH, {"categoryId": category_id, "search": "4711"})
    assert [c["name"] for c in found["contacts"]["nodes"]] == ["Acme"]
    assert found["contacts"]["nodes"][0]["values"] == {"customerNo": "4711"}


async def test_type_change_is_refused_while_values_do_not_convert(admin: Api) -> None:
    category_id = await new_category_id(admin)
    employees = await create_field(admin, category_id, "employees", "TEXT")
    cards = {
        name: await create_contact(admin, category_id, name, {"employees": value})
        for name, value in (("Acme", "12"), ("Globex", "about fifty"), ("Initech", "12.5"))
    }

    errors = await admin.user_errors(
        FIELD_UPDATE, {"input": {"id": employees["id"], "type": "INTEGER", "label": "Staff"}}
    )

    assert problems(errors) == [("CONFLICT", ["type"])]
    assert "2 existing value(s)" in errors[0]["message"]
    assert "employees" in errors[0]["message"]
    assert await field_list(admin, category_id) == [employees]
    assert {
        name: (await contact_values(admin, card["id"]))["employees"] for name, card in cards.items()
    } == {
        "Acme": "12",
        "Globex": "about fifty",
        "Initech": "12.5",
    }


@pytest.mark.parametrize("text", ["inf", "sNaN", "NaN"])
async def test_text_naming_no_finite_number_blocks_a_change_to_integer(
    admin: Api, text: str
) -> None:
    category_id = await new_category_id(admin)
    employees = await create_field(admin, category_id, "employees", "TEXT")
    card = await create_contact(admin, category_id, "Acme", {"employees": text})

    errors = await admin.user_errors(
        FIELD_UPDATE, {"input": {"id": employees["id"], "type": "INTEGER"}}
    )

    assert problems(errors) == [("CONFLICT", ["type"])]
    assert "1 existing value(s)" in errors[0]["message"]
    assert await contact_values(admin, card["id"]) == {"employees": text}


async def test_select_option_in_use_cannot_be_removed(admin: Api) -> None:
    category_id = await new_category_id(admin)
    tier = await create_field(admin, category_id, "tier", "SELECT", options=TIERS)
    await create_contact(admin, category_id, "Acme", {"tier": "gold"})
    silver = await create_contact(admin, category_id, "Globex", {"tier": "silver"})
    gold_and_bronze = [TIERS[0], TIERS[2]]

    errors = await admin.user_errors(
        FIELD_UPDATE, {"input": {"id": tier["id"], "options": gold_and_bronze}}
    )

    assert problems(errors) == [("CONFLICT", ["options"])]
    assert "1 existing value(s)" in errors[0]["message"]
    assert (await field_list(admin, category_id))[0]["options"] == TIERS
    assert await contact_values(admin, silver["id"]) == {"tier": "silver"}

    # An option no card uses may go, and labels may change.
    relabelled = [{**TIERS[0], "label": "Gold partner"}, TIERS[1]]
    data = await admin.ok(FIELD_UPDATE, {"input": {"id": tier["id"], "options": relabelled}})
    assert data["fieldDefinitionUpdate"]["fieldDefinition"]["options"] == relabelled
    assert await contact_values(admin, silver["id"]) == {"tier": "silver"}


# --- unique values ------------------------------------------------------------------------------


async def test_unique_is_refused_while_cards_share_a_value_then_enforced(admin: Api) -> None:
    category_id = await new_category_id(admin)
    vat = await create_field(admin, category_id, "vatId", label="VAT ID")
    cards = {
        name: await create_contact(admin, category_id, name, {"vatId": value})
        for name, value in (("A", "DE1"), ("B", "DE1"), ("C", "DE2"), ("D", "DE2"), ("E", "DE3"))
    }

    errors = await admin.user_errors(FIELD_UPDATE, {"input": {"id": vat["id"], "unique": True}})

    assert problems(errors) == [("CONFLICT", ["unique"])]
    assert "2 value(s)" in errors[0]["message"]
    assert (await field_list(admin, category_id))[0]["unique"] is False

    await admin.ok(CONTACT_UPDATE, {"input": {"id": cards["B"]["id"], "values": {"vatId": "DE4"}}})
    await admin.ok(CONTACT_UPDATE, {"input": {"id": cards["D"]["id"], "values": {"vatId": None}}})
    data = await admin.ok(FIELD_UPDATE, {"input": {"id": vat["id"], "unique": True}})
    assert data["fieldDefinitionUpdate"]["fieldDefinition"]["unique"] is True

    created = await admin.user_errors(
        CONTACT_CREATE,
        {"input": {"categoryId": category_id, "name": "F", "values": {"vatId": "DE1"}}},
    )
    assert problems(created) == [("DUPLICATE", ["values", "vatId"])]
    assert "VAT ID" in created[0]["message"]
    updated = await admin.user_errors(
        CONTACT_UPDATE, {"input": {"id": cards["E"]["id"], "values": {"vatId": "DE2"}}}
    )
    assert problems(updated) == [("DUPLICATE", ["values", "vatId"])]
    assert await contact_values(admin, cards["E"]["id"]) == {"vatId": "DE3"}


async def test_type_change_that_would_merge_unique_values_is_refused(admin: Api) -> None:
    category_id = await new_category_id(admin)
    number = await create_field(admin, category_id, "customerNo", "TEXT", unique=True)
    seven = await create_contact(admin, category_id, "Acme", {"customerNo": "7"})
    await create_contact(admin, category_id, "Globex", {"customerNo": "007"})

    errors = await admin.user_errors(
        FIELD_UPDATE, {"input": {"id": number["id"], "type": "INTEGER"}}
    )

    assert [e["code"] for e in errors] == ["CONFLICT"]
    assert "1 value(s)" in errors[0]["message"]
    assert (await field_list(admin, category_id))[0]["type"] == "TEXT"
    assert await contact_values(admin, seven["id"]) == {"customerNo": "7"}


async def test_deleted_cards_free_their_unique_value_until_restored(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "vatId", unique=True)
    old = await create_contact(admin, category_id, "Old Acme", {"vatId": "DE1"})
    await admin.ok(CONTACT_DELETE, {"input": {"id": old["id"]}})

    await create_contact(admin, category_id, "New Acme", {"vatId": "DE1"})
    errors = await admin.user_errors(CONTACT_RESTORE, {"input": {"id": old["id"]}})

    assert problems(errors) == [("DUPLICATE", ["values", "vatId"])]


async def test_same_unique_value_in_another_category_is_fine(admin: Api) -> None:
    customers = await new_category_id(admin, "customers")
    suppliers = await new_category_id(admin, "suppliers")
    for category_id in (customers, suppliers):
        await create_field(admin, category_id, "vatId", unique=True)

    await create_contact(admin, customers, "Acme", {"vatId": "DE1"})
    supplier = await create_contact(admin, suppliers, "Acme Supplies", {"vatId": "DE1"})

    assert supplier["values"] == {"vatId": "DE1"}


async def test_concurrent_cards_with_one_unique_value_only_one_is_created(admin: Api) -> None:
    category_id = await new_category_id(admin)
    await create_field(admin, category_id, "vatId", label="VAT ID", unique=True)

    async def create(name: str) -> dict[str, Any]:
        body = await admin.post(
            CONTACT_CREATE,
            {"input": {"categoryId": category_id, "name": name, "values": {"vatId": "DE1"}}},
            token=admin.admin_token,
        )
        assert "errors" not in body, body
        payload: dict[str, Any] = body["data"]["contactCreate"]
        return payload

    payloads = await asyncio.gather(*(create(f"Acme {n}") for n in range(4)))

    created = [p["contact"] for p in payloads if p["contact"] is not None]
    refused = [problems(p["userErrors"]) for p in payloads if p["contact"] is None]
    assert len(created) == 1
    assert refused == [[("DUPLICATE", ["values", "vatId"])]] * 3
    found = await admin.ok(CONTACTS_WHERE, {"categoryId": category_id})
    assert found["contacts"]["totalCount"] == 1
    assert [c["name"] for c in found["contacts"]["nodes"]] == [created[0]["name"]]


# --- who may change fields ---------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["create", "update", "archive", "reorder"])
async def test_member_cannot_change_field_definitions(admin: Api, operation: str) -> None:
    category_id = await new_category_id(admin)
    vat = await create_field(admin, category_id, "vatId")
    member = await admin.add_user("mia@example.com", "MEMBER")
    query, field_input = {
        "create": (
            FIELD_CREATE,
            {"categoryId": category_id, "key": "size", "label": "Size", "type": "INTEGER"},
        ),
        "update": (FIELD_UPDATE, {"id": vat["id"], "label": "VAT"}),
        "archive": (FIELD_ARCHIVE, {"id": vat["id"]}),
        "reorder": (FIELD_REORDER, {"categoryId": category_id, "fieldIds": [vat["id"]]}),
    }[operation]

    errors = await admin.errors(query, {"input": field_input}, token=member)

    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert await field_list(admin, category_id, include_archived=True) == [vat]

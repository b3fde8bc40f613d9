"""Bad input of any kind gets a clear error that names what was wrong, never an internal one;
pages end; no pattern stalls the service. Every test runs on SQLite and PostgreSQL alike."""

import base64
import json
import time
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from models.categories import FieldDefinition
from models.contacts import Contact
from services.ids import decode_id
from tests.conftest import Api
from tests.helpers import (
    CONTACT_CREATE,
    CONTACT_UPDATE,
    FIELD_CREATE,
    FIELD_UPDATE,
    contact_values,
    count_rows,
    create_category,
    create_contact,
    create_field,
    field_list,
)

LIST = """query($c: ID!, $f: ContactFilter, $o: [ContactOrder!], $s: String, $first: Int,
                $after: String, $last: Int, $before: String) {
  contacts(categoryId: $c, filter: $f, orderBy: $o, search: $s, first: $first, after: $after,
           last: $last, before: $before) {
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
RELATED = """query($id: ID!, $after: String) { contact(id: $id) {
  related(relation: "parent", first: 1, after: $after) { edges { cursor node { name } } } } }"""
RELATION_CREATE = """mutation($i: CategoryRelationCreateInput!) { categoryRelationCreate(input: $i) {
  relation { id } userErrors { message } } }"""
CONTACT_LINK = """mutation($i: ContactLinkInput!) { contactLink(input: $i) {
  userErrors { message } } }"""


# --- helpers ---------------------------------------------------------------------------------


async def refused_value(
    api: Api, category_id: str, values: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    """The one userError of a contactCreate that must fail; nothing may have been written."""
    before = await count_rows(api, "contact")
    errors = await api.user_errors(
        CONTACT_CREATE,
        {"input": {"categoryId": category_id, "name": "Refused", "values": values}},
        token=token,
    )
    assert len(errors) == 1, errors
    assert await count_rows(api, "contact") == before
    return errors[0]


async def field_errors(api: Api, query: str, field_input: dict[str, Any]) -> list[dict[str, Any]]:
    return await api.user_errors(query, {"input": field_input})


async def list_error(api: Api, category_id: str, **arguments: Any) -> dict[str, Any]:
    """The one top-level error of a `contacts` request that must fail, with a clear code."""
    errors = await api.errors(LIST, {"c": category_id, "first": 10, **arguments})
    assert len(errors) == 1, errors
    assert errors[0]["extensions"]["code"] != "INTERNAL_SERVER_ERROR", errors
    return errors[0]


async def names_found(api: Api, category_id: str, **arguments: Any) -> list[str]:
    data = await api.ok(LIST, {"c": category_id, "first": 100, **arguments})
    return [edge["node"]["name"] for edge in data["contacts"]["edges"]]


def decode(cursor: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def encode(data: Any) -> str:
    return encode_raw(json.dumps(data).encode())


def encode_raw(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def write_values_directly(api: Api, contact_id: str, values: dict[str, Any]) -> None:
    """Store values as written before today's checks existed, bypassing them."""
    async with api.engine.begin() as connection:
        await connection.execute(
            update(Contact)
            .where(col(Contact.id) == decode_id(contact_id, "Contact"))
            .values(custom_values=values)
        )


# --- 1. patterns run in linear time -----------------------------------------------------------

EVIL_PATTERN = "(a+)+b"
EVIL_VALUE = "a" * 26 + "c"  # Python's backtracking engine needs seconds for this


async def test_a_catastrophic_pattern_answers_quickly_with_the_right_verdict(admin: Api) -> None:
    category = await create_category(admin, "members")
    await create_field(admin, category["id"], "code", validation={"pattern": EVIL_PATTERN})
    member = await admin.add_user("mia@example.com")

    started = time.perf_counter()
    error = await refused_value(admin, category["id"], {"code": EVIL_VALUE}, token=member)
    assert time.perf_counter() - started < 1
    assert error["field"] == ["values", "code"]
    assert f"does not match the pattern {EVIL_PATTERN}" in error["message"]

    started = time.perf_counter()
    card = await create_contact(admin, category["id"], "Fits", {"code": "a" * 900 + "b"})
    assert time.perf_counter() - started < 1
    assert card["values"] == {"code": "a" * 900 + "b"}


async def test_re_checking_stored_values_against_a_catastrophic_pattern_is_quick(
    admin: Api,
) -> None:
    category = await create_category(admin, "members")
    code = await create_field(admin, category["id"], "code")
    await create_contact(admin, category["id"], "Old", {"code": EVIL_VALUE})

    started = time.perf_counter()
    errors = await field_errors(
        admin, FIELD_UPDATE, {"id": code["id"], "validation": {"pattern": EVIL_PATTERN}}
    )
    assert time.perf_counter() - started < 1
    assert errors[0]["code"] == "CONFLICT"
    assert "1 existing value(s) of 'code' do not fit" in errors[0]["message"]
    (unchanged,) = await field_list(admin, category["id"])
    assert unchanged["validation"] is None


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        pytest.param(r"(a)\1", "backreference", id="backreference"),
        pytest.param(r"(?P<x>a)(?P=x)", "backreference", id="named-backreference"),
        pytest.param(r"(?=a)\w+", "lookahead", id="lookahead"),
        pytest.param(r"(?<!x)y", "lookbehind", id="lookbehind"),
        pytest.param(r"a++", "possessive", id="possessive"),
        pytest.param(r"[0-9]+\Z", r"\z", id="python-end-of-text"),
        pytest.param(r"([a-z]", "missing )", id="unbalanced"),
    ],
)
async def test_a_pattern_the_linear_engine_cannot_run_is_refused_at_definition(
    admin: Api, pattern: str, reason: str
) -> None:
    category = await create_category(admin, "members")
    field_input = {"categoryId": category["id"], "key": "code", "label": "Code", "type": "TEXT"}

    errors = await field_errors(
        admin, FIELD_CREATE, {**field_input, "validation": {"pattern": pattern}}
    )

    assert errors[0]["field"] == ["validation", "pattern"]
    assert reason in errors[0]["message"]
    assert await field_list(admin, category["id"]) == []

    code = await create_field(admin, category["id"], "code")
    errors = await field_errors(
        admin, FIELD_UPDATE, {"id": code["id"], "validation": {"pattern": pattern}}
    )
    assert errors[0]["field"] == ["validation", "pattern"]
    assert reason in errors[0]["message"]


async def test_a_stored_pattern_the_linear_engine_cannot_run_refuses_values_clearly(
    admin: Api,
) -> None:
    category = await create_category(admin, "members")
    code = await create_field(admin, category["id"], "code", validation={"pattern": "[a-z]+"})
    async with admin.engine.begin() as connection:
        await connection.execute(
            update(FieldDefinition)
            .where(col(FieldDefinition.id) == decode_id(code["id"], "FieldDefinition"))
            .values(validation={"pattern": r"(a)\1"})
        )

    error = await refused_value(admin, category["id"], {"code": "aa"})

    assert error["field"] == ["values", "code"]
    assert "An admin must change the field's pattern" in error["message"]
    assert "backreferences" in error["message"]


# --- 2. limits that hold on both databases ----------------------------------------------------

SAFE = 2**53 - 1


@pytest.mark.parametrize("field_type", ["INTEGER", "RATING"])
@pytest.mark.parametrize(
    "number",
    [
        pytest.param(SAFE + 1, id="2^53"),
        pytest.param(-SAFE - 1, id="-2^53"),
        pytest.param(2**63, id="2^63"),
        pytest.param(-(2**63) - 1, id="below-int64"),
        pytest.param(10**30, id="10^30"),
        pytest.param(1e300, id="huge-whole-float"),
    ],
)
async def test_an_integer_beyond_what_json_keeps_exactly_is_refused(
    admin: Api, field_type: str, number: int
) -> None:
    category = await create_category(admin, "members")
    await create_field(admin, category["id"], "n", field_type, indexed=True)
    error = await refused_value(admin, category["id"], {"n": number})
    assert error["field"] == ["values", "n"]
    assert "between -9007199254740991 and 9007199254740991" in error["message"]


async def test_integers_up_to_the_safe_limit_are_kept_exactly(admin: Api) -> None:
    category = await create_category(admin, "members")
    await create_field(admin, category["id"], "n", "INTEGER", indexed=True)
    high = await create_contact(admin, category["id"], "High", {"n": SAFE})
    low = await create_contact(admin, category["id"], "Low", {"n": -SAFE})
    assert await contact_values(admin, high["id"]) == {"n": SAFE}
    assert await contact_values(admin, low["id"]) == {"n": -SAFE}
    found = await names_found(admin, category["id"], f={"fields": [{"key": "n", "eq": SAFE}]})
    assert found == ["High"]


async def test_a_number_field_keeps_a_huge_json_integer_as_a_double(admin: Api) -> None:
    category = await create_category(admin, "members")
    await create_field(admin, category["id"], "employees", "NUMBER", indexed=True)
    card = await create_contact(admin, category["id"], "Huge", {"employees": 10**30})
    assert await contact_values(admin, card["id"]) == {"employees": 1e30}
    found = await names_found(
        admin, category["id"], f={"fields": [{"key": "employees", "eq": 10**30}]}
    )
    assert found == ["Huge"]
    error = await refused_value(admin, category["id"], {"employees": 10**400})
    assert error["field"] == ["values", "employees"]
    assert "too large" in error["message"]


@pytest.mark.parametrize(
    ("condition", "path"),
    [
        pytest.param({"key": "n", "eq": 2**63}, "filter.fields.0.eq", id="eq-2^63"),
        pytest.param({"key": "n", "neq": 10**30}, "filter.fields.0.neq", id="neq-10^30"),
        pytest.param({"key": "n", "gt": 2**64}, "filter.fields.0.gt", id="gt-2^64"),
        pytest.param({"key": "n", "lte": -(2**63) - 1}, "filter.fields.0.lte", id="lte-below"),
        pytest.param({"key": "n", "in": [1, 2**63]}, "filter.fields.0.in", id="in-2^63"),
        pytest.param({"key": "r", "gte": 10**30}, "filter.fields.0.gte", id="RATING-gte"),
        pytest.param({"key": "x", "lt": 10**400}, "filter.fields.0.lt", id="NUMBER-overflow"),
        pytest.param({"key": "m", "eq": 2**63}, "filter.fields.0.eq", id="MONEY-eq"),
        pytest.param({"key": "u", "eq": 2**63}, "filter.fields.0.eq", id="USER-eq"),
    ],
)
async def test_a_filter_operand_beyond_the_limits_is_refused_naming_its_path(
    admin: Api, condition: dict[str, Any], path: str
) -> None:
    category = await create_category(admin, "members")
    for key, field_type in (("n", "INTEGER"), ("r", "RATING"), ("x", "NUMBER"), ("m", "MONEY")):
        await create_field(admin, category["id"], key, field_type, indexed=True)
    await create_field(admin, category["id"], "u", "USER")
    await create_contact(admin, category["id"], "A", {"n": 1, "r": 2, "x": 0.5, "m": "1.50"})
    error = await list_error(admin, category["id"], f={"fields": [condition]})
    assert error["message"].startswith(path), error


async def test_a_number_operand_beyond_the_safe_integers_still_asks_a_fine_question(
    admin: Api,
) -> None:
    category = await create_category(admin, "members")
    await create_field(admin, category["id"], "x", "NUMBER", indexed=True)
    await create_contact(admin, category["id"], "Small", {"x": 12.5})
    await create_contact(admin, category["id"], "Big", {"x": 1e20})
    fields = [{"key": "x", "lt": 2**63}, {"key": "x", "gt": -(10**30)}]
    assert await names_found(admin, category["id"], f={"fields": fields}, o=[{"key": "x"}]) == [
        "Small"
    ]


LONG_FOUR_BYTE_TEXT = "😀" * 1000


@pytest.mark.parametrize(
    ("field_type", "settings", "value"),
    [
        pytest.param("TEXT", {"indexed": True}, LONG_FOUR_BYTE_TEXT, id="TEXT-indexed"),
        pytest.param("TEXT", {"unique": True}, LONG_FOUR_BYTE_TEXT, id="TEXT-unique"),
        pytest.param("TEXT", {"indexed": True}, "x" * 501, id="TEXT-501"),
        pytest.param("URL", {"unique": True}, "https://example.com/" + "😀" * 700, id="URL-unique"),
    ],
)
async def test_an_indexed_text_value_longer_than_an_index_holds_is_refused(
    admin: Api, field_type: str, settings: dict[str, Any], value: str
) -> None:
    category = await create_category(admin, "members")
    await create_field(admin, category["id"], "v", field_type, **settings)
    error = await refused_value(admin, category["id"], {"v": value})
    assert error["field"] == ["values", "v"]
    assert "longer than 500 characters" in error["message"]
    card = await create_contact(admin, category["id"], "Fits", {"v": value[:500]})
    assert await contact_values(admin, card["id"]) == {"v": value[:500]}


@pytest.mark.parametrize("flag", ["indexed", "unique"])
async def test_indexing_a_field_that_holds_longer_values_is_refused_with_their_count(
    admin: Api, flag: str
) -> None:
    category = await create_category(admin, "members")
    notes = await create_field(admin, category["id"], "notes")
    for i in range(2):
        await create_contact(admin, category["id"], f"Long {i}", {"notes": f"{i}" + "😀" * 700})
    await create_contact(admin, category["id"], "Short", {"notes": "short"})

    errors = await field_errors(admin, FIELD_UPDATE, {"id": notes["id"], flag: True})

    assert errors[0]["code"] == "CONFLICT"
    assert errors[0]["field"] == [flag]
    assert "2 existing value(s) of 'notes' are longer than 500 characters" in errors[0]["message"]
    (unchanged,) = await field_list(admin, category["id"])
    assert (unchanged["indexed"], unchanged["unique"]) == (False, False)


@pytest.mark.parametrize(
    ("arguments", "path"),
    [
        pytest.param(
            {"f": {"name": {"contains": "x" * 100_000}}}, "filter.name.contains", id="name-contains"
        ),
        pytest.param(
            {"f": {"city": {"startsWith": "x" * 201}}},
            "filter.city.startsWith",
            id="city-startsWith",
        ),
        pytest.param(
            {"f": {"or": [{"fields": [{"key": "note", "contains": "%" * 100_000}]}]}},
            "filter.or.0.fields.0.contains",
            id="custom-contains",
        ),
        pytest.param({"s": "x" * 100_000}, "search", id="search"),
    ],
)
async def test_a_match_operand_too_long_to_run_is_refused_naming_its_path(
    admin: Api, arguments: dict[str, Any], path: str
) -> None:
    category = await create_category(admin, "members")
    await create_field(admin, category["id"], "note")
    await create_contact(admin, category["id"], "A", {"note": "x"})
    error = await list_error(admin, category["id"], **arguments)
    assert error["message"].startswith(path), error
    assert "at most 200 characters" in error["message"]


async def test_a_match_operand_of_200_characters_is_fine(admin: Api) -> None:
    category = await create_category(admin, "members")
    await create_contact(admin, category["id"], "x" * 300)
    found = await names_found(admin, category["id"], f={"name": {"contains": "x" * 200}})
    assert found == ["x" * 300]


# --- 3. pages end, and cursors carry exact values ---------------------------------------------

NUMBERS: dict[str, list[Any]] = {
    "NUMBER": [10**30, 1e30, 2.5, 0.1, 0.30000000000000004, -2.5, -1e-7, 1e-300, -1e30, None, 0],
    "INTEGER": [SAFE, -SAFE, SAFE - 1, 0, -1, None, 7, 7],
    "MONEY": ["9999999999999.99", "0.01", "19.99", "-1250.50", "19.99", None, "0.10", 3],
}


async def walk(
    api: Api, category_id: str, order: list[dict[str, Any]], backwards: bool
) -> list[str]:
    """Every card, one a page, following the cursors until the pages end."""
    seen: list[str] = []
    cursor = None
    while True:
        arguments = {"last": 1, "before": cursor} if backwards else {"first": 1, "after": cursor}
        data = await api.ok(LIST, {"c": category_id, "o": order, **arguments})
        connection = data["contacts"]
        page_ids = [edge["node"]["id"] for edge in connection["edges"]]
        seen = page_ids + seen if backwards else seen + page_ids
        assert len(seen) <= 30, f"the pages never end: {seen}"
        info = connection["pageInfo"]
        if not info["hasPreviousPage" if backwards else "hasNextPage"]:
            return seen
        cursor = info["startCursor" if backwards else "endCursor"]


@pytest.mark.parametrize("backwards", [False, True], ids=["first", "last"])
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize("field_type", list(NUMBERS))
async def test_walking_a_numeric_sort_one_card_a_page_visits_every_card_once(
    admin: Api, field_type: str, direction: str, backwards: bool
) -> None:
    category = await create_category(admin, "members")
    settings = {"currency": "EUR"} if field_type == "MONEY" else {}
    await create_field(admin, category["id"], "employees", field_type, indexed=True, **settings)
    ids = [
        (await create_contact(admin, category["id"], f"C{i}", {"employees": value}))["id"]
        for i, value in enumerate(NUMBERS[field_type])
    ]
    order = [{"key": "employees", "direction": direction}]
    expected = [
        edge["node"]["id"]
        for edge in (await admin.ok(LIST, {"c": category["id"], "o": order, "first": 100}))[
            "contacts"
        ]["edges"]
    ]
    assert sorted(expected) == sorted(ids)

    assert await walk(admin, category["id"], order, backwards) == expected


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
async def test_walking_values_stored_before_the_limits_existed_ends(
    admin: Api, direction: str
) -> None:
    """Cards may still hold integers that today's checks refuse (10^30, beyond int64)."""
    category = await create_category(admin, "members")
    await create_field(admin, category["id"], "employees", "INTEGER", indexed=True)
    stored = [10**30, 10**30, 2**63 + 1, 2**53 + 1, 2**53, -(10**30), 5, None]
    ids = []
    for i, value in enumerate(stored):
        card = await create_contact(admin, category["id"], f"C{i}")
        await write_values_directly(admin, card["id"], {"employees": value})
        ids.append(card["id"])
    order = [{"key": "employees", "direction": direction}, {"field": "NAME"}]

    for backwards in (False, True):
        walked = await walk(admin, category["id"], order, backwards)
        assert sorted(walked) == sorted(ids)
        assert len(walked) == len(ids)


# --- 4. tampered cursors -----------------------------------------------------------------------


async def a_cursor(api: Api, category_id: str, order: list[dict[str, Any]]) -> Any:
    data = await api.ok(LIST, {"c": category_id, "o": order, "first": 1})
    return decode(data["contacts"]["pageInfo"]["endCursor"])


async def seeded_for_cursors(api: Api) -> str:
    category = await create_category(api, "members")
    await create_field(api, category["id"], "n", "NUMBER", indexed=True)
    await create_field(api, category["id"], "owner", "USER")
    for i in range(3):
        await create_contact(api, category["id"], f"C{i}", {"n": i + 0.5})
    return str(category["id"])


TAMPERED_VALUES = [
    pytest.param([{"key": "n"}], 1, 10**30, id="id-10^30"),
    pytest.param([{"key": "n"}], 1, 2**31, id="id-beyond-primary-keys"),
    pytest.param([{"key": "n"}], 1, -(2**63) - 1, id="id-below-int64"),
    pytest.param([{"key": "n"}], 1, True, id="id-boolean"),
    pytest.param([{"key": "n"}], 0, "1e999999999", id="number-beyond-any-database"),
    pytest.param([{"key": "n"}], 0, "NaN", id="number-NaN"),
    pytest.param([{"key": "n"}], 0, "12abc", id="number-garbage"),
    pytest.param([{"key": "n"}], 0, "9" * 6000, id="number-6000-digits"),
    pytest.param([{"key": "owner"}], 0, 10**30, id="USER-10^30"),
    pytest.param([{"field": "CREATED_AT"}], 0, "0001-01-01T00:00:00+05:00", id="year-1-offset"),
    pytest.param([{"field": "CREATED_AT"}], 0, "9999-12-31T23:00:00-05:00", id="year-9999-offset"),
    pytest.param([{"field": "CREATED_AT"}], 0, "2026-01-01T00:00:00", id="naive-date-time"),
    pytest.param([{"field": "CREATED_AT"}], 0, 1767225600, id="date-time-number"),
    pytest.param([{"field": "NAME"}], 0, "a\u0000b", id="NUL"),
    pytest.param([{"field": "NAME"}], 0, "\ud800", id="lone-surrogate"),
    pytest.param([{"field": "NAME"}], 0, ["nested"], id="list"),
]


@pytest.mark.parametrize(("order", "index", "value"), TAMPERED_VALUES)
async def test_a_tampered_cursor_value_is_an_invalid_cursor(
    admin: Api, order: list[dict[str, Any]], index: int, value: Any
) -> None:
    category_id = await seeded_for_cursors(admin)
    data = await a_cursor(admin, category_id, order)
    data["v"][index] = value
    for arguments in ({"after": encode(data)}, {"before": encode(data), "last": 1, "first": None}):
        error = await list_error(admin, category_id, o=order, **arguments)
        assert error["extensions"]["code"] == "INVALID_CURSOR", error


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param(encode_raw(b"[" * 100_000), id="deeply-nested"),
        pytest.param(
            encode_raw(b'{"f": "x", "v": ' + b"[" * 5000 + b"]" * 5000 + b"}"), id="nested-values"
        ),
        pytest.param(encode_raw(b'{"f": "\xff\xfe", "v": []}'), id="invalid-utf-8"),
        pytest.param(encode_raw(b"\xed\xa0\x80"), id="encoded-surrogate"),
        pytest.param("A" * 200_000, id="very-long"),
    ],
)
async def test_a_malformed_cursor_is_an_invalid_cursor(admin: Api, cursor: str) -> None:
    category_id = await seeded_for_cursors(admin)
    error = await list_error(admin, category_id, after=cursor)
    assert error["extensions"]["code"] == "INVALID_CURSOR", error


async def test_a_related_cursor_with_a_huge_id_is_an_invalid_cursor(admin: Api) -> None:
    category = await create_category(admin, "members")
    await admin.ok(
        RELATION_CREATE,
        {
            "i": {
                "key": "children",
                "name": "Children",
                "inverseKey": "parent",
                "inverseName": "Parent",
                "fromCategoryId": category["id"],
                "toCategoryId": category["id"],
            }
        },
    )
    parent = await create_contact(admin, category["id"], "Parent")
    child = await create_contact(admin, category["id"], "Child")
    await admin.ok(
        CONTACT_LINK, {"i": {"relation": "children", "fromId": parent["id"], "toId": child["id"]}}
    )
    data = await admin.ok(RELATED, {"id": child["id"]})
    cursor = decode(data["contact"]["related"]["edges"][0]["cursor"])

    for huge in (10**30, 2**63, 2**31):
        forged = encode({**cursor, "v": [huge]})
        errors = await admin.errors(RELATED, {"id": child["id"], "after": forged})
        assert errors[0]["extensions"]["code"] == "INVALID_CURSOR", errors


# --- 5. case-insensitive matching agrees across databases -------------------------------------

FOLDING = [
    pytest.param({"city": {"contains": "MALMÖ"}}, ["Acme"], id="city-upper-contains"),
    pytest.param({"city": {"contains": "malmö"}}, ["Acme"], id="city-lower-contains"),
    pytest.param({"city": {"startsWith": "MALMÖ"}}, ["Acme"], id="city-startsWith"),
    pytest.param({"name": {"startsWith": "åsa"}}, ["ÅSA Konsult"], id="name-lower-startsWith"),
    pytest.param({"name": {"contains": "ÅSA"}}, ["ÅSA Konsult"], id="name-upper-contains"),
    pytest.param(
        {"fields": [{"key": "street", "contains": "STRAßE"}]}, ["Bäcker"], id="sharp-s-kept"
    ),
    pytest.param(
        {"fields": [{"key": "street", "contains": "STRAẞE"}]}, ["Bäcker"], id="capital-sharp-s"
    ),
    pytest.param(
        {"fields": [{"key": "street", "contains": "STRASSE"}]}, [], id="sharp-s-is-not-ss"
    ),
    pytest.param({"fields": [{"key": "street", "contains": "ΟΔΟΣ"}]}, ["Οδοσ"], id="greek-sigma"),
    pytest.param(
        {"fields": [{"key": "street", "contains": "İSTİKLAL"}]}, ["İstiklal"], id="dotted-I"
    ),
]


@pytest.mark.parametrize(("filter_", "expected"), FOLDING)
async def test_contains_and_starts_with_fold_case_beyond_ascii(
    admin: Api, filter_: dict[str, Any], expected: list[str]
) -> None:
    category = await create_category(admin, "members")
    await create_field(admin, category["id"], "street")
    await create_contact(admin, category["id"], "Acme", address={"city": "Malmö"})
    await create_contact(admin, category["id"], "ÅSA Konsult", address={"city": "Lund"})
    await create_contact(admin, category["id"], "Bäcker", {"street": "Hauptstraße 5"})
    await create_contact(admin, category["id"], "Οδοσ", {"street": "οδοσ Ερμού"})
    await create_contact(admin, category["id"], "İstiklal", {"street": "istiklal caddesi"})
    assert await names_found(admin, category["id"], f=filter_) == expected


# --- 6. date-times at the edges of the calendar ------------------------------------------------


@pytest.mark.parametrize(
    ("filter_", "path"),
    [
        pytest.param(
            {"createdAt": {"gt": "0001-01-01T00:00:00+05:00"}},
            "filter.createdAt.gt",
            id="createdAt-year-1",
        ),
        pytest.param(
            {"updatedAt": {"lt": "9999-12-31T23:00:00-05:00"}},
            "filter.updatedAt.lt",
            id="updatedAt-year-9999",
        ),
        pytest.param(
            {"fields": [{"key": "at", "gte": "0001-01-01T00:00:00+05:00"}]},
            "filter.fields.0.gte",
            id="DATETIME-year-1",
        ),
        pytest.param(
            {"fields": [{"key": "at", "eq": "9999-12-31T23:59:59-00:01"}]},
            "filter.fields.0.eq",
            id="DATETIME-year-9999",
        ),
        pytest.param(
            {"fields": [{"key": "day", "lt": "10000-01-01"}]},
            "filter.fields.0.lt",
            id="DATE-year-10000",
        ),
    ],
)
async def test_a_date_time_beyond_the_calendar_in_a_filter_is_a_clear_error(
    admin: Api, filter_: dict[str, Any], path: str
) -> None:
    category = await create_category(admin, "members")
    await create_field(admin, category["id"], "at", "DATETIME", indexed=True)
    await create_field(admin, category["id"], "day", "DATE", indexed=True)
    error = await list_error(admin, category["id"], f=filter_)
    assert error["message"].startswith(path), error
    assert "out of range" in error["message"] or "date" in error["message"]


async def test_date_times_at_the_edges_of_the_calendar_are_stored_or_refused_clearly(
    admin: Api,
) -> None:
    category = await create_category(admin, "members")
    await create_field(admin, category["id"], "at", "DATETIME", indexed=True)
    await create_field(admin, category["id"], "day", "DATE", indexed=True)
    # Beyond the calendar in UTC, or so near its ends that some time zone shows another year.
    for value in (
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-00:01",
        "0001-01-01T23:59:59Z",
        "9999-12-31T00:00:00Z",
    ):
        error = await refused_value(admin, category["id"], {"at": value})
        assert error["field"] == ["values", "at"]
        assert "out of range" in error["message"]
    first = await create_contact(
        admin, category["id"], "First", {"at": "0001-01-02T05:00:00+05:00", "day": "0001-01-01"}
    )
    last = await create_contact(
        admin, category["id"], "Last", {"at": "9999-12-30T23:59:59Z", "day": "9999-12-31"}
    )
    assert await contact_values(admin, first["id"]) == {
        "at": "0001-01-02T00:00:00Z",
        "day": "0001-01-01",
    }
    for key in ("at", "day"):
        assert await names_found(admin, category["id"], o=[{"key": key, "direction": "DESC"}]) == [
            "Last",
            "First",
        ]
    found = await names_found(
        admin, category["id"], f={"fields": [{"key": "at", "lte": "0001-01-02T00:00:00Z"}]}
    )
    assert found == ["First"]
    # A filter asks about any moment of the calendar, stored values' range or not.
    ends = [{"key": "at", "gt": "0001-01-01T00:00:00Z", "lt": "9999-12-31T23:59:59Z"}]
    assert await names_found(admin, category["id"], f={"fields": ends}) == ["First", "Last"]
    assert last["values"]["at"] == "9999-12-30T23:59:59Z"


async def test_an_update_with_a_bad_value_writes_nothing(admin: Api) -> None:
    category = await create_category(admin, "members")
    await create_field(admin, category["id"], "n", "INTEGER")
    card = await create_contact(admin, category["id"], "A", {"n": 1})
    errors = await admin.user_errors(
        CONTACT_UPDATE, {"input": {"id": card["id"], "name": "B", "values": {"n": 2**63}}}
    )
    assert errors[0]["field"] == ["values", "n"]
    assert await contact_values(admin, card["id"]) == {"n": 1}


# --- numbers compare by their exact value ------------------------------------------------------


@pytest.mark.parametrize(
    ("field_type", "stored", "operand"),
    [
        pytest.param("NUMBER", 0.1, 0.1, id="NUMBER-0.1"),
        pytest.param("NUMBER", 1e-300, 1e-300, id="NUMBER-tiny"),
        pytest.param("MONEY", "19.99", 19.99, id="MONEY-cents"),
        pytest.param("MONEY", "19.99", "19.99", id="MONEY-cents-as-string"),
    ],
)
async def test_a_fractional_operand_finds_the_card_holding_exactly_that_value(
    admin: Api, field_type: str, stored: Any, operand: Any
) -> None:
    category = await create_category(admin, "members")
    settings = {"currency": "EUR"} if field_type == "MONEY" else {}
    await create_field(admin, category["id"], "x", field_type, indexed=True, **settings)
    await create_contact(admin, category["id"], "Exact", {"x": stored})
    await create_contact(admin, category["id"], "Other", {"x": 1})
    for condition in ({"eq": operand}, {"in": [operand]}, {"gte": operand, "lte": operand}):
        found = await names_found(admin, category["id"], f={"fields": [{"key": "x", **condition}]})
        assert found == ["Exact"], condition


async def test_long_text_cannot_be_sorted(admin: Api) -> None:
    category = await create_category(admin, "members")
    await create_field(admin, category["id"], "notes", "LONG_TEXT")
    error = await list_error(admin, category["id"], o=[{"key": "notes"}])
    assert error["message"] == "orderBy.0: notes is a LONG_TEXT and cannot be sorted"

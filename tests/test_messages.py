"""Messages that tell people what to do next: a second sign-up, a key where an ID belongs, a
country's name in a filter, a busy port, and the article before a type name."""

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services.wording import a_or_an
from tests.conftest import PASSWORD, SIGN_UP, Api
from tests.helpers import FIELD_CREATE, create_category, create_contact

ROOT = Path(__file__).resolve().parent.parent
CONTACTS = """query($c: ID!, $f: ContactFilter) {
  contacts(categoryId: $c, filter: $f, first: 10) { nodes { name } } }"""
CONTACT_CREATE = """mutation($input: ContactCreateInput!) { contactCreate(input: $input) {
  contact { id } userErrors { field message code } } }"""
API_KEY_REVOKE = """mutation($input: ApiKeyRevokeInput!) { apiKeyRevoke(input: $input) {
  apiKey { id } userErrors { field message code } } }"""
ME = "{ me { id } }"
USERS_DESCRIPTION = """{ __type(name: "Query") { fields { name description
  args { name defaultValue } } } }"""


async def test_signing_up_again_points_to_invitations_and_to_session_create(admin: Api) -> None:
    again = {"input": {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}}

    (error,) = await admin.user_errors(SIGN_UP, again, token="")

    assert error["code"] == "FORBIDDEN"
    assert error["field"] == ["invitationToken"]
    assert "invitation" in error["message"]
    assert "sessionCreate" in error["message"]


# --- IDs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        pytest.param(CONTACTS, {"c": "customers"}, id="contacts"),
        pytest.param(
            CONTACT_CREATE, {"input": {"categoryId": "customers", "name": "Acme"}}, id="create"
        ),
    ],
)
async def test_a_category_key_given_as_an_id_points_to_category_by_key(
    admin: Api, query: str, variables: dict[str, Any]
) -> None:
    await create_category(admin, "customers")

    (error,) = await admin.errors(query, variables)

    assert error["extensions"]["code"] == "INVALID_ID"
    assert "'customers' is not a valid ID" in error["message"]
    assert 'category(key: "customers") { id }' in error["message"]


async def test_an_id_of_another_type_takes_the_right_article(admin: Api) -> None:
    user_id = (await admin.ok(ME))["me"]["id"]

    (error,) = await admin.errors(API_KEY_REVOKE, {"input": {"id": user_id}})

    assert error["extensions"]["code"] == "INVALID_ID"
    assert "is the ID of a User, expected an ApiKey" in error["message"]


# --- country filters -----------------------------------------------------------------------------


@pytest.fixture
async def cards_by_country(admin: Api) -> str:
    category = await create_category(admin, "customers")
    await create_contact(admin, category["id"], "Acme AB", address={"country": "se"})
    await create_contact(admin, category["id"], "Beta GmbH", address={"country": "DE"})
    await create_contact(admin, category["id"], "Nowhere Ltd")
    category_id: str = category["id"]
    return category_id


@pytest.mark.parametrize(
    ("country", "found"),
    [
        pytest.param({"eq": "se"}, ["Acme AB"], id="eq-lower"),
        pytest.param({"eq": "SE"}, ["Acme AB"], id="eq-upper"),
        pytest.param({"eq": " Se "}, ["Acme AB"], id="eq-spaces"),
        pytest.param({"in": ["se", "de"]}, ["Acme AB", "Beta GmbH"], id="in"),
        pytest.param({"neq": "se"}, ["Beta GmbH", "Nowhere Ltd"], id="neq"),
        pytest.param({"startsWith": "s"}, ["Acme AB"], id="startsWith"),
    ],
)
async def test_country_filters_take_codes_in_any_case(
    admin: Api, cards_by_country: str, country: dict[str, Any], found: list[str]
) -> None:
    data = await admin.ok(CONTACTS, {"c": cards_by_country, "f": {"country": country}})
    assert sorted(node["name"] for node in data["contacts"]["nodes"]) == found


@pytest.mark.parametrize(
    ("country", "path"),
    [
        pytest.param({"eq": "Sweden"}, "filter.country.eq", id="eq"),
        pytest.param({"neq": "S"}, "filter.country.neq", id="neq-one-letter"),
        pytest.param({"in": ["se", "Deutschland"]}, "filter.country.in.1", id="in"),
        pytest.param({"contains": "Swe"}, "filter.country.contains", id="contains"),
        pytest.param({"startsWith": "1"}, "filter.country.startsWith", id="startsWith"),
    ],
)
async def test_a_country_name_in_a_filter_is_refused_naming_the_path(
    admin: Api, cards_by_country: str, country: dict[str, Any], path: str
) -> None:
    (error,) = await admin.errors(CONTACTS, {"c": cards_by_country, "f": {"country": country}})

    assert error["message"].startswith(f"{path}: "), error
    assert "ISO 3166 two-letter code" in error["message"]
    assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR"


async def test_a_nested_country_filter_names_its_path(admin: Api, cards_by_country: str) -> None:
    condition = {"or": [{"name": {"contains": "x"}}, {"country": {"eq": "Sweden"}}]}

    (error,) = await admin.errors(CONTACTS, {"c": cards_by_country, "f": condition})

    assert error["message"].startswith("filter.or.1.country.eq: 'Sweden' is not a country code")


# --- the article before a type name --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("INTEGER", "an INTEGER"),
        ("EMAIL", "an EMAIL"),
        ("ApiKey", "an ApiKey"),
        ("TEXT", "a TEXT"),
        ("URL", "a URL"),
        ("USER", "a USER"),
        ("MULTI_SELECT", "a MULTI_SELECT"),
    ],
)
def test_type_names_take_the_article_they_are_read_with(name: str, expected: str) -> None:
    assert a_or_an(name) == expected
    assert a_or_an(name, sentence_start=True) == expected[0].upper() + expected[1:]


@pytest.mark.parametrize(
    ("field_type", "settings", "message"),
    [
        pytest.param(
            "INTEGER",
            {"validation": {"pattern": "[0-9]+"}},
            "An INTEGER field does not take",
            id="I",
        ),
        pytest.param("EMAIL", {"validation": {"min": 1}}, "An EMAIL field does not take", id="E"),
        pytest.param("URL", {"validation": {"max": 1}}, "A URL field does not take", id="U"),
        pytest.param("TEXT", {"validation": {"min": 1}}, "A TEXT field does not take", id="T"),
    ],
)
async def test_field_settings_errors_read_right(
    admin: Api, field_type: str, settings: dict[str, Any], message: str
) -> None:
    category = await create_category(admin, "members")
    field_input = {
        "categoryId": category["id"],
        "key": "x",
        "label": "X",
        "type": field_type,
        **settings,
    }

    (error,) = await admin.user_errors(FIELD_CREATE, {"input": field_input})

    assert error["message"].startswith(message), error


# --- users ---------------------------------------------------------------------------------------


async def test_users_says_that_it_leaves_out_deactivated_users(api: Api) -> None:
    data = await api.ok(USERS_DESCRIPTION, token="")
    (users,) = [field for field in data["__type"]["fields"] if field["name"] == "users"]

    assert "Deactivated users are left out" in users["description"]
    assert "includeInactive: true" in users["description"]
    assert users["args"] == [{"name": "includeInactive", "defaultValue": "false"}]


# --- a busy port ---------------------------------------------------------------------------------


def test_a_busy_port_is_named_with_crm_port_instead_of_a_traceback(database_url: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {
            **os.environ,
            "CRM_DATABASE_URL": database_url,
            "CRM_HOST": "127.0.0.1",
            "CRM_PORT": str(port),
        }
        result = subprocess.run(
            [sys.executable, "server.py"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert result.returncode == 2, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr
    assert "already in use" in result.stderr
    assert "CRM_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Errno" not in result.stderr


def test_an_address_not_on_this_machine_names_crm_host(database_url: str) -> None:
    env = {
        **os.environ,
        "CRM_DATABASE_URL": database_url,
        "CRM_HOST": "192.0.2.1",  # TEST-NET-1: never an address of this machine
        "CRM_PORT": "8000",
    }
    result = subprocess.run(
        [sys.executable, "server.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 2, result.stderr
    assert "CRM_HOST" in result.stderr
    assert "Traceback" not in result.stderr

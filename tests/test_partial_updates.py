"""One convention for every update: a field left out stays, null clears it, and null on what
cannot be empty is refused naming the field. And the role a field needs is checked before
anything of the request is looked at."""

import pytest

from tests.conftest import Api
from tests.helpers import (
    CATEGORY_UPDATE,
    CONTACT_UPDATE,
    FIELD_UPDATE,
    create_category,
    create_field,
    my_id,
)

USER_UPDATE = """mutation($input: UserUpdateInput!) { userUpdate(input: $input) {
  user { name role active } userErrors { field message code } } }"""


async def test_null_on_a_category_name_is_refused_and_on_its_description_clears(
    admin: Api,
) -> None:
    category = await create_category(admin, "customers", description="Who buys")
    errors = await admin.user_errors(
        CATEGORY_UPDATE, {"input": {"id": category["id"], "name": None}}
    )
    assert [(e["field"], e["code"]) for e in errors] == [(["name"], "INVALID")]
    assert "cannot be cleared" in errors[0]["message"]
    cleared = await admin.ok(
        CATEGORY_UPDATE, {"input": {"id": category["id"], "description": None}}
    )
    assert cleared["categoryUpdate"]["category"]["description"] is None
    assert cleared["categoryUpdate"]["category"]["name"] == "Customers"


@pytest.mark.parametrize("setting", ["label", "type", "required", "unique", "indexed"])
async def test_null_on_a_field_setting_that_cannot_be_empty_is_refused(
    admin: Api, setting: str
) -> None:
    category = await create_category(admin, "customers")
    field = await create_field(admin, category["id"], "size", "INTEGER")
    errors = await admin.user_errors(FIELD_UPDATE, {"input": {"id": field["id"], setting: None}})
    assert [e["field"] for e in errors] == [[setting]]


@pytest.mark.parametrize("setting", ["name", "role", "active"])
async def test_null_on_a_user_setting_is_refused(admin: Api, setting: str) -> None:
    me = await my_id(admin)
    errors = await admin.user_errors(USER_UPDATE, {"input": {"id": me, setting: None}})
    assert [e["field"] for e in errors] == [[setting]]
    left_out = await admin.ok(USER_UPDATE, {"input": {"id": me}})
    assert left_out["userUpdate"]["user"] == {"name": "Ada Admin", "role": "ADMIN", "active": True}


async def test_the_role_is_checked_before_the_input_is_decoded(api: Api) -> None:
    await api.sign_up_admin()
    anonymous = await api.post(CONTACT_UPDATE, {"input": {"id": "not an id", "name": "X"}})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    viewer = await api.add_user("vic@example.com", "VIEWER")
    refused = await api.post(CONTACT_UPDATE, {"input": {"id": "not an id", "name": "X"}}, viewer)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    member = await api.add_user("mia@example.com", "MEMBER")
    decoded = await api.post(CONTACT_UPDATE, {"input": {"id": "not an id", "name": "X"}}, member)
    assert decoded["errors"][0]["extensions"]["code"] == "INVALID_ID"

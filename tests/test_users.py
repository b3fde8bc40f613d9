"""Who may do what: roles, managing accounts with userUpdate, and the users list."""

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import INVITE, Api
from tests.helpers import (
    SIGN_IN_TOKEN,
    count_rows,
    create_contact,
    my_id,
    new_category_id,
    sign_in,
)

USERS = "{ users { id email name role active } }"
ALL_USERS = "{ users(includeInactive: true) { email name active } }"
ME = "{ me { id email name role active } }"
USER_UPDATE = """mutation($input: UserUpdateInput!) { userUpdate(input: $input) {
  user { id email name role active } userErrors { field message code } } }"""
CATEGORY_CREATE = """mutation($input: CategoryCreateInput!) { categoryCreate(input: $input) {
  category { id key } userErrors { field message code } } }"""
CONTACT_CREATE = """mutation($input: ContactCreateInput!) { contactCreate(input: $input) {
  contact { id name } userErrors { field message code } } }"""
API_KEY_CREATE = """mutation($input: ApiKeyCreateInput!) { apiKeyCreate(input: $input) {
  token apiKey { id name } userErrors { field message code } } }"""


# --- helpers -----------------------------------------------------------------------------------


async def warm_connection_pool(api: Api, size: int) -> None:
    """Open `size` pooled connections up front, so that simultaneous requests really overlap
    instead of queueing behind new connections being set up."""
    async with AsyncExitStack() as stack:
        for _ in range(size):
            connection = await stack.enter_async_context(api.engine.connect())
            await connection.execute(text("SELECT 1"))


async def update_user(api: Api, token: str | None = None, **fields: Any) -> dict[str, Any]:
    """The userUpdate payload, userErrors included; fails on top-level errors."""
    body = await api.post(
        USER_UPDATE, {"input": fields}, token if token is not None else api.admin_token
    )
    assert "errors" not in body, body["errors"]
    payload: dict[str, Any] = body["data"]["userUpdate"]
    return payload


async def top_level_error(
    api: Api, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> dict[str, Any]:
    (error,) = await api.errors(query, variables, token=token)
    return error


# --- roles -------------------------------------------------------------------------------------


async def test_a_viewer_can_read_categories_and_users(admin: Api) -> None:
    await new_category_id(admin)
    viewer = await admin.add_user("vic@example.com", "VIEWER", name="Vic Viewer")

    categories = await admin.ok("{ categories { key } }", token=viewer)
    users = await admin.ok("{ users { email role } }", token=viewer)

    assert categories["categories"] == [{"key": "customers"}]
    assert users["users"] == [
        {"email": "ada@example.com", "role": "ADMIN"},
        {"email": "vic@example.com", "role": "VIEWER"},
    ]


def write_operation(name: str, category_id: str) -> tuple[str, dict[str, Any]]:
    if name == "categoryCreate":
        return CATEGORY_CREATE, {"input": {"key": "suppliers", "name": "Suppliers"}}
    if name == "contactCreate":
        return CONTACT_CREATE, {"input": {"categoryId": category_id, "name": "Acme"}}
    return INVITE, {"input": {"email": "eve@example.com", "role": "ADMIN"}}


@pytest.mark.parametrize("operation", ["categoryCreate", "contactCreate", "userInvite"])
async def test_a_viewer_cannot_write(admin: Api, operation: str) -> None:
    category_id = await new_category_id(admin)
    viewer = await admin.add_user("vic@example.com", "VIEWER")
    query, variables = write_operation(operation, category_id)

    body = await admin.post(query, variables, token=viewer)

    (error,) = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "VIEWER" in error["message"]
    assert body["data"] is None
    assert await count_rows(admin, "category") == 1
    assert await count_rows(admin, "contact") == 0
    assert await count_rows(admin, "invitation") == 1  # the viewer's own, already used


@pytest.mark.parametrize("operation", ["categoryCreate", "userInvite"])
async def test_a_member_cannot_create_categories_or_invite(admin: Api, operation: str) -> None:
    member = await admin.add_user("bob@example.com", "MEMBER")
    query, variables = write_operation(operation, "")

    error = await top_level_error(admin, query, variables, token=member)

    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "ADMIN" in error["message"]
    assert await count_rows(admin, "category") == 0
    assert await count_rows(admin, "invitation") == 1


async def test_a_member_can_create_contacts(admin: Api) -> None:
    category_id = await new_category_id(admin)
    member = await admin.add_user("bob@example.com", "MEMBER")

    data = await admin.ok(
        CONTACT_CREATE, {"input": {"categoryId": category_id, "name": "Acme"}}, token=member
    )

    assert data["contactCreate"]["contact"]["name"] == "Acme"


# --- userUpdate --------------------------------------------------------------------------------


async def test_an_admin_changes_a_role_and_it_applies_to_existing_sessions(admin: Api) -> None:
    category_id = await new_category_id(admin)
    bob = await admin.add_user("bob@example.com", "MEMBER")

    payload = await update_user(admin, id=await my_id(admin, bob), role="VIEWER")

    assert payload["userErrors"] == []
    assert payload["user"]["role"] == "VIEWER"
    assert (await admin.ok(ME, token=bob))["me"]["role"] == "VIEWER"
    error = await top_level_error(
        admin, CONTACT_CREATE, {"input": {"categoryId": category_id, "name": "Acme"}}, token=bob
    )
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_an_admin_can_promote_a_member_to_admin(admin: Api) -> None:
    bob = await admin.add_user("bob@example.com", "MEMBER")

    await update_user(admin, id=await my_id(admin, bob), role="ADMIN")

    data = await admin.ok(CATEGORY_CREATE, {"input": {"key": "leads", "name": "Leads"}}, token=bob)
    assert data["categoryCreate"]["category"]["key"] == "leads"


async def test_deactivating_a_user_stops_their_existing_tokens(admin: Api) -> None:
    bob = await admin.add_user("bob@example.com", "MEMBER")
    key = (await admin.ok(API_KEY_CREATE, {"input": {"name": "bot"}}, token=bob))["apiKeyCreate"]

    payload = await update_user(admin, id=await my_id(admin, bob), active=False)

    assert payload["userErrors"] == []
    assert payload["user"]["active"] is False
    for token in (bob, key["token"]):
        error = await top_level_error(admin, ME, token=token)
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert "deactivated" in error["message"]


async def test_a_reactivated_user_can_sign_in_again(admin: Api) -> None:
    bob_id = await my_id(admin, await admin.add_user("bob@example.com"))
    await update_user(admin, id=bob_id, active=False)

    payload = await update_user(admin, id=bob_id, active=True)

    assert payload["user"]["active"] is True
    payload = await sign_in(admin, "bob@example.com", operation=SIGN_IN_TOKEN)
    assert payload["userErrors"] == []
    assert payload["token"]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"role": "MEMBER"}, "role"), ({"role": "VIEWER"}, "role"), ({"active": False}, "active")],
    ids=["demote-to-member", "demote-to-viewer", "deactivate"],
)
async def test_the_last_active_admin_cannot_step_down(
    admin: Api, change: dict[str, Any], field: str
) -> None:
    await admin.add_user("bob@example.com", "MEMBER")

    payload = await update_user(admin, id=await my_id(admin, admin.admin_token), **change)

    assert payload["user"] is None
    (error,) = payload["userErrors"]
    assert (error["code"], error["field"]) == ("CONFLICT", [field])
    assert "last active admin" in error["message"]
    me = (await admin.ok(ME))["me"]
    assert (me["role"], me["active"]) == ("ADMIN", True)


async def test_an_admin_can_step_down_once_there_is_another_admin(admin: Api) -> None:
    grace = await admin.add_user("grace@example.com", "ADMIN")

    payload = await update_user(admin, id=await my_id(admin, admin.admin_token), role="MEMBER")

    assert payload["userErrors"] == []
    assert payload["user"]["role"] == "MEMBER"
    # Now Grace is the last admin and may not step down herself.
    grace_payload = await update_user(
        admin, token=grace, id=await my_id(admin, grace), active=False
    )
    assert [e["code"] for e in grace_payload["userErrors"]] == ["CONFLICT"]


async def test_an_admin_can_deactivate_another_admin_while_one_stays_active(admin: Api) -> None:
    grace = await admin.add_user("grace@example.com", "ADMIN")

    payload = await update_user(admin, id=await my_id(admin, grace), active=False)

    assert payload["userErrors"] == []
    assert payload["user"]["active"] is False


async def test_a_deactivated_admin_can_be_demoted_by_the_remaining_admin(admin: Api) -> None:
    grace_id = await my_id(admin, await admin.add_user("grace@example.com", "ADMIN"))
    await update_user(admin, id=grace_id, active=False)

    # Ada stays the one active admin whatever Grace's role is, so nothing is at risk here.
    payload = await update_user(admin, id=grace_id, role="MEMBER")

    assert payload["userErrors"] == []
    assert payload["user"]["role"] == "MEMBER"


async def test_when_every_admin_steps_down_at_once_one_admin_remains(admin: Api) -> None:
    tokens = [admin.admin_token] + [
        await admin.add_user(f"admin{i}@example.com", "ADMIN") for i in range(5)
    ]
    ids = [await my_id(admin, token) for token in tokens]
    await warm_connection_pool(admin, len(tokens))

    payloads = await asyncio.gather(
        *(
            update_user(admin, token=t, id=i, role="MEMBER")
            for t, i in zip(tokens, ids, strict=True)
        )
    )

    refused = [e["code"] for p in payloads for e in p["userErrors"]]
    assert refused == ["CONFLICT"]
    async with admin.engine.connect() as connection:
        admins = await connection.execute(
            text("SELECT count(*) FROM user_account WHERE role = 'ADMIN' AND active")
        )
        assert admins.scalar_one() == 1


async def test_a_member_may_rename_themself(admin: Api) -> None:
    bob = await admin.add_user("bob@example.com", "MEMBER", name="Bob")

    payload = await update_user(admin, token=bob, id=await my_id(admin, bob), name="  Robert  ")

    assert payload["userErrors"] == []
    assert payload["user"]["name"] == "Robert"
    assert (await admin.ok(ME, token=bob))["me"]["name"] == "Robert"


async def test_a_viewer_may_rename_themself(admin: Api) -> None:
    vic = await admin.add_user("vic@example.com", "VIEWER", name="Vic")

    payload = await update_user(admin, token=vic, id=await my_id(admin, vic), name="Victoria")

    assert payload["user"]["name"] == "Victoria"


@pytest.mark.parametrize(
    "change",
    [{"role": "ADMIN"}, {"role": "VIEWER"}, {"active": False}],
    ids=["promote", "demote", "deactivate"],
)
async def test_a_member_cannot_change_their_own_role_or_activation(
    admin: Api, change: dict[str, Any]
) -> None:
    bob = await admin.add_user("bob@example.com", "MEMBER", name="Bob")

    error = await top_level_error(
        admin, USER_UPDATE, {"input": {"id": await my_id(admin, bob), **change}}, token=bob
    )

    assert error["extensions"]["code"] == "FORBIDDEN"
    assert (await admin.ok(ME, token=bob))["me"] == {
        "id": await my_id(admin, bob),
        "email": "bob@example.com",
        "name": "Bob",
        "role": "MEMBER",
        "active": True,
    }


async def test_a_member_cannot_rename_someone_else(admin: Api) -> None:
    bob = await admin.add_user("bob@example.com", "MEMBER")
    ada_id = await my_id(admin, admin.admin_token)

    error = await top_level_error(
        admin, USER_UPDATE, {"input": {"id": ada_id, "name": "Hacked"}}, token=bob
    )

    assert error["extensions"]["code"] == "FORBIDDEN"
    assert (await admin.ok(ME))["me"]["name"] == "Ada Admin"


async def test_an_admin_renames_someone_else(admin: Api) -> None:
    bob = await admin.add_user("bob@example.com", "MEMBER", name="Bob")

    payload = await update_user(admin, id=await my_id(admin, bob), name="Robert")

    assert payload["user"]["name"] == "Robert"


@pytest.mark.parametrize("name", ["", "   ", "x" * 201], ids=["empty", "blank", "too-long"])
async def test_a_bad_name_is_refused_and_the_old_one_kept(admin: Api, name: str) -> None:
    payload = await update_user(admin, id=await my_id(admin, admin.admin_token), name=name)

    assert payload["user"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID", ["name"])]
    assert (await admin.ok(ME))["me"]["name"] == "Ada Admin"


async def test_a_bad_name_rolls_back_the_other_changes_too(admin: Api) -> None:
    bob_id = await my_id(admin, await admin.add_user("bob@example.com", "MEMBER", name="Bob"))

    payload = await update_user(admin, id=bob_id, name=" ", role="VIEWER", active=False)

    assert [e["field"] for e in payload["userErrors"]] == [["name"]]
    data = await admin.ok(ALL_USERS)
    bob = next(u for u in data["users"] if u["email"] == "bob@example.com")
    assert bob == {"email": "bob@example.com", "name": "Bob", "active": True}


async def test_updating_a_user_that_does_not_exist_is_not_found(admin: Api) -> None:
    missing = "VXNlcjo5OTk5"  # User:9999

    payload = await update_user(admin, id=missing, name="Ghost")

    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("NOT_FOUND", ["id"])]


async def test_user_update_needs_sign_in(admin: Api) -> None:
    ada_id = await my_id(admin, admin.admin_token)

    body = await admin.post(USER_UPDATE, {"input": {"id": ada_id, "name": "Anon"}})

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("kind", ["garbage", "empty", "contact", "category", "zero"])
async def test_a_malformed_id_in_user_update_is_invalid_id(admin: Api, kind: str) -> None:
    category_id = await new_category_id(admin)
    ids = {
        "garbage": "nope",
        "empty": "",
        "contact": (await create_contact(admin, category_id, "Acme"))["id"],
        "category": category_id,
        "zero": "VXNlcjow",  # User:0
    }

    error = await top_level_error(admin, USER_UPDATE, {"input": {"id": ids[kind], "name": "X"}})

    assert error["extensions"]["code"] == "INVALID_ID"
    assert repr(ids[kind]) in error["message"]
    assert (await admin.ok(ME))["me"]["name"] == "Ada Admin"


async def test_an_id_of_another_type_says_what_it_is(admin: Api) -> None:
    contact_id = (await create_contact(admin, await new_category_id(admin), "Acme"))["id"]

    error = await top_level_error(admin, USER_UPDATE, {"input": {"id": contact_id}})

    assert "Contact" in error["message"]
    assert "User" in error["message"]


# --- the users list ----------------------------------------------------------------------------


async def test_users_lists_active_users_by_name(admin: Api) -> None:
    await admin.add_user("zoe@example.com", name="Zoe")
    await admin.add_user("bob@example.com", name="Bob")
    carl = await admin.add_user("carl@example.com", name="Carl")
    await update_user(admin, id=await my_id(admin, carl), active=False)
    await admin.add_user("mia@example.com", "VIEWER", name="Mia")

    data = await admin.ok(USERS)

    assert [(u["name"], u["active"]) for u in data["users"]] == [
        ("Ada Admin", True),
        ("Bob", True),
        ("Mia", True),
        ("Zoe", True),
    ]
    assert {u["role"] for u in data["users"]} == {"ADMIN", "MEMBER", "VIEWER"}


async def test_users_are_ordered_by_name_regardless_of_capitalisation(admin: Api) -> None:
    await admin.add_user("zoe@example.com", name="Zoe")
    await admin.add_user("bob@example.com", name="bob")
    await admin.add_user("carl@example.com", name="Carl")

    data = await admin.ok(USERS)

    assert [u["name"] for u in data["users"]] == ["Ada Admin", "bob", "Carl", "Zoe"]


async def test_admins_can_include_inactive_users(admin: Api) -> None:
    bob_id = await my_id(admin, await admin.add_user("bob@example.com", name="Bob"))
    await update_user(admin, id=bob_id, active=False)

    data = await admin.ok(ALL_USERS)

    assert data["users"] == [
        {"email": "ada@example.com", "name": "Ada Admin", "active": True},
        {"email": "bob@example.com", "name": "Bob", "active": False},
    ]


@pytest.mark.parametrize("role", ["MEMBER", "VIEWER"])
async def test_include_inactive_is_ignored_for_non_admins(admin: Api, role: str) -> None:
    bob_id = await my_id(admin, await admin.add_user("bob@example.com", name="Bob"))
    await update_user(admin, id=bob_id, active=False)
    someone = await admin.add_user("sam@example.com", role, name="Sam")

    data = await admin.ok(ALL_USERS, token=someone)

    assert [u["email"] for u in data["users"]] == ["ada@example.com", "sam@example.com"]


async def test_the_users_list_shows_api_keys_only_to_admins_and_owners(admin: Api) -> None:
    bob = await admin.add_user("bob@example.com", name="Bob")
    await admin.add_user("sam@example.com", name="Sam")
    await admin.ok(API_KEY_CREATE, {"input": {"name": "Bob's bot"}}, token=bob)
    await admin.ok(API_KEY_CREATE, {"input": {"name": "Ada's bot"}})
    query = "{ users { email apiKeys { name } } }"

    as_admin = await admin.ok(query)
    as_bob = await admin.ok(query, token=bob)

    assert {u["email"]: [k["name"] for k in u["apiKeys"]] for u in as_admin["users"]} == {
        "ada@example.com": ["Ada's bot"],
        "bob@example.com": ["Bob's bot"],
        "sam@example.com": [],
    }
    assert {u["email"]: [k["name"] for k in u["apiKeys"]] for u in as_bob["users"]} == {
        "ada@example.com": [],
        "bob@example.com": ["Bob's bot"],
        "sam@example.com": [],
    }

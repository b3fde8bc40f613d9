"""Access that must end stays ended, and deactivated people are hidden by one rule on every path."""

from typing import Any

from tests.conftest import Api
from tests.helpers import create_category, create_contact

ME = "{ me { id email } }"
API_KEY_CREATE = """mutation($i: ApiKeyCreateInput!) { apiKeyCreate(input: $i) {
  token userErrors { code } } }"""
USER_UPDATE = """mutation($i: UserUpdateInput!) { userUpdate(input: $i) {
  user { active } userErrors { code } } }"""
ISSUE_RESET = """mutation($i: UserPasswordResetInput!) { userPasswordReset(input: $i) {
  token userErrors { code } } }"""
RESET = """mutation($i: PasswordResetInput!) { passwordReset(input: $i) {
  token userErrors { code } } }"""
NODE = "query($id: ID!) { node(id: $id) { id ... on User { name email } } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on User { email } } }"
USERS = "query($all: Boolean!) { users(includeInactive: $all) { email active } }"
CREATED_BY = "query($id: ID!) { contact(id: $id) { createdBy { email } } }"


async def _bob_with_an_api_key(admin: Api) -> tuple[str, str]:
    session = await admin.add_user("bob@example.com", "MEMBER", "Bob")
    bob_id: str = (await admin.ok(ME, token=session))["me"]["id"]
    key: str = (await admin.ok(API_KEY_CREATE, {"i": {"name": "import"}}, token=session))[
        "apiKeyCreate"
    ]["token"]
    assert (await admin.ok(ME, token=key))["me"]["id"] == bob_id
    return bob_id, key


async def _set_active(admin: Api, user_id: str, active: bool) -> None:
    await admin.ok(USER_UPDATE, {"i": {"id": user_id, "active": active}})


async def _refused(admin: Api, token: str) -> str:
    errors = await admin.errors(ME, token=token)
    code: str = errors[0]["extensions"]["code"]
    message: str = errors[0]["message"]
    assert code == "UNAUTHENTICATED"
    return message


async def test_deactivation_revokes_api_keys_for_good(admin: Api) -> None:
    bob_id, key = await _bob_with_an_api_key(admin)
    await _set_active(admin, bob_id, False)
    assert "deactivated" in await _refused(admin, key)
    await _set_active(admin, bob_id, True)
    assert "revoked" in await _refused(admin, key)


async def test_a_password_reset_revokes_api_keys(admin: Api) -> None:
    bob_id, key = await _bob_with_an_api_key(admin)
    token = (await admin.ok(ISSUE_RESET, {"i": {"id": bob_id}}))["userPasswordReset"]["token"]
    reset = await admin.ok(RESET, {"i": {"token": token, "newPassword": "a fresh passphrase"}}, "")
    assert "revoked" in await _refused(admin, key)
    # The new session works, and can create a new key.
    new_session = reset["passwordReset"]["token"]
    new_key = (await admin.ok(API_KEY_CREATE, {"i": {"name": "again"}}, token=new_session))[
        "apiKeyCreate"
    ]["token"]
    assert (await admin.ok(ME, token=new_key))["me"]["id"] == bob_id


async def _deactivated_author(admin: Api) -> tuple[str, str, str]:
    """Bob, who created a card and was then deactivated; and a viewer, Vic."""
    bob = await admin.add_user("bob@example.com", "MEMBER", "Bob")
    bob_id: str = (await admin.ok(ME, token=bob))["me"]["id"]
    category = await create_category(admin, "customers")
    card: dict[str, Any] = await create_contact(admin, category["id"], "Acme", token=bob)
    vic = await admin.add_user("vic@example.com", "VIEWER", "Vic")
    await _set_active(admin, bob_id, False)
    return bob_id, card["id"], vic


async def test_only_admins_see_a_deactivated_user_on_any_path(admin: Api) -> None:
    bob_id, card_id, vic = await _deactivated_author(admin)
    for token, sees in ((vic, False), (admin.admin_token, True)):
        node = (await admin.ok(NODE, {"id": bob_id}, token=token))["node"]
        nodes = (await admin.ok(NODES, {"ids": [bob_id]}, token=token))["nodes"]
        everyone = (await admin.ok(USERS, {"all": True}, token=token))["users"]
        author = (await admin.ok(CREATED_BY, {"id": card_id}, token=token))["contact"]
        if sees:
            assert node == {"id": bob_id, "name": "Bob", "email": "bob@example.com"}
            assert nodes == [{"id": bob_id, "email": "bob@example.com"}]
            assert {"email": "bob@example.com", "active": False} in everyone
            assert author == {"createdBy": {"email": "bob@example.com"}}
        else:
            assert node is None
            assert nodes == [None]
            assert all(u["active"] for u in everyone)
            assert author == {"createdBy": None}


async def test_the_visible_users_still_show_to_viewers(admin: Api) -> None:
    vic = await admin.add_user("vic@example.com", "VIEWER", "Vic")
    me = (await admin.ok(ME))["me"]
    node = (await admin.ok(NODE, {"id": me["id"]}, token=vic))["node"]
    assert node == {"id": me["id"], "name": "Ada Admin", "email": "ada@example.com"}

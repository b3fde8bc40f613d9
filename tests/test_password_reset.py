"""Someone who forgot their password gets a one-time reset token from an admin."""

from sqlalchemy import text

from tests.conftest import PASSWORD, Api

ISSUE = """mutation($i: UserPasswordResetInput!) { userPasswordReset(input: $i) {
  token expiresAt userErrors { field message code } } }"""
RESET = """mutation($i: PasswordResetInput!) { passwordReset(input: $i) {
  token user { email } userErrors { field message code } } }"""
ME = "{ me { id email } }"
SIGN_IN = """mutation($i: SessionCreateInput!) { sessionCreate(input: $i) { token userErrors { code } } }"""


async def _bob(admin: Api) -> tuple[str, str]:
    token = await admin.add_user("bob@example.com", "MEMBER", "Bob")
    bob_id: str = (await admin.ok(ME, token=token))["me"]["id"]
    return bob_id, token


async def test_a_reset_token_sets_a_new_password_and_ends_old_sessions(admin: Api) -> None:
    bob_id, old_session = await _bob(admin)
    issued = (await admin.ok(ISSUE, {"i": {"id": bob_id}}))["userPasswordReset"]
    assert issued["token"].startswith("crm_r_")
    reset = (
        await admin.ok(
            RESET, {"i": {"token": issued["token"], "newPassword": "fresh passphrase"}}, token=""
        )
    )["passwordReset"]
    assert reset["user"] == {"email": "bob@example.com"}
    assert (await admin.ok(ME, token=reset["token"]))["me"]["email"] == "bob@example.com"
    errors = await admin.errors(ME, token=old_session)
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    old = await admin.post(SIGN_IN, {"i": {"email": "bob@example.com", "password": PASSWORD}})
    assert old["data"]["sessionCreate"]["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]


async def test_a_reset_token_works_once(admin: Api) -> None:
    bob_id, _ = await _bob(admin)
    token = (await admin.ok(ISSUE, {"i": {"id": bob_id}}))["userPasswordReset"]["token"]
    await admin.ok(RESET, {"i": {"token": token, "newPassword": "fresh passphrase"}}, token="")
    errors = await admin.user_errors(
        RESET, {"i": {"token": token, "newPassword": "another passphrase"}}, token=""
    )
    assert errors[0]["code"] == "CONFLICT"


async def test_an_expired_or_unknown_token_is_refused(admin: Api) -> None:
    bob_id, _ = await _bob(admin)
    token = (await admin.ok(ISSUE, {"i": {"id": bob_id}}))["userPasswordReset"]["token"]
    async with admin.engine.begin() as connection:
        await connection.execute(
            text("UPDATE password_reset SET expires_at = '2000-01-01 00:00:00'")
        )
    expired = await admin.user_errors(
        RESET, {"i": {"token": token, "newPassword": "fresh passphrase"}}, token=""
    )
    assert expired[0]["code"] == "EXPIRED"
    unknown = await admin.user_errors(
        RESET, {"i": {"token": "crm_r_nope", "newPassword": "fresh passphrase"}}, token=""
    )
    assert unknown[0] == {
        "field": ["token"],
        "message": "The reset token is not valid",
        "code": "NOT_FOUND",
    }


async def test_a_short_new_password_keeps_the_token_usable(admin: Api) -> None:
    bob_id, _ = await _bob(admin)
    token = (await admin.ok(ISSUE, {"i": {"id": bob_id}}))["userPasswordReset"]["token"]
    errors = await admin.user_errors(
        RESET, {"i": {"token": token, "newPassword": "short"}}, token=""
    )
    assert errors[0]["field"] == ["newPassword"]
    await admin.ok(RESET, {"i": {"token": token, "newPassword": "fresh passphrase"}}, token="")


async def test_only_admins_issue_reset_tokens(admin: Api) -> None:
    bob_id, bob = await _bob(admin)
    errors = await admin.errors(ISSUE, {"i": {"id": bob_id}}, token=bob)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"

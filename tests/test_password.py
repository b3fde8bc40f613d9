"""People change their own password; other sessions end, the current one stays."""

from tests.conftest import PASSWORD, Api

CHANGE = """mutation($i: PasswordChangeInput!) { passwordChange(input: $i) {
  user { email } userErrors { field message code } } }"""
SIGN_IN = """mutation($i: SessionCreateInput!) { sessionCreate(input: $i) { token userErrors { code } } }"""
ME = "{ me { email } }"


async def _sign_in(api: Api, password: str) -> dict[str, object]:
    body = await api.post(SIGN_IN, {"i": {"email": "ada@example.com", "password": password}})
    payload: dict[str, object] = body["data"]["sessionCreate"]
    return payload


async def test_changing_the_password_signs_out_other_sessions(admin: Api) -> None:
    other = (await _sign_in(admin, PASSWORD))["token"]
    data = await admin.ok(
        CHANGE, {"i": {"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"}}
    )
    assert data["passwordChange"]["user"] == {"email": "ada@example.com"}
    assert (await admin.ok(ME))["me"] == {"email": "ada@example.com"}  # this session stays
    errors = await admin.errors(ME, token=str(other))
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await _sign_in(admin, PASSWORD))["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]
    assert (await _sign_in(admin, "a brand new passphrase"))["token"]


async def test_a_wrong_current_password_changes_nothing(admin: Api) -> None:
    errors = await admin.user_errors(
        CHANGE, {"i": {"currentPassword": "guess", "newPassword": "another passphrase"}}
    )
    assert errors == [
        {
            "field": ["currentPassword"],
            "message": "The current password is wrong",
            "code": "INVALID_CREDENTIALS",
        }
    ]
    assert (await _sign_in(admin, PASSWORD))["token"]


async def test_a_too_short_new_password_is_refused(admin: Api) -> None:
    errors = await admin.user_errors(
        CHANGE, {"i": {"currentPassword": PASSWORD, "newPassword": "short"}}
    )
    assert errors[0]["field"] == ["newPassword"]
    assert "at least 10 characters" in errors[0]["message"]

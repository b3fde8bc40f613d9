"""Accounts and credentials as a client sees them: sign-up and invitations, sign-in and its
throttling, session tokens and API keys."""

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, text

from models.types import UTCDateTime
from tests.conftest import INVITE, PASSWORD, SIGN_UP, Api
from tests.helpers import ADMIN_EMAIL, SIGN_IN, count_rows, sign_in

SIGN_OUT = """mutation($input: SessionRevokeInput) { sessionRevoke(input: $input) {
  revoked userErrors { field message code } } }"""
API_KEY_CREATE = """mutation($input: ApiKeyCreateInput!) { apiKeyCreate(input: $input) {
  token apiKey { id name prefix createdAt expiresAt revokedAt } userErrors { field message code } } }"""
API_KEY_REVOKE = """mutation($input: ApiKeyRevokeInput!) { apiKeyRevoke(input: $input) {
  apiKey { id name revokedAt } userErrors { field message code } } }"""
ME = "{ me { id email name role active } }"
MY_KEYS = "{ me { apiKeys { name prefix } } }"

THROTTLED: dict[str, Any] = {"login_max_failures": 2, "login_block_seconds": 30}
throttled = pytest.mark.parametrize("settings_overrides", [THROTTLED], ids=["max_failures=2"])


# --- helpers -----------------------------------------------------------------------------------


def past() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


def future(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def set_time(api: Api, table: str, column: str, value: datetime) -> None:
    """Set a timestamp column on every row of `table`, the way an operator would in SQL."""
    statement = text(f"UPDATE {table} SET {column} = :value").bindparams(
        bindparam("value", type_=UTCDateTime())
    )
    async with api.engine.begin() as connection:
        await connection.execute(statement, {"value": value})


async def all_cells(api: Api, table: str) -> list[str]:
    async with api.engine.connect() as connection:
        rows = (await connection.execute(text(f"SELECT * FROM {table}"))).all()
    return [str(cell) for row in rows for cell in row]


async def sign_up(
    api: Api,
    email: str,
    *,
    password: str = PASSWORD,
    name: str = "Somebody",
    invitation: str | None = None,
) -> dict[str, Any]:
    """The signUp payload, userErrors included."""
    body = await api.post(
        SIGN_UP,
        {
            "input": {
                "email": email,
                "password": password,
                "name": name,
                "invitationToken": invitation,
            }
        },
    )
    assert "errors" not in body, body["errors"]
    payload: dict[str, Any] = body["data"]["signUp"]
    return payload


async def invite(api: Api, email: str, role: str = "MEMBER") -> str:
    data = await api.ok(INVITE, {"input": {"email": email, "role": role}})
    token: str = data["userInvite"]["token"]
    return token


async def me(api: Api, token: str) -> dict[str, Any]:
    data = await api.ok(ME, token=token)
    user: dict[str, Any] = data["me"]
    return user


async def auth_error(api: Api, token: str, query: str = ME) -> dict[str, Any]:
    """The single top-level error a request with `token` gets."""
    (error,) = await api.errors(query, token=token)
    return error


async def create_api_key(
    api: Api, name: str = "script", token: str | None = None, expires_at: datetime | None = None
) -> dict[str, Any]:
    variables = {
        "input": {"name": name, "expiresAt": expires_at.isoformat() if expires_at else None}
    }
    data = await api.ok(API_KEY_CREATE, variables, token=token)
    payload: dict[str, Any] = data["apiKeyCreate"]
    return payload


# --- signUp ------------------------------------------------------------------------------------


async def test_first_sign_up_on_an_empty_install_becomes_admin_and_is_signed_in(api: Api) -> None:
    payload = await sign_up(api, ADMIN_EMAIL, name="Ada Admin")

    assert payload["userErrors"] == []
    assert payload["user"]["role"] == "ADMIN"
    assert payload["token"]
    assert parse_time(payload["expiresAt"]) > future(days=29)
    assert await me(api, payload["token"]) == {
        "id": payload["user"]["id"],
        "email": ADMIN_EMAIL,
        "name": "Ada Admin",
        "role": "ADMIN",
        "active": True,
    }


async def test_second_sign_up_without_invitation_is_forbidden(admin: Api) -> None:
    payload = await sign_up(admin, "bob@example.com")

    assert payload["token"] is None
    assert payload["user"] is None
    (error,) = payload["userErrors"]
    assert error["code"] == "FORBIDDEN"
    assert error["field"] == ["invitationToken"]
    assert "invitation" in error["message"]
    assert await count_rows(admin, "user_account") == 1


@pytest.mark.parametrize("role", ["ADMIN", "MEMBER", "VIEWER"])
async def test_sign_up_with_an_invitation_gets_the_invited_role(admin: Api, role: str) -> None:
    invitation = await invite(admin, "bob@example.com", role)

    payload = await sign_up(admin, "bob@example.com", name="Bob", invitation=invitation)

    assert payload["userErrors"] == []
    assert payload["user"]["role"] == role
    bob = await me(admin, payload["token"])
    assert (bob["email"], bob["name"], bob["role"]) == ("bob@example.com", "Bob", role)


async def test_invitation_names_address_role_and_a_week_of_validity(admin: Api) -> None:
    data = await admin.ok(INVITE, {"input": {"email": "  Bob@Example.COM ", "role": "VIEWER"}})

    invitation = data["userInvite"]["invitation"]
    assert invitation["email"] == "bob@example.com"
    assert invitation["role"] == "VIEWER"
    expires_at = parse_time(invitation["expiresAt"])
    assert future(days=7, minutes=-5) < expires_at < future(days=7, minutes=5)
    assert data["userInvite"]["token"]


async def test_inviting_an_existing_account_is_a_duplicate(admin: Api) -> None:
    errors = await admin.user_errors(INVITE, {"input": {"email": "ADA@example.com"}})

    assert [(e["code"], e["field"]) for e in errors] == [("DUPLICATE", ["email"])]
    assert await count_rows(admin, "invitation") == 0


async def test_inviting_a_malformed_address_names_the_email(admin: Api) -> None:
    errors = await admin.user_errors(INVITE, {"input": {"email": "bob at example"}})

    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["email"])]
    assert "bob at example" in errors[0]["message"]
    assert await count_rows(admin, "invitation") == 0


async def test_an_invitation_can_be_used_only_once(admin: Api) -> None:
    invitation = await invite(admin, "bob@example.com")
    assert (await sign_up(admin, "bob@example.com", invitation=invitation))["userErrors"] == []

    payload = await sign_up(admin, "bob@example.com", invitation=invitation)

    assert payload["token"] is None
    (error,) = payload["userErrors"]
    assert (error["code"], error["field"]) == ("CONFLICT", ["invitationToken"])
    assert "already been used" in error["message"]
    assert await count_rows(admin, "user_account") == 2


async def test_an_expired_invitation_is_refused(admin: Api) -> None:
    invitation = await invite(admin, "bob@example.com")
    await set_time(admin, "invitation", "expires_at", past())

    payload = await sign_up(admin, "bob@example.com", invitation=invitation)

    assert payload["token"] is None
    (error,) = payload["userErrors"]
    assert (error["code"], error["field"]) == ("EXPIRED", ["invitationToken"])
    assert "expired" in error["message"]
    assert await count_rows(admin, "user_account") == 1


async def test_an_unknown_invitation_token_is_refused(admin: Api) -> None:
    payload = await sign_up(admin, "bob@example.com", invitation="crm_i_made-up")

    (error,) = payload["userErrors"]
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["invitationToken"])
    assert await count_rows(admin, "user_account") == 1


async def test_an_invitation_works_only_for_its_own_address(admin: Api) -> None:
    invitation = await invite(admin, "bob@example.com")

    payload = await sign_up(admin, "mallory@example.com", invitation=invitation)

    (error,) = payload["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", ["email"])
    assert "another e-mail address" in error["message"]
    assert await count_rows(admin, "user_account") == 1
    # The invitation was not used up: the invited person can still join.
    assert (await sign_up(admin, "bob@example.com", invitation=invitation))["userErrors"] == []


async def test_the_invited_address_matches_regardless_of_case_and_spaces(admin: Api) -> None:
    invitation = await invite(admin, "bob@example.com")

    payload = await sign_up(admin, " BOB@Example.com ", invitation=invitation)

    assert payload["userErrors"] == []
    assert payload["user"]["email"] == "bob@example.com"


@pytest.mark.parametrize(
    ("email", "password", "name", "field", "message"),
    [
        ("bob-at-example.com", PASSWORD, "Bob", "email", "is not an e-mail address"),
        ("bob@example.com", "too short", "Bob", "password", "at least 10 characters"),
        ("bob@example.com", PASSWORD, "   ", "name", "1 to 200 characters"),
        ("bob@example.com", PASSWORD, "B" * 201, "name", "1 to 200 characters"),
    ],
    ids=["malformed-email", "short-password", "blank-name", "long-name"],
)
async def test_sign_up_with_bad_input_names_the_field_and_writes_nothing(
    admin: Api, email: str, password: str, name: str, field: str, message: str
) -> None:
    invitation = await invite(admin, "bob@example.com")

    payload = await sign_up(admin, email, password=password, name=name, invitation=invitation)

    assert payload["token"] is None
    (error,) = payload["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", [field])
    assert message in error["message"]
    assert await count_rows(admin, "user_account") == 1
    assert await count_rows(admin, "auth_session") == 1  # only the admin's
    # The invitation is still good for a corrected attempt.
    retry = await sign_up(admin, "bob@example.com", name="Bob", invitation=invitation)
    assert retry["userErrors"] == []


async def test_a_failed_first_sign_up_leaves_the_install_empty(api: Api) -> None:
    payload = await sign_up(api, ADMIN_EMAIL, password="short")

    assert [e["field"] for e in payload["userErrors"]] == [["password"]]
    assert await count_rows(api, "user_account") == 0
    # The next, correct sign-up is still the first one and becomes admin.
    retry = await sign_up(api, "grace@example.com")
    assert retry["user"]["role"] == "ADMIN"


async def test_sign_up_with_an_existing_address_is_a_duplicate(admin: Api) -> None:
    first = await invite(admin, "bob@example.com")
    second = await invite(admin, "bob@example.com")
    assert (await sign_up(admin, "bob@example.com", invitation=first))["userErrors"] == []

    payload = await sign_up(admin, "Bob@Example.com", invitation=second)

    assert payload["token"] is None
    (error,) = payload["userErrors"]
    assert (error["code"], error["field"]) == ("DUPLICATE", ["email"])
    assert await count_rows(admin, "user_account") == 2
    async with admin.engine.connect() as connection:
        unused = await connection.execute(
            text("SELECT count(*) FROM invitation WHERE accepted_at IS NULL")
        )
        assert unused.scalar_one() == 1  # the second invitation was not consumed


async def test_simultaneous_first_sign_ups_make_exactly_one_admin(api: Api) -> None:
    payloads = await asyncio.gather(
        *(sign_up(api, f"user{i}@example.com", name=f"User {i}") for i in range(4))
    )

    winners = [p for p in payloads if p["userErrors"] == []]
    assert len(winners) == 1
    assert winners[0]["user"]["role"] == "ADMIN"
    losers = [p["userErrors"] for p in payloads if p["userErrors"]]
    assert [[e["code"] for e in errors] for errors in losers] == [["FORBIDDEN"]] * 3
    assert await count_rows(api, "user_account") == 1


# --- sessionCreate -----------------------------------------------------------------------------


async def test_sign_in_with_the_right_password_gives_a_working_token(admin: Api) -> None:
    payload = await sign_in(admin, ADMIN_EMAIL)

    assert payload["userErrors"] == []
    assert payload["user"]["email"] == ADMIN_EMAIL
    assert payload["token"] != admin.admin_token
    assert parse_time(payload["expiresAt"]) > future(days=29)
    assert (await me(admin, payload["token"]))["email"] == ADMIN_EMAIL
    assert (await me(admin, admin.admin_token))["email"] == ADMIN_EMAIL  # both sessions live


async def test_sign_in_ignores_case_and_spaces_in_the_address(admin: Api) -> None:
    payload = await sign_in(admin, "  ADA@Example.com ")

    assert payload["userErrors"] == []
    assert payload["user"]["email"] == ADMIN_EMAIL


async def test_a_wrong_password_is_invalid_credentials(admin: Api) -> None:
    payload = await sign_in(admin, ADMIN_EMAIL, "not my password")

    assert payload["token"] is None
    assert payload["user"] is None
    (error,) = payload["userErrors"]
    assert error["code"] == "INVALID_CREDENTIALS"
    assert error["message"] == "The e-mail address or password is wrong"
    assert await count_rows(admin, "auth_session") == 1  # only the sign-up's session


async def test_an_unknown_address_looks_exactly_like_a_wrong_password(admin: Api) -> None:
    wrong_password = await sign_in(admin, ADMIN_EMAIL, "not my password")
    unknown_email = await sign_in(admin, "nobody@example.com", PASSWORD)

    assert unknown_email == wrong_password


async def test_the_default_limit_blocks_after_five_failures(admin: Api) -> None:
    for _ in range(5):
        failed = await sign_in(admin, ADMIN_EMAIL, "not my password")
        assert [e["code"] for e in failed["userErrors"]] == ["INVALID_CREDENTIALS"]

    blocked = await sign_in(admin, ADMIN_EMAIL)

    assert blocked["token"] is None
    assert [e["code"] for e in blocked["userErrors"]] == ["TOO_MANY_ATTEMPTS"]


def seconds_to_wait(error: dict[str, Any]) -> int:
    match = re.search(r"try again in (\d+) seconds", error["message"])
    assert match, error["message"]
    return int(match.group(1))


@throttled
async def test_too_many_failures_block_even_the_right_password(admin: Api) -> None:
    for _ in range(2):
        failed = await sign_in(admin, ADMIN_EMAIL, "not my password")
        assert [e["code"] for e in failed["userErrors"]] == ["INVALID_CREDENTIALS"]

    blocked = await sign_in(admin, ADMIN_EMAIL)

    assert blocked["token"] is None
    (error,) = blocked["userErrors"]
    assert (error["code"], error["field"]) == ("TOO_MANY_ATTEMPTS", ["email"])
    assert 25 <= seconds_to_wait(error) <= 30
    assert await count_rows(admin, "auth_session") == 1


@throttled
async def test_unknown_addresses_are_blocked_like_known_ones(admin: Api) -> None:
    for _ in range(2):
        await sign_in(admin, "nobody@example.com", "guess")

    blocked = await sign_in(admin, "nobody@example.com", "guess")

    assert [e["code"] for e in blocked["userErrors"]] == ["TOO_MANY_ATTEMPTS"]


@throttled
async def test_a_block_concerns_only_its_own_address(admin: Api) -> None:
    await admin.add_user("bob@example.com")
    for _ in range(2):
        await sign_in(admin, ADMIN_EMAIL, "not my password")

    assert (await sign_in(admin, "bob@example.com"))["userErrors"] == []
    assert [e["code"] for e in (await sign_in(admin, ADMIN_EMAIL))["userErrors"]] == [
        "TOO_MANY_ATTEMPTS"
    ]


@throttled
async def test_a_successful_sign_in_resets_the_failure_count(admin: Api) -> None:
    for _ in range(3):
        await sign_in(admin, ADMIN_EMAIL, "not my password")  # one short of the limit
        assert (await sign_in(admin, ADMIN_EMAIL))["userErrors"] == []


@throttled
async def test_sign_in_works_again_once_the_block_is_over(admin: Api) -> None:
    for _ in range(2):
        await sign_in(admin, ADMIN_EMAIL, "not my password")
    await set_time(admin, "login_throttle", "blocked_until", past())

    payload = await sign_in(admin, ADMIN_EMAIL)

    assert payload["userErrors"] == []
    assert (await me(admin, payload["token"]))["email"] == ADMIN_EMAIL


@throttled
async def test_failing_again_after_a_block_blocks_for_longer(admin: Api) -> None:
    for _ in range(2):
        await sign_in(admin, ADMIN_EMAIL, "not my password")
    await set_time(admin, "login_throttle", "blocked_until", past())

    failed = await sign_in(admin, ADMIN_EMAIL, "still not my password")
    assert [e["code"] for e in failed["userErrors"]] == ["INVALID_CREDENTIALS"]
    blocked = await sign_in(admin, ADMIN_EMAIL)

    (error,) = blocked["userErrors"]
    assert error["code"] == "TOO_MANY_ATTEMPTS"
    assert 30 < seconds_to_wait(error) <= 60


async def test_simultaneous_wrong_passwords_all_count_towards_the_limit(admin: Api) -> None:
    # One failure first, so the address already has a failure count when the burst arrives.
    await sign_in(admin, ADMIN_EMAIL, "first guess")
    attempts = await asyncio.gather(*(sign_in(admin, ADMIN_EMAIL, f"guess {i}") for i in range(5)))

    codes = [e["code"] for payload in attempts for e in payload["userErrors"]]
    assert len(codes) == 5
    assert set(codes) <= {"INVALID_CREDENTIALS", "TOO_MANY_ATTEMPTS"}
    # Six wrong passwords in all, one more than the default limit of five.
    blocked = await sign_in(admin, ADMIN_EMAIL)
    assert [e["code"] for e in blocked["userErrors"]] == ["TOO_MANY_ATTEMPTS"]


@throttled
async def test_simultaneous_guesses_for_a_new_address_are_answered_not_crashed(
    admin: Api,
) -> None:
    attempts = await asyncio.gather(
        *(
            admin.post(SIGN_IN, {"input": {"email": "eve@example.com", "password": f"g{i}"}})
            for i in range(6)
        )
    )

    assert [body.get("errors") for body in attempts] == [None] * 6
    codes = {e["code"] for body in attempts for e in body["data"]["sessionCreate"]["userErrors"]}
    assert codes <= {"INVALID_CREDENTIALS", "TOO_MANY_ATTEMPTS"}


async def test_a_deactivated_user_cannot_sign_in(admin: Api) -> None:
    await admin.add_user("bob@example.com")
    users = await admin.ok("{ users { id email } }")
    bob_id = next(u["id"] for u in users["users"] if u["email"] == "bob@example.com")
    await admin.ok(
        "mutation($input: UserUpdateInput!) { userUpdate(input: $input) { userErrors { code } } }",
        {"input": {"id": bob_id, "active": False}},
    )

    right_password = await sign_in(admin, "bob@example.com")
    wrong_password = await sign_in(admin, "bob@example.com", "not my password")

    assert right_password["token"] is None
    # The answer is the same with the right password as with a wrong one: it tells nobody
    # whether a guess was right.
    assert right_password["userErrors"] == wrong_password["userErrors"]
    (error,) = right_password["userErrors"]
    assert error == {
        "field": None,
        "message": "The e-mail address or password is wrong",
        "code": "INVALID_CREDENTIALS",
    }


# --- tokens ------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["{ users { id } }", "{ categories { id } }"])
async def test_a_protected_query_without_a_token_is_unauthenticated(admin: Api, query: str) -> None:
    body = await admin.post(query)

    (error,) = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Authorization: Bearer" in error["message"]
    assert body["data"] is None


async def test_me_is_null_for_anonymous_clients(admin: Api) -> None:
    body = await admin.post(ME)

    assert body == {"data": {"me": None}}


@pytest.mark.parametrize("token", ["garbage", "crm_s_not-a-session", "crm_k_not-a-key"])
async def test_a_garbage_token_is_unauthenticated(admin: Api, token: str) -> None:
    for query in (ME, "{ users { id } }"):
        error = await auth_error(admin, token, query)
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert "not valid" in error["message"]


async def test_an_expired_session_is_refused_and_says_so(admin: Api) -> None:
    await set_time(admin, "auth_session", "expires_at", past())

    error = await auth_error(admin, admin.admin_token)

    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in error["message"]


async def test_session_revoke_signs_out_the_current_session_only(admin: Api) -> None:
    other = (await sign_in(admin, ADMIN_EMAIL))["token"]

    data = await admin.ok(SIGN_OUT)

    assert data["sessionRevoke"]["revoked"] is True
    error = await auth_error(admin, admin.admin_token)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "signed out" in error["message"]
    assert (await me(admin, other))["email"] == ADMIN_EMAIL


async def test_session_revoke_with_a_token_ends_that_session(admin: Api) -> None:
    other = (await sign_in(admin, ADMIN_EMAIL))["token"]

    data = await admin.ok(SIGN_OUT, {"input": {"token": other}})

    assert data["sessionRevoke"]["revoked"] is True
    assert (await auth_error(admin, other))["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await me(admin, admin.admin_token))["email"] == ADMIN_EMAIL


async def test_nobody_can_revoke_someone_elses_session(admin: Api) -> None:
    bob = await admin.add_user("bob@example.com")

    body = await admin.post(SIGN_OUT, {"input": {"token": admin.admin_token}}, token=bob)

    payload = body["data"]["sessionRevoke"]
    assert payload["revoked"] is False
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("NOT_FOUND", ["token"])]
    assert (await me(admin, admin.admin_token))["email"] == ADMIN_EMAIL


async def test_session_revoke_needs_a_signed_in_client(admin: Api) -> None:
    body = await admin.post(SIGN_OUT)

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_tokens_and_passwords_are_stored_only_as_hashes(admin: Api) -> None:
    session_token = (await sign_in(admin, ADMIN_EMAIL))["token"]
    key_token = (await create_api_key(admin))["token"]
    invitation_token = await invite(admin, "bob@example.com")
    secrets = [admin.admin_token, session_token, key_token, invitation_token, PASSWORD]

    async with admin.engine.connect() as connection:
        hashes = (await connection.execute(text("SELECT token_hash FROM auth_session"))).all()
        passwords = (await connection.execute(text("SELECT password_hash FROM user_account"))).all()
    assert len(hashes) == 2
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for (h,) in hashes)
    assert all(p.startswith("$argon2") for (p,) in passwords)
    for table in ("auth_session", "api_key", "invitation", "user_account", "login_throttle"):
        cells = await all_cells(admin, table)
        leaked = [s for s in secrets for cell in cells if s in cell]
        assert leaked == [], f"{table} stores a secret in clear"


# --- API keys ----------------------------------------------------------------------------------


async def test_an_api_key_acts_as_its_owner(admin: Api) -> None:
    created = await create_api_key(admin, name="Nightly export")

    token = created["token"]
    api_key = created["apiKey"]
    assert api_key["name"] == "Nightly export"
    assert token.startswith(api_key["prefix"])
    assert len(api_key["prefix"]) < len(token)
    assert api_key["revokedAt"] is None
    assert api_key["expiresAt"] is None
    assert (await me(admin, token))["email"] == ADMIN_EMAIL
    categories = await admin.ok(
        'mutation { categoryCreate(input: {key: "customers", name: "Customers"}) { category { key } userErrors { code } } }',
        token=token,
    )
    assert categories["categoryCreate"]["category"] == {"key": "customers"}


async def test_a_revoked_api_key_stops_working(admin: Api) -> None:
    created = await create_api_key(admin)

    data = await admin.ok(API_KEY_REVOKE, {"input": {"id": created["apiKey"]["id"]}})

    assert data["apiKeyRevoke"]["apiKey"]["revokedAt"] is not None
    error = await auth_error(admin, created["token"])
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "revoked" in error["message"]


async def test_an_expired_api_key_is_refused(admin: Api) -> None:
    created = await create_api_key(admin, expires_at=future(days=1))
    assert (await me(admin, created["token"]))["email"] == ADMIN_EMAIL
    await set_time(admin, "api_key", "expires_at", past())

    error = await auth_error(admin, created["token"])

    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in error["message"]


async def test_an_api_key_cannot_be_created_already_expired(admin: Api) -> None:
    errors = await admin.user_errors(
        API_KEY_CREATE, {"input": {"name": "late", "expiresAt": past().isoformat()}}
    )

    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["expiresAt"])]
    assert await count_rows(admin, "api_key") == 0


async def test_an_api_key_needs_a_name(admin: Api) -> None:
    errors = await admin.user_errors(API_KEY_CREATE, {"input": {"name": "  "}})

    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["name"])]
    assert await count_rows(admin, "api_key") == 0


async def test_me_lists_my_own_api_keys(admin: Api) -> None:
    first = await create_api_key(admin, name="Exports")
    second = await create_api_key(admin, name="Zapier")
    bob = await admin.add_user("bob@example.com")
    await create_api_key(admin, name="Bob's key", token=bob)

    data = await admin.ok(MY_KEYS)

    assert data["me"]["apiKeys"] == [
        {"name": "Exports", "prefix": first["apiKey"]["prefix"]},
        {"name": "Zapier", "prefix": second["apiKey"]["prefix"]},
    ]
    bobs = await admin.ok(MY_KEYS, token=bob)
    assert [k["name"] for k in bobs["me"]["apiKeys"]] == ["Bob's key"]


async def test_a_member_cannot_revoke_someone_elses_api_key(admin: Api) -> None:
    created = await create_api_key(admin)
    bob = await admin.add_user("bob@example.com")

    errors = await admin.user_errors(
        API_KEY_REVOKE, {"input": {"id": created["apiKey"]["id"]}}, token=bob
    )

    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["id"])]
    assert (await me(admin, created["token"]))["email"] == ADMIN_EMAIL


async def test_an_admin_can_revoke_a_members_api_key(admin: Api) -> None:
    bob = await admin.add_user("bob@example.com")
    created = await create_api_key(admin, token=bob)

    await admin.ok(API_KEY_REVOKE, {"input": {"id": created["apiKey"]["id"]}})

    assert (await auth_error(admin, created["token"]))["extensions"]["code"] == "UNAUTHENTICATED"


async def test_session_revoke_over_an_api_key_asks_for_the_session_token(admin: Api) -> None:
    key = (await create_api_key(admin))["token"]

    errors = await admin.user_errors(SIGN_OUT, token=key)

    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["token"])]
    assert (await me(admin, key))["email"] == ADMIN_EMAIL
    assert (await me(admin, admin.admin_token))["email"] == ADMIN_EMAIL

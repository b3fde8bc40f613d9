"""Sign-in throttling as people meet it: a guesser slows down only themself, a user who signs in
from their usual network is never locked out by someone else's guessing, and a flood of
sign-ins cannot take the CPU from everyone else."""

import asyncio
import ipaddress
import threading
from typing import Any

import pytest

from services import passwords
from services.network import client_address
from tests.conftest import Api
from tests.helpers import ADMIN_EMAIL, SIGN_IN_TOKEN, my_id, sign_in

ATTACKER = "203.0.113.9"
USER_NETWORK = "198.51.100.7"

BEHIND_A_PROXY: dict[str, Any] = {
    "trusted_proxies": "127.0.0.1",
    "login_max_failures": 2,
    "login_account_max_failures": 4,
    "login_client_max_failures": 6,
}
behind_a_proxy = pytest.mark.parametrize("settings_overrides", [BEHIND_A_PROXY], ids=["proxy"])


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


@behind_a_proxy
async def test_a_guesser_cannot_lock_out_a_user_who_signs_in_from_elsewhere(admin: Api) -> None:
    for _ in range(2):
        assert codes(
            await sign_in(admin, password="guess", client=ATTACKER, operation=SIGN_IN_TOKEN)
        ) == ["INVALID_CREDENTIALS"]
    # Even the right password, from there:
    blocked = await sign_in(admin, client=ATTACKER, operation=SIGN_IN_TOKEN)
    assert codes(blocked) == ["TOO_MANY_ATTEMPTS"]
    assert "from your network" in blocked["userErrors"][0]["message"]

    assert (await sign_in(admin, client=USER_NETWORK, operation=SIGN_IN_TOKEN))["token"]


@behind_a_proxy
async def test_guessing_from_many_networks_holds_back_new_ones_but_not_the_users_own(
    admin: Api,
) -> None:
    # The user's usual network:
    assert (await sign_in(admin, client=USER_NETWORK, operation=SIGN_IN_TOKEN))["token"]
    for i in range(4):  # the account-wide limit, one guess from each of four networks
        await sign_in(admin, password="guess", client=f"192.0.2.{i}", operation=SIGN_IN_TOKEN)

    from_a_new_network = await sign_in(admin, client="192.0.2.200", operation=SIGN_IN_TOKEN)
    assert codes(from_a_new_network) == ["TOO_MANY_ATTEMPTS"]
    assert "for this e-mail address;" in from_a_new_network["userErrors"][0]["message"]
    assert (await sign_in(admin, client=USER_NETWORK, operation=SIGN_IN_TOKEN))["token"]


@behind_a_proxy
async def test_one_network_guessing_many_accounts_is_held_back(admin: Api) -> None:
    await admin.add_user("bob@example.com")
    for i in range(6):
        await sign_in(
            admin, f"person{i}@example.com", "guess", client=ATTACKER, operation=SIGN_IN_TOKEN
        )

    blocked = await sign_in(admin, "bob@example.com", client=ATTACKER, operation=SIGN_IN_TOKEN)
    assert codes(blocked) == ["TOO_MANY_ATTEMPTS"]
    assert "from your network" in blocked["userErrors"][0]["message"]
    assert (await sign_in(admin, "bob@example.com", client=USER_NETWORK, operation=SIGN_IN_TOKEN))[
        "token"
    ]


@pytest.mark.parametrize(
    "settings_overrides", [{"login_max_failures": 2}], ids=["no proxy configured"]
)
async def test_a_forged_forwarded_for_header_does_not_escape_a_block(admin: Api) -> None:
    for i in range(2):
        await sign_in(admin, password="guess", client=f"192.0.2.{i}", operation=SIGN_IN_TOKEN)
    # Without trusted proxies the header is ignored: every attempt came from the same client.
    assert codes(await sign_in(admin, client="192.0.2.99", operation=SIGN_IN_TOKEN)) == [
        "TOO_MANY_ATTEMPTS"
    ]


async def test_a_deactivated_account_answers_like_a_wrong_password(admin: Api) -> None:
    bob_token = await admin.add_user("bob@example.com")
    bob = await my_id(admin, bob_token)
    await admin.ok(
        "mutation($i: UserUpdateInput!) { userUpdate(input: $i) { userErrors { code } } }",
        {"i": {"id": bob, "active": False}},
    )
    right = await sign_in(admin, "bob@example.com", operation=SIGN_IN_TOKEN)
    wrong = await sign_in(admin, "bob@example.com", "not it", operation=SIGN_IN_TOKEN)
    assert right == wrong
    assert right["userErrors"][0]["message"] == "The e-mail address or password is wrong"


# --- the client's address ----------------------------------------------------------------------

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        ("192.0.2.1", None, "192.0.2.1"),
        ("192.0.2.1", "203.0.113.9", "192.0.2.1"),  # not from a proxy: header ignored
        ("10.0.0.5", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.5", "1.2.3.4, 203.0.113.9, 10.0.0.7", "203.0.113.9"),  # nearest untrusted hop
        ("10.0.0.5", "10.0.0.6", "10.0.0.6"),  # only proxies: the farthest one
        ("10.0.0.5", "203.0.113.9, garbage", "10.0.0.5"),  # stop at a malformed hop
        ("::1", "2001:db8::1", "2001:db8::1"),
        (None, "203.0.113.9", "unknown"),
        ("not an address", None, "unknown"),
    ],
)
def test_the_client_address_believes_forwarded_for_only_from_trusted_proxies(
    peer: str | None, forwarded_for: str | None, expected: str
) -> None:
    assert client_address(peer, forwarded_for, PROXIES) == expected


# --- password work -----------------------------------------------------------------------------


class GatedHasher:
    """Holds every password check until the test opens the gate, so the test can see what
    happens while checks are running, without timing anything."""

    def __init__(self) -> None:
        self.started = threading.Semaphore(0)
        self.gate = threading.Event()

    def verify(self, _hash: str, _password: str) -> bool:
        self.started.release()
        self.gate.wait(timeout=30)
        return False

    def hash(self, password: str) -> str:
        raise AssertionError("not used here")


@pytest.mark.parametrize(
    "settings_overrides", [{"password_concurrency": 1, "password_queue": 1}], ids=["1+1"]
)
async def test_a_flood_of_sign_ins_is_refused_quickly_and_others_are_still_served(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    hasher = GatedHasher()
    monkeypatch.setattr(passwords, "_hasher", hasher)
    attempts = [
        asyncio.create_task(
            admin.client.post(
                "/graphql",
                json={
                    "query": SIGN_IN_TOKEN,
                    "variables": {"input": {"email": f"x{i}@example.com", "password": "guess"}},
                },
            )
        )
        for i in range(10)
    ]
    # One check runs and one waits; the eight others are refused without waiting for them.
    refused = []
    for finished in asyncio.as_completed(attempts):
        response = await finished
        refused.append(response)
        if len(refused) == 8:
            break
    assert await asyncio.to_thread(hasher.started.acquire, timeout=30)
    for response in refused:
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        (error,) = response.json()["errors"]
        assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 1}
        assert "try again in a moment" in error["message"]
    # Everyone else is served meanwhile.
    assert (await admin.ok("{ me { email } }"))["me"]["email"] == ADMIN_EMAIL
    hasher.gate.set()
    answered = await asyncio.gather(*attempts)
    assert sorted(r.status_code for r in answered) == [200, 200] + [429] * 8

from tests.conftest import Api


async def test_first_user_becomes_admin(api: Api) -> None:
    token = await api.sign_up_admin()
    me = await api.ok("{ me { email role active } }", token=token)
    assert me["me"] == {"email": "ada@example.com", "role": "ADMIN", "active": True}

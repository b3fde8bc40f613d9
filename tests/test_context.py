"""A Context is one operation's, not an HTTP request's: anything that runs an operation (a
request today, each event of a subscription later) builds one from the service's resources
and a token, and a token revoked in between stops working at the next one."""

import pytest

from resolvers.context import Context
from resolvers.resources import open_resources
from services.auth import token_from_authorization
from services.errors import AuthError
from tests.conftest import Api, settings_for

SIGN_OUT = "mutation { sessionRevoke { revoked } }"


async def test_each_operation_builds_its_own_context_and_checks_the_token_again(
    admin: Api, database_url: str
) -> None:
    token = await admin.add_user("bob@example.com", "MEMBER", "Bob")
    async with open_resources(settings_for(database_url)) as resources:
        first = Context(resources, token=token_from_authorization(f"Bearer {token}"))
        viewer = await first.require()
        assert viewer.user.email == "bob@example.com"
        await first.close()

        await admin.ok(SIGN_OUT, token=token)

        second = Context(resources, token=token)
        with pytest.raises(AuthError, match="signed out"):
            await second.require()
        await second.close()


async def test_a_context_reads_through_fresh_loaders_and_gives_its_connection_back(
    admin: Api, database_url: str
) -> None:
    async with open_resources(settings_for(database_url)) as resources:
        # The import worker looks for work with a connection of its own now and then: only
        # the context's connection is counted here.
        await resources.imports.stop()
        context = Context(resources, token=admin.admin_token)
        viewer = await context.require()
        assert (await context.loaders.user.load(viewer.id)) is not None
        await context.close()
        pool = resources.engine.pool
        assert getattr(pool, "checkedout", lambda: 0)() == 0
        assert Context(resources, token=None).loaders is not context.loaders


def test_the_authorization_value_is_read_the_same_way_everywhere() -> None:
    assert token_from_authorization("Bearer abc") == "abc"
    assert token_from_authorization("bearer  abc ") == "abc"
    assert token_from_authorization("Basic abc") is None
    assert token_from_authorization("Bearer ") is None
    assert token_from_authorization(None) is None

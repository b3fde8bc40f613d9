"""Python's gql client, unmodified, against the service: a query and a subscription over
graphql-transport-ws, authenticated by the connection's init payload."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.live import ACTIVITY, LiveServer, live_server

gql = pytest.importorskip("gql", reason="gql is a dev dependency (pip install '.[dev]')")
websockets_transport = pytest.importorskip("gql.transport.websockets")


@pytest.fixture
async def live(database_url: str) -> AsyncIterator[LiveServer]:
    async with live_server(database_url, live_poll_seconds=1.0) as server:
        yield server


async def test_the_gql_client_queries_and_subscribes(live: LiveServer) -> None:
    card = await live.card()
    transport = websockets_transport.WebsocketsTransport(
        url=live.ws_url,
        init_payload={"authorization": f"Bearer {live.admin_token}"},
        subprotocols=[websockets_transport.WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    client = gql.Client(transport=transport)
    async with client as session:
        me: dict[str, Any] = await session.execute(gql.gql("{ me { name } }"))
        assert me == {"me": {"name": "Ada"}}
        follow = gql.gql(ACTIVITY)
        follow.variable_values = {"c": card, "after": live.origins[card]}
        events = session.subscribe(follow)
        await live.note(card, "through gql")
        event = (await anext(events))["contactActivity"]
        await events.aclose()
    assert event["subject"]["body"] == "through gql"
    assert event["actor"] == {"name": "Ada"}

"""Live activity over GraphQL subscriptions (graphql-transport-ws on /graphql), against a real
uvicorn server on loopback: the protocol, contactActivity with replay and live delivery, who
may follow what, and a consumer too slow to keep up."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker

from models.activity import ActivityKind
from schema.live.fanout import FELL_BEHIND
from services import activity
from services.ids import decode_id
from tests.live import HOST, REDIS_URL, WAIT_SECONDS, LiveServer, StuckClient, client, live_server

FAST = {
    "ws_init_timeout_seconds": 0.5,
    "live_poll_seconds": 1.0,
    "broadcast_check_seconds": 1.0,
    **({"broadcast_url": REDIS_URL} if REDIS_URL else {}),
}


@pytest.fixture
def live_settings() -> dict[str, Any]:
    return {}


@pytest.fixture
async def live(database_url: str, live_settings: dict[str, Any]) -> AsyncIterator[LiveServer]:
    async with live_server(database_url, **{**FAST, **live_settings}) as server:
        yield server


async def test_a_note_reaches_a_subscriber_with_everything_it_selected(live: LiveServer) -> None:
    card = await live.card()
    async with client(live) as ws:
        await ws.follow("1", card)
        await live.note(card, "Called them: **interested**")
        event = await ws.event("1")
    assert event["kind"] == "NOTE_ADDED"
    assert event["actor"] == {"name": "Ada"}
    assert event["contact"] == {"name": "Acme AB"}
    assert event["subject"]["body"] == "Called them: **interested**"
    assert event["cursor"]


async def test_queries_and_mutations_run_once_over_the_socket(live: LiveServer) -> None:
    async with client(live) as ws:
        await ws.subscribe("q", "{ me { name } }")
        assert await ws.receive() == {
            "id": "q",
            "type": "next",
            "payload": {"data": {"me": {"name": "Ada"}}},
        }
        assert await ws.receive() == {"id": "q", "type": "complete"}
        await ws.subscribe("bad", "{ me { nope } }")
        error = await ws.receive()
    assert (error["type"], error["id"]) == ("error", "bad")
    assert "nope" in error["payload"][0]["message"]


# --- the protocol ---------------------------------------------------------------------------


async def test_a_connection_without_connection_init_in_time_is_closed(live: LiveServer) -> None:
    async with client(live, init=False) as ws:
        assert await ws.closed() == (4408, "Connection initialisation timeout")


async def test_a_bad_or_revoked_credential_is_refused_at_connection_init(live: LiveServer) -> None:
    async with client(live, init=False) as ws:
        await ws.send({"type": "connection_init", "payload": {"authorization": "Bearer nope"}})
        code, reason = await ws.closed()
    assert code == 4403
    assert "not valid" in reason
    async with client(live, init=False) as ws:
        await ws.send({"type": "connection_init", "payload": {"authorization": "Basic abc"}})
        assert (await ws.closed())[0] == 4403


async def test_protocol_errors_close_the_socket_with_the_protocols_codes(live: LiveServer) -> None:
    async with client(live, init=False) as ws:
        await ws.subscribe("1", "{ me { name } }")
        assert await ws.closed() == (4401, "Unauthorized: send connection_init first")
    async with client(live) as ws:
        await ws.send({"type": "connection_init"})
        assert await ws.closed() == (4429, "Too many initialisation requests")
    async with client(live) as ws:
        await ws.ws.send("{not json")
        assert await ws.closed() == (4400, "The message is not valid JSON")
    async with client(live) as ws:
        await ws.send({"type": "hello"})
        assert await ws.closed() == (4400, "Unknown message type 'hello'")
    async with client(live) as ws:
        await ws.send({"id": "1", "type": "subscribe", "payload": {"variables": {}}})
        assert await ws.closed() == (
            4400,
            "The request has no `query`: send the GraphQL document in it",
        )


async def test_a_second_subscriber_with_a_taken_id_closes_the_socket(live: LiveServer) -> None:
    card = await live.card()
    async with client(live) as ws:
        await ws.follow("same", card)
        await ws.follow("same", card)
        assert await ws.closed() == (4409, "Subscriber for same already exists")


async def test_pings_are_answered_and_a_client_that_never_answers_is_closed(
    database_url: str,
) -> None:
    async with live_server(database_url, **{**FAST, "ws_ping_seconds": 0.2}) as live:
        async with client(live) as ws:
            await ws.send({"type": "ping"})
            assert await ws.receive() == {"type": "pong"}
            ws.answer_pings = False
            assert await ws.closed() == (4504, "No pong in answer to the last ping")
        async with client(live) as ws:  # one that answers stays
            async with asyncio.timeout(WAIT_SECONDS):
                while ws.pings < 5:
                    message = json.loads(await ws.ws.recv())
                    assert message == {"type": "ping"}
                    ws.pings += 1
                    await ws.send({"type": "pong"})
            await ws.subscribe("me", "{ me { name } }")
            assert (await ws.receive())["payload"] == {"data": {"me": {"name": "Ada"}}}


async def test_the_legacy_protocol_is_refused(live: LiveServer) -> None:
    async with client(live, init=False, subprotocols=["graphql-ws"]) as ws:
        assert await ws.closed() == (4406, "Subprotocol not acceptable: use graphql-transport-ws")


async def test_graphiql_headers_work_as_connection_parameters_in_any_case(
    live: LiveServer,
) -> None:
    async with client(live, init=False) as ws:
        await ws.send(
            {"type": "connection_init", "payload": {"AUTHORIZATION": f"Bearer {live.admin_token}"}}
        )
        assert await ws.receive() == {"type": "connection_ack"}
        await ws.subscribe("me", "{ me { name } }")
        assert (await ws.receive())["payload"] == {"data": {"me": {"name": "Ada"}}}


# --- who may follow what ----------------------------------------------------------------------


async def test_subscriptions_need_sign_in_and_a_card_that_is_not_in_the_bin(
    live: LiveServer,
) -> None:
    card = await live.card()
    async with client(live, token="") as ws:  # anonymous connections are accepted ...
        await ws.follow("1", card)
        error = await ws.receive()
    assert error["type"] == "error"  # ... but cannot subscribe
    assert error["payload"][0]["message"] == "Sign in first: send Authorization: Bearer <token>"
    assert error["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    async with client(live) as ws:
        await ws.follow("1", card, after="garbage")
        error = await ws.receive()
        assert error["payload"][0]["message"] == "'garbage' is not a valid cursor"
        assert error["payload"][0]["extensions"]["code"] == "INVALID_CURSOR"
    await live.ok(
        "mutation($i: ContactIdInput!) { contactDelete(input: $i) { userErrors { message } } }",
        {"i": {"id": card}},
    )
    async with client(live) as ws:
        await ws.follow("1", card)
        error = await ws.receive()
        assert error["payload"][0]["extensions"]["code"] == "IN_BIN"
        assert "in the bin" in error["payload"][0]["message"]
        await ws.follow("2", "Q29udGFjdDo5OTk5")  # Contact:9999
        error = await ws.receive()
        assert error["payload"][0]["message"] == "The card was not found"


async def test_a_viewer_may_follow_and_private_notes_reach_their_author_alone(
    live: LiveServer,
) -> None:
    card = await live.card()
    viewer = await live.add_user("vi@example.com", "VIEWER", "Vi")
    async with client(live) as author, client(live, viewer) as other:
        await author.follow("1", card)
        await other.follow("1", card)
        await live.note(card, "Only mine", visibility="PRIVATE")
        await live.note(card, "For the team")
        assert (await author.event())["subject"]["body"] == "Only mine"
        assert (await author.event())["subject"]["body"] == "For the team"
        # The viewer's first event is the team note: the private one never reached them.
        assert (await other.event())["subject"]["body"] == "For the team"


# --- replay and live --------------------------------------------------------------------------


async def test_after_replays_what_was_missed_then_continues_live(live: LiveServer) -> None:
    card = await live.card()
    for number in range(5):
        await live.note(card, f"note {number}")
    history = await live.ok(
        "query($c: ID!) { contact(id: $c) { activity(first: 10) { edges { cursor node { cursor } } } } }",
        {"c": card},
    )
    edges = list(reversed(history["contact"]["activity"]["edges"]))  # oldest first
    # The third note's event by its stream cursor; a history edge's cursor works as well.
    for after in (edges[3]["node"]["cursor"], edges[3]["cursor"]):
        async with client(live) as ws:
            await ws.follow("1", card, after=after)
            assert (await ws.event())["subject"]["body"] == "note 3"
            assert (await ws.event())["subject"]["body"] == "note 4"
            await live.note(card, "live")
            assert (await ws.event())["subject"]["body"] == "live"


async def test_replay_and_live_under_concurrent_writers_miss_nothing_and_repeat_nothing(
    live: LiveServer,
) -> None:
    card = await live.card()
    writers, notes_each = 6, 8

    async def write(writer: int) -> None:
        for number in range(notes_each):
            await live.note(card, f"{writer}:{number}")

    async with client(live) as early:
        await early.follow("1", card)
        first = await live.note(card, "before")
        start = await early.event()
        assert start["subject"]["id"] == first
        writing = asyncio.gather(*(write(w) for w in range(writers)))
        # A second subscriber joins while the writers run, from the first event's cursor:
        # it replays what it missed and switches to live with no gap and no repeat.
        async with client(live) as late:
            await late.follow("1", card, after=start["cursor"])
            await writing
            received_early = [await early.event() for _ in range(writers * notes_each)]
            received_late = [await late.event() for _ in range(writers * notes_each)]
            await live.note(card, "after")
            assert (await early.event())["subject"]["body"] == "after"
            assert (await late.event())["subject"]["body"] == "after"
    expected = {f"{w}:{n}" for w in range(writers) for n in range(notes_each)}
    for received in (received_early, received_late):
        bodies = [event["subject"]["body"] for event in received]
        assert sorted(bodies) == sorted(expected)  # each once
        for w in range(writers):  # each writer's notes in the order written
            mine = [b for b in bodies if b.startswith(f"{w}:")]
            assert mine == [f"{w}:{n}" for n in range(notes_each)]
    assert [e["id"] for e in received_early] == [e["id"] for e in received_late]


# --- credentials that stop holding, limits, a consumer too slow to keep up --------------------

SIGN_OUT = "mutation { sessionRevoke { revoked userErrors { message } } }"
DEACTIVATE = """mutation($input: UserUpdateInput!) { userUpdate(input: $input) {
  userErrors { message } } }"""
REVOKED = "Your credentials no longer hold (signed out, revoked or deactivated); sign in again"


async def test_a_revoked_session_stops_receiving_events(live: LiveServer) -> None:
    card = await live.card()
    member = await live.add_user("bo@example.com")
    async with client(live, member) as ws:
        await ws.follow("1", card)
        await live.note(card, "seen")
        assert (await ws.event())["subject"]["body"] == "seen"
        await live.ok(SIGN_OUT, token=member)
        await live.note(card, "not seen")
        assert await ws.closed() == (4403, REVOKED)


async def test_a_deactivated_user_stops_receiving_events(live: LiveServer) -> None:
    card = await live.card()
    member = await live.add_user("bo@example.com")
    user_id = (await live.ok("{ me { id } }", token=member))["me"]["id"]
    async with client(live, member) as ws, client(live) as admin:
        await ws.follow("1", card)
        await admin.follow("1", card)
        await live.ok(DEACTIVATE, {"input": {"id": user_id, "active": False}})
        await live.note(card, "after")
        assert await ws.closed() == (4403, REVOKED)
        assert (await admin.event())["subject"]["body"] == "after"  # others go on


@pytest.mark.parametrize(
    "live_settings", [{"ws_max_subscriptions": 2, "ws_max_connections_per_user": 1}]
)
async def test_subscriptions_per_connection_and_connections_per_user_are_limited(
    live: LiveServer,
) -> None:
    card = await live.card()
    async with client(live) as ws:
        await ws.follow("1", card)
        await ws.follow("2", card)
        await ws.follow("3", card)
        refused = await ws.receive()
        assert (refused["id"], refused["type"]) == ("3", "error")
        assert refused["payload"][0]["message"] == (
            "At most 2 subscriptions on one connection: complete one first, or open another "
            "connection"
        )
        await ws.send({"id": "2", "type": "complete"})
        await ws.follow("3", card)  # room again
        await live.note(card, "hello")
        assert (await ws.event("3"))["subject"]["body"] == "hello"
        async with client(live, init=False) as second:
            payload = {"authorization": f"Bearer {live.admin_token}"}
            await second.send({"type": "connection_init", "payload": payload})
            assert await second.closed() == (
                4411,
                "Too many connections: at most 1 per user on one server process",
            )


@pytest.mark.parametrize(
    "live_settings", [{"ws_max_subscriptions": 2, "ws_max_subscriptions_per_user": 3}]
)
async def test_subscriptions_per_user_are_limited_across_connections(live: LiveServer) -> None:
    card = await live.card()
    async with client(live) as first, client(live) as second:
        await first.follow("1", card)
        await first.follow("2", card)
        await second.follow("1", card)
        await second.follow("2", card)
        refused = await second.receive()
        assert (refused["id"], refused["type"]) == ("2", "error")
        assert refused["payload"][0]["message"] == (
            "At most 3 subscriptions per user on one server process: complete one first"
        )
        assert refused["payload"][0]["extensions"] == {"code": "TOO_MANY_SUBSCRIPTIONS"}
        await first.send({"id": "1", "type": "complete"})
        await second.follow("2", card)  # room again
        await live.note(card, "hello")
        assert (await second.event("2"))["subject"]["body"] == "hello"
    # Connections that end give their subscriptions back.
    async with client(live) as third:
        for op_id in ("1", "2"):
            await third.follow(op_id, card)
        await live.note(card, "again")
        for op_id in ("1", "2"):  # each replays from the card's start, then goes live
            while (await third.event(op_id))["subject"]["body"] != "again":
                pass


@pytest.mark.parametrize("live_settings", [{"live_queue_size": 2}])
async def test_a_client_too_slow_to_read_is_closed_with_the_resume_code(
    live: LiveServer,
) -> None:
    card = await live.card()
    # Each event it asks for is large: the note's body twenty times over.
    bodies = " ".join(f"b{n}: subject {{ ... on Note {{ body }} }}" for n in range(20))
    large = (
        "subscription($c: ID!, $after: String) "
        f"{{ contactActivity(contactId: $c, after: $after) {{ {bodies} }} }}"
    )
    # Blocking calls in a thread: the server runs on this event loop.
    slow = await asyncio.to_thread(StuckClient, HOST, live.port)
    try:
        await asyncio.to_thread(
            slow.send,
            {"type": "connection_init", "payload": {"authorization": f"Bearer {live.admin_token}"}},
        )
        await asyncio.to_thread(
            slow.send,
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": large, "variables": {"c": card, "after": live.origins[card]}},
            },
        )
        async with client(live) as fast:
            await fast.follow("1", card)
            await live.note(card, "first")  # both follow by now
            assert (await fast.event())["subject"]["body"] == "first"
            body = "x" * 19_990
            for number in range(60):  # far more than the buffers on the way hold (~4 MB)
                await live.note(card, f"{number} {body}")
            for number in range(60):  # the fast client gets every one
                assert (await fast.event())["subject"]["body"].startswith(f"{number} ")
        # The slow one what was on its way when it fell behind, then the resume code.
        messages, close = await asyncio.to_thread(slow.read_all)
    finally:
        slow.close()
    assert messages[0] == {"type": "connection_ack"}
    assert 1 < len(messages) - 1 < 61
    assert close == FELL_BEHIND


# --- what it costs, and the order PostgreSQL commits in ---------------------------------------


async def _statements_for_one_note(live: LiveServer, followers: int) -> int:
    """Statements the server runs for a note followed by `followers` members (other users,
    one connection each, the same subscription), from the write to the last delivery."""
    card = await live.card(f"card {followers}", key=f"k{followers}")
    tokens = [
        await live.add_user(f"m{followers}.{n}@example.com", "MEMBER", f"M{n}")
        for n in range(followers)
    ]
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    assert live.engine is not None
    async with contextlib.AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(client(live, t)) for t in tokens]
        for connection in connections:
            await connection.follow("1", card)
        await live.note(card, "warm")  # every subscription has started
        for connection in connections:
            assert (await connection.event())["subject"]["body"] == "warm"
        event.listen(live.engine.sync_engine, "before_cursor_execute", count)
        try:
            await live.note(card, "counted")
            for connection in connections:
                assert (await connection.event())["subject"]["body"] == "counted"
        finally:
            event.remove(live.engine.sync_engine, "before_cursor_execute", count)
    return len(statements)


async def test_an_event_costs_the_same_statements_for_one_subscriber_or_many(
    live: LiveServer,
) -> None:
    # One read of the log for the process, one check of everyone's credentials, one
    # resolution for the group: the count does not grow with the subscribers.
    assert await _statements_for_one_note(live, 1) == await _statements_for_one_note(live, 6)


async def test_an_event_that_commits_late_is_delivered_before_the_later_ones(
    live: LiveServer,
) -> None:
    if not live.database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite writers take turns, so ids follow commits")
    card = await live.card()
    async with client(live) as ws:
        await ws.follow("1", card)
        assert live.engine is not None
        factory = async_sessionmaker(live.engine, expire_on_commit=False)
        async with factory() as late:
            # A transaction takes its id and writes an event, then waits ...
            await activity.record(
                late, ActivityKind.NOTE_ADDED, actor_id=None, contact_id=decode_id(card, "Contact")
            )
            # ... while a later one commits a note (a larger id and transaction id).
            await live.note(card, "committed first")
            await late.commit()
        first, second = await ws.event(), await ws.event()
    # The reader waited for the older transaction, so its event comes first and no cursor
    # ever stood beyond an event still to come.
    assert (first["kind"], first["subject"]) == ("NOTE_ADDED", None)
    assert second["subject"]["body"] == "committed first"

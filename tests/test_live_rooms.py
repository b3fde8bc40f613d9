"""A project room live, as a wall dashboard follows it: everything the room gathers arrives as
it happens, for its members only; a member who leaves stops receiving, private notes stay
private, and a client that reconnects with its cursor gets exactly what it missed."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.live import REDIS_URL, LiveServer, client, live_server

FAST = {
    "ws_init_timeout_seconds": 0.5,
    "live_poll_seconds": 1.0,
    "broadcast_check_seconds": 1.0,
    **({"broadcast_url": REDIS_URL} if REDIS_URL else {}),
}
ROOM_ACTIVITY = """subscription($r: ID!, $after: String) { roomActivity(roomId: $r, after: $after) {
  cursor kind actor { name } contact { name } room { name }
  subject { id ... on Note { body } ... on Todo { title room { name } } } } }"""
ROOM_CREATE = """mutation($input: RoomCreateInput!) { roomCreate(input: $input) {
  room { id } userErrors { field message code } } }"""
LINK = """mutation($input: RoomCategoryInput!) { roomCategoryLink(input: $input) {
  room { id } userErrors { field message code } } }"""
MEMBER_ADD = """mutation($input: RoomMemberInput!) { roomMemberAdd(input: $input) {
  room { id } userErrors { field message code } } }"""
MEMBER_REMOVE = """mutation($input: RoomMemberInput!) { roomMemberRemove(input: $input) {
  room { id } userErrors { field message code } } }"""
TODO_CREATE = """mutation($input: TodoCreateInput!) { todoCreate(input: $input) {
  todo { id } userErrors { field message code } } }"""
NOTE_CREATE = """mutation($input: NoteCreateInput!) { noteCreate(input: $input) {
  note { id } userErrors { field message code } } }"""
CARD_IN = """query($c: ID!) { node(id: $c) { ... on Contact { category { id } } } }"""
LATEST = """query($r: ID!) { node(id: $r) { ... on ProjectRoom {
  activity(first: 1) { nodes { cursor } } } } }"""


@pytest.fixture
async def live(database_url: str) -> AsyncIterator[LiveServer]:
    async with live_server(database_url, **FAST) as server:
        yield server


async def scene(live: LiveServer) -> dict[str, Any]:
    """A room over the category of card Acme, with member Mia; Otto is a MEMBER outside it."""
    card = await live.card()
    category = (await live.ok(CARD_IN, {"c": card}))["node"]["category"]["id"]
    room = (await live.ok(ROOM_CREATE, {"input": {"name": "Customers 2027"}}))["roomCreate"][
        "room"
    ]["id"]
    await live.ok(LINK, {"input": {"roomId": room, "categoryId": category}})
    mia = await live.add_user("mia@example.com", "MEMBER", "Mia")
    otto = await live.add_user("otto@example.com", "MEMBER", "Otto")
    mia_id = (await live.ok("{ me { id } }", token=mia))["me"]["id"]
    await live.ok(MEMBER_ADD, {"input": {"roomId": room, "userId": mia_id}})
    # Subscriptions follow from the room's latest event, so that an event written just after
    # `subscribe` was sent arrives whether or not the subscription had started yet.
    latest = await live.ok(LATEST, {"r": room})
    origin = latest["node"]["activity"]["nodes"][0]["cursor"]
    return {
        "card": card,
        "room": room,
        "mia": mia,
        "mia_id": mia_id,
        "otto": otto,
        "follow": {"r": room, "after": origin},
    }


async def test_a_member_sees_the_rooms_cards_and_own_work_live(live: LiveServer) -> None:
    people = await scene(live)
    async with client(live, people["mia"]) as ws:
        await ws.subscribe("room", ROOM_ACTIVITY, people["follow"])
        await live.note(people["card"], "Called them")
        on_card = await ws.event("room")
        await live.ok(TODO_CREATE, {"input": {"roomId": people["room"], "title": "Plan Q1"}})
        own = await ws.event("room")
    assert on_card["kind"] == "NOTE_ADDED"
    assert on_card["contact"] == {"name": "Acme AB"}
    assert on_card["subject"]["body"] == "Called them"
    assert own["kind"] == "TODO_CREATED"
    assert own["room"] == {"name": "Customers 2027"}
    assert own["subject"]["title"] == "Plan Q1"
    assert own["subject"]["room"] == {"name": "Customers 2027"}


async def test_outsiders_cannot_follow_a_room(live: LiveServer) -> None:
    people = await scene(live)
    async with client(live, people["otto"]) as ws:
        await ws.subscribe("room", ROOM_ACTIVITY, people["follow"])
        refused = await ws.receive()
    assert (refused["id"], refused["type"]) == ("room", "error")
    assert "not one of its members" in refused["payload"][0]["message"]
    async with client(live, "") as ws:
        await ws.subscribe("room", ROOM_ACTIVITY, people["follow"])
        refused = await ws.receive()
    assert refused["type"] == "error"
    assert "Sign in" in refused["payload"][0]["message"]


async def test_a_member_who_leaves_stops_receiving(live: LiveServer) -> None:
    people = await scene(live)
    async with client(live, people["mia"]) as ws:
        await ws.subscribe("room", ROOM_ACTIVITY, people["follow"])
        await live.note(people["card"], "While she is in")
        assert (await ws.event("room"))["subject"]["body"] == "While she is in"  # following
        await live.ok(
            MEMBER_REMOVE, {"input": {"roomId": people["room"], "userId": people["mia_id"]}}
        )
        # The removal is the room's own news; what follows is not hers any more.
        await live.note(people["card"], "After she left")
        message = await ws.receive()
        while message["type"] == "next":
            assert message["payload"]["data"]["roomActivity"]["kind"] == "ROOM_MEMBER_REMOVED"
            message = await ws.receive()
    assert (message["id"], message["type"]) == ("room", "error")
    assert "no longer a member" in message["payload"][0]["message"]


async def test_private_notes_reach_only_their_author(live: LiveServer) -> None:
    people = await scene(live)
    async with client(live, people["mia"]) as ws:
        await ws.subscribe("room", ROOM_ACTIVITY, people["follow"])
        await live.ok(
            NOTE_CREATE,
            {"input": {"roomId": people["room"], "body": "mine", "visibility": "PRIVATE"}},
        )
        await live.note(people["card"], "for the team")
        first = await ws.event("room")
    assert first["subject"]["body"] == "for the team"


async def test_a_client_back_with_its_cursor_gets_what_it_missed_then_goes_on(
    live: LiveServer,
) -> None:
    people = await scene(live)
    async with client(live, people["mia"]) as ws:
        await ws.subscribe("room", ROOM_ACTIVITY, people["follow"])
        await live.note(people["card"], "one")
        cursor = (await ws.event("room"))["cursor"]
    for text in ("two", "three"):
        await live.note(people["card"], text)
    await live.ok(TODO_CREATE, {"input": {"roomId": people["room"], "title": "four"}})
    async with client(live, people["mia"]) as ws:
        await ws.subscribe("room", ROOM_ACTIVITY, {"r": people["room"], "after": cursor})
        missed = [await ws.event("room") for _ in range(3)]
        await live.note(people["card"], "five")
        live_one = await ws.event("room")
    assert [e["subject"].get("body") or e["subject"].get("title") for e in missed] == [
        "two",
        "three",
        "four",
    ]
    assert live_one["subject"]["body"] == "five"

"""Project rooms as a team uses them: a room gathers the cards of its categories and its own
to-dos and notes, for its members (and admins) only, with an overview counted in SQL."""

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from services.mail_digest import digests_due
from services.mail_templates import format_day
from tests.conftest import Api
from tests.helpers import (
    CONTACT_DELETE,
    CONTACT_RESTORE,
    create_category,
    create_contact,
    mutation,
    my_id,
)
from tests.test_files import upload

ROOM_FIELDS = """id name description createdBy { email }
  categories { key } members { user { email } addedBy { email } }"""
ROOM_CREATE = mutation("roomCreate", "RoomCreateInput", f"room {{ {ROOM_FIELDS} }}")
ROOM_UPDATE = mutation("roomUpdate", "RoomUpdateInput", f"room {{ {ROOM_FIELDS} }}")
ROOM_DELETE = mutation("roomDelete", "RoomDeleteInput", "room { id name }")
LINK = mutation("roomCategoryLink", "RoomCategoryInput", "room { categories { key } }")
UNLINK = mutation("roomCategoryUnlink", "RoomCategoryInput", "room { categories { key } }")
MEMBER_ADD = mutation("roomMemberAdd", "RoomMemberInput", "room { members { user { email } } }")
MEMBER_REMOVE = mutation(
    "roomMemberRemove", "RoomMemberInput", "room { members { user { email } } }"
)
TODO_CREATE = mutation(
    "todoCreate", "TodoCreateInput", "todo { id title contact { name } room { name } }"
)
TODO_COMPLETE = mutation("todoComplete", "TodoIdInput", "todo { status }")
TODO_UPDATE = mutation("todoUpdate", "TodoUpdateInput", "todo { title }")
NOTE_CREATE = mutation(
    "noteCreate", "NoteCreateInput", "note { id body contact { name } room { name } }"
)
ROOM = """query($id: ID!, $status: TodoStatus, $first: Int) { node(id: $id) { ... on ProjectRoom {
  name
  todos(status: $status, first: $first) { totalCount nodes { title contact { name } room { name } } }
  notes { totalCount nodes { body } }
  activity(first: 50) { totalCount nodes { kind details contact { name } room { name } } } } } }"""
ROOMS = "{ rooms { name } }"
ROOM_WORK = """query($id: ID!) { node(id: $id) { ... on ProjectRoom {
  todos { totalCount } notes { totalCount } files { totalCount } overview { open } } } }"""
OVERVIEW = """query($id: ID!) { node(id: $id) { ... on ProjectRoom { overview {
  open overdue dueThisWeek doneThisWeek notesThisWeek
  load { open overdue assignee { email } }
  newestFiles { name } latestActivity(first: 3) { kind } } } } }"""


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    """Files of this module's cards go to the test's own folder."""
    return {"storage_url": f"file:{tmp_path / 'files'}"}


async def room_work(api: Api, room: str, token: str) -> tuple[int, int, int, int]:
    """What a room shows: its to-dos, notes and files, and the open to-dos of its overview."""
    node = (await api.ok(ROOM_WORK, {"id": room}, token))["node"]
    lists = (node[name]["totalCount"] for name in ("todos", "notes", "files"))
    todos, notes, files = lists
    return todos, notes, files, node["overview"]["open"]


async def room_of(api: Api, name: str = "Customers 2027", token: str | None = None) -> str:
    data = await api.ok(ROOM_CREATE, {"input": {"name": name}}, token)
    room_id: str = data["roomCreate"]["room"]["id"]
    return room_id


async def team(admin: Api) -> dict[str, Any]:
    """Lead Lea opens a room over Customers with member Max; Olga is a MEMBER outside it, Vic
    a VIEWER in it. Suppliers stay outside every room."""
    people: dict[str, Any] = {}
    for name, role in (("lea", "MEMBER"), ("max", "MEMBER"), ("olga", "MEMBER"), ("vic", "VIEWER")):
        people[name] = await admin.add_user(f"{name}@example.com", role, name.capitalize())
        people[f"{name}_id"] = await my_id(admin, people[name])
    customers = await create_category(admin, "customers")
    suppliers = await create_category(admin, "suppliers")
    people["customers"] = customers["id"]
    people["acme"] = (await create_contact(admin, customers["id"], "Acme"))["id"]
    people["globex"] = (await create_contact(admin, customers["id"], "Globex"))["id"]
    people["steel"] = (await create_contact(admin, suppliers["id"], "Steel Inc"))["id"]
    room = await room_of(admin, token=people["lea"])
    people["room"] = room
    await admin.ok(LINK, {"input": {"roomId": room, "categoryId": customers["id"]}}, people["lea"])
    for who in ("max", "vic"):
        await admin.ok(
            MEMBER_ADD, {"input": {"roomId": room, "userId": people[f"{who}_id"]}}, people["lea"]
        )
    return people


async def test_a_room_gathers_its_categories_cards_and_its_own_work(admin: Api) -> None:
    people = await team(admin)
    lea = people["lea"]
    for card, title in ((people["acme"], "Send the offer"), (people["steel"], "Order steel")):
        await admin.ok(TODO_CREATE, {"input": {"contactId": card, "title": title}}, lea)
    own = await admin.ok(
        TODO_CREATE, {"input": {"roomId": people["room"], "title": "Plan Q1"}}, lea
    )
    assert own["todoCreate"]["todo"]["room"] == {"name": "Customers 2027"}
    assert own["todoCreate"]["todo"]["contact"] is None
    await admin.ok(NOTE_CREATE, {"input": {"contactId": people["globex"], "body": "Called"}}, lea)
    await admin.ok(NOTE_CREATE, {"input": {"roomId": people["room"], "body": "Kick-off"}}, lea)

    room = (await admin.ok(ROOM, {"id": people["room"]}, people["max"]))["node"]
    assert room["todos"]["totalCount"] == 2
    assert sorted(n["title"] for n in room["todos"]["nodes"]) == ["Plan Q1", "Send the offer"]
    assert sorted(n["body"] for n in room["notes"]["nodes"]) == ["Called", "Kick-off"]
    kinds = [n["kind"] for n in room["activity"]["nodes"]]
    assert kinds.count("TODO_CREATED") == 2
    assert kinds.count("NOTE_ADDED") == 2
    assert kinds.count("ROOM_CATEGORY_LINKED") == 1
    assert kinds.count("ROOM_MEMBER_ADDED") == 2
    # Cards of categories outside the room are not in it.
    assert "Steel Inc" not in {(n["contact"] or {}).get("name") for n in room["activity"]["nodes"]}


async def test_only_members_and_admins_see_a_room_and_its_own_work(admin: Api) -> None:
    people = await team(admin)
    own = await admin.ok(
        TODO_CREATE, {"input": {"roomId": people["room"], "title": "Plan Q1"}}, people["lea"]
    )
    todo_id = own["todoCreate"]["todo"]["id"]
    olga = people["olga"]
    assert (await admin.ok(ROOMS, token=olga))["rooms"] == []
    assert (await admin.ok(ROOMS, token=people["vic"]))["rooms"] == [{"name": "Customers 2027"}]
    assert (await admin.ok(ROOMS))["rooms"] == [{"name": "Customers 2027"}]
    assert (await admin.ok(ROOM, {"id": people["room"]}, olga))["node"] is None
    node = "query($id: ID!) { node(id: $id) { id } }"
    assert (await admin.ok(node, {"id": todo_id}, olga))["node"] is None
    assert (await admin.ok(node, {"id": todo_id}, people["vic"]))["node"] == {"id": todo_id}
    # Outsiders cannot write into it or change its work, and learn nothing of it.
    for operation, variables in (
        (TODO_CREATE, {"roomId": people["room"], "title": "x"}),
        (NOTE_CREATE, {"roomId": people["room"], "body": "x"}),
        (TODO_COMPLETE, {"id": todo_id}),
        (TODO_UPDATE, {"id": todo_id, "title": "mine now"}),
        (MEMBER_ADD, {"roomId": people["room"], "userId": people["olga_id"]}),
        (ROOM_UPDATE, {"id": people["room"], "name": "Taken"}),
    ):
        errors = await admin.user_errors(operation, {"input": variables}, olga)
        assert errors[0]["code"] == "NOT_FOUND", operation
    # The card of a room's category stays everyone's; its category names no room to outsiders.
    category = """query($id: ID!) { node(id: $id) { ... on Category { room { name } } } }"""
    assert (await admin.ok(category, {"id": people["customers"]}, olga))["node"]["room"] is None
    assert (await admin.ok(category, {"id": people["customers"]}, people["max"]))["node"][
        "room"
    ] == {"name": "Customers 2027"}
    # Someone else's to-do list shows none of a room the viewer may not enter.
    await admin.ok(
        TODO_UPDATE.replace("todo { title }", "todo { title assignee { email } }"),
        {"input": {"id": todo_id, "assigneeId": people["max_id"]}},
        people["lea"],
    )
    theirs = """query($id: ID!) { node(id: $id) { ... on User { todos { totalCount } } } }"""
    assert (await admin.ok(theirs, {"id": people["max_id"]}, olga))["node"]["todos"] == {
        "totalCount": 0
    }
    assert (await admin.ok(theirs, {"id": people["max_id"]}, people["lea"]))["node"]["todos"] == {
        "totalCount": 1
    }


async def test_removing_a_member_shuts_the_room_to_them(admin: Api) -> None:
    people = await team(admin)
    assert (await admin.ok(ROOM, {"id": people["room"]}, people["max"]))["node"] is not None
    data = await admin.ok(
        MEMBER_REMOVE, {"input": {"roomId": people["room"], "userId": people["max_id"]}}
    )
    emails = [m["user"]["email"] for m in data["roomMemberRemove"]["room"]["members"]]
    assert emails == ["lea@example.com", "vic@example.com"]
    assert (await admin.ok(ROOM, {"id": people["room"]}, people["max"]))["node"] is None
    errors = await admin.user_errors(
        MEMBER_REMOVE, {"input": {"roomId": people["room"], "userId": people["max_id"]}}
    )
    assert errors == [
        {"field": ["userId"], "message": "A member of this room was not found", "code": "NOT_FOUND"}
    ]


async def test_a_category_belongs_to_at_most_one_room(admin: Api) -> None:
    people = await team(admin)
    other = await room_of(admin, "Key accounts", people["olga"])
    link = {"input": {"roomId": other, "categoryId": people["customers"]}}
    errors = await admin.user_errors(LINK, link, people["olga"])
    assert errors == [
        {
            "field": ["categoryId"],
            "message": "The category Customers belongs to another room already; a category "
            "belongs to at most one room, so unlink it there first",
            "code": "CONFLICT",
        }
    ]
    # An admin sees both rooms, and is told which one.
    errors = await admin.user_errors(LINK, link)
    assert "belongs to the room “Customers 2027” already" in errors[0]["message"]
    await admin.ok(UNLINK, {"input": {"roomId": people["room"], "categoryId": people["customers"]}})
    data = await admin.ok(LINK, link, people["olga"])
    assert data["roomCategoryLink"]["room"]["categories"] == [{"key": "customers"}]
    room = (await admin.ok(ROOM, {"id": people["room"]}, people["lea"]))["node"]
    assert room["todos"]["totalCount"] == 0


async def test_viewers_read_a_room_but_do_not_shape_it(admin: Api) -> None:
    people = await team(admin)
    errors = await admin.errors(ROOM_CREATE, {"input": {"name": "Mine"}}, people["vic"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    errors = await admin.errors(
        ROOM_UPDATE, {"input": {"id": people["room"], "name": "x"}}, people["vic"]
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"name": "  "}, ["name"], "REQUIRED"),
        ({"name": "x" * 201}, ["name"], "INVALID"),
        ({"name": "Room", "description": "x" * 2001}, ["description"], "INVALID"),
    ],
)
async def test_bad_rooms_are_refused_naming_the_field(
    admin: Api, fields: dict[str, Any], field: list[str], code: str
) -> None:
    errors = await admin.user_errors(ROOM_CREATE, {"input": fields})
    assert [(e["field"], e["code"]) for e in errors] == [(field, code)]
    assert (await admin.ok(ROOMS))["rooms"] == []


async def test_bad_links_and_members_are_refused_naming_the_field(admin: Api) -> None:
    people = await team(admin)
    room = people["room"]
    missing_category = "Q2F0ZWdvcnk6OTk5OQ=="  # Category:9999
    errors = await admin.user_errors(
        LINK, {"input": {"roomId": room, "categoryId": missing_category}}
    )
    assert (errors[0]["field"], errors[0]["code"]) == (["categoryId"], "NOT_FOUND")
    await admin.ok(
        "mutation($i: UserUpdateInput!) { userUpdate(input: $i) { userErrors { code } } }",
        {"i": {"id": people["olga_id"], "active": False}},
    )
    errors = await admin.user_errors(
        MEMBER_ADD, {"input": {"roomId": room, "userId": people["olga_id"]}}
    )
    assert errors == [
        {
            "field": ["userId"],
            "message": "Olga is deactivated; reactivate them first",
            "code": "ARCHIVED",
        }
    ]
    # A room's own to-do goes only to someone who may enter the room (admins enter all).
    admin_id = await my_id(admin, admin.admin_token)
    await admin.ok(
        TODO_CREATE,
        {"input": {"roomId": room, "title": "x", "assigneeId": admin_id}},
        people["lea"],
    )
    outsider = await admin.add_user("otto@example.com", "MEMBER", "Otto")
    errors = await admin.user_errors(
        TODO_CREATE,
        {"input": {"roomId": room, "title": "x", "assigneeId": await my_id(admin, outsider)}},
        people["lea"],
    )
    assert errors == [
        {
            "field": ["assigneeId"],
            "message": "Otto is not a member of the room; add them to it first",
            "code": "INVALID",
        }
    ]
    for fields in ({"title": "x"}, {"title": "x", "roomId": room, "contactId": people["acme"]}):
        errors = await admin.user_errors(TODO_CREATE, {"input": fields}, people["lea"])
        assert errors[0]["field"] == ["contactId"]
        assert "Give either contactId (a card) or roomId" in errors[0]["message"]


async def test_private_notes_stay_private_in_the_room(admin: Api) -> None:
    people = await team(admin)
    for owner in ({"roomId": people["room"]}, {"contactId": people["acme"]}):
        await admin.ok(
            NOTE_CREATE,
            {"input": {**owner, "body": "mine", "visibility": "PRIVATE"}},
            people["lea"],
        )
    seen_by_max = (await admin.ok(ROOM, {"id": people["room"]}, people["max"]))["node"]
    assert seen_by_max["notes"] == {"totalCount": 0, "nodes": []}
    assert "NOTE_ADDED" not in [n["kind"] for n in seen_by_max["activity"]["nodes"]]
    seen_by_lea = (await admin.ok(ROOM, {"id": people["room"]}, people["lea"]))["node"]
    assert seen_by_lea["notes"]["totalCount"] == 2


async def test_the_overview_counts_the_rooms_work(admin: Api) -> None:
    people = await team(admin)
    lea, room = people["lea"], people["room"]
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday())
    plans: list[tuple[str, date | None, str | None]] = [
        ("Late", today - timedelta(days=today.weekday() + 3), "max_id"),
        ("Later this week", monday + timedelta(days=6), "max_id"),
        ("Next month", today + timedelta(days=40), "lea_id"),
        ("Someday", None, None),
        ("Done", None, "lea_id"),
    ]
    ids = {}
    for title, due, who in plans:
        fields: dict[str, Any] = {"contactId": people["acme"], "title": title}
        if due is not None:
            fields["dueDate"] = due.isoformat()
        if who is not None:
            fields["assigneeId"] = people[who]
        ids[title] = (await admin.ok(TODO_CREATE, {"input": fields}, lea))["todoCreate"]["todo"][
            "id"
        ]
    await admin.ok(TODO_COMPLETE, {"input": {"id": ids["Done"]}}, lea)
    await admin.ok(NOTE_CREATE, {"input": {"roomId": room, "body": "Kick-off"}}, lea)

    overview = (await admin.ok(OVERVIEW, {"id": room}, people["max"]))["node"]["overview"]
    assert overview["open"] == 4
    assert overview["overdue"] == 1
    assert overview["dueThisWeek"] == (1 if monday + timedelta(days=6) >= today else 0) + (
        1 if today - timedelta(days=today.weekday() + 3) >= monday else 0
    )
    assert overview["doneThisWeek"] == 1
    assert overview["notesThisWeek"] == 1
    assert overview["load"] == [
        {"open": 2, "overdue": 1, "assignee": {"email": "max@example.com"}},
        {"open": 1, "overdue": 0, "assignee": {"email": "lea@example.com"}},
        {"open": 1, "overdue": 0, "assignee": None},
    ]
    assert [event["kind"] for event in overview["latestActivity"]] == [
        "NOTE_ADDED",
        "TODO_COMPLETED",
        "TODO_CREATED",
    ]


async def test_deleting_a_room_keeps_its_categories_and_their_cards(admin: Api) -> None:
    people = await team(admin)
    own = await admin.ok(
        TODO_CREATE, {"input": {"roomId": people["room"], "title": "Plan"}}, people["lea"]
    )
    card_todo = await admin.ok(
        TODO_CREATE, {"input": {"contactId": people["acme"], "title": "Call"}}, people["lea"]
    )
    errors = await admin.user_errors(ROOM_DELETE, {"input": {"id": people["room"]}}, people["max"])
    assert errors[0]["code"] == "FORBIDDEN"
    await admin.ok(ROOM_DELETE, {"input": {"id": people["room"]}}, people["lea"])
    node = "query($id: ID!) { node(id: $id) { id } }"
    assert (await admin.ok(node, {"id": own["todoCreate"]["todo"]["id"]}))["node"] is None
    card = card_todo["todoCreate"]["todo"]["id"]
    assert (await admin.ok(node, {"id": card}))["node"] == {"id": card}
    category = """query($id: ID!) { node(id: $id) { ... on Category { key room { name } } } }"""
    assert (await admin.ok(category, {"id": people["customers"]}))["node"] == {
        "key": "customers",
        "room": None,
    }
    async with admin.engine.connect() as connection:
        left = await connection.execute(text("SELECT count(*) FROM room_member"))
        assert left.scalar_one() == 0


async def test_a_cards_bin_hides_its_work_from_the_room_until_it_is_restored(
    admin: Api,
) -> None:
    people = await team(admin)
    lea, acme = people["lea"], people["acme"]
    await admin.ok(TODO_CREATE, {"input": {"contactId": acme, "title": "Call"}}, lea)
    await admin.ok(NOTE_CREATE, {"input": {"contactId": acme, "body": "Met"}}, lea)
    await upload(admin, acme, b"offer", token=lea)
    assert await room_work(admin, people["room"], lea) == (1, 1, 1, 1)
    await admin.ok(CONTACT_DELETE, {"input": {"id": acme}})
    assert await room_work(admin, people["room"], lea) == (0, 0, 0, 0)
    room = (await admin.ok(ROOM, {"id": people["room"]}, lea))["node"]
    # Its moving to the bin is part of the room's story all the same.
    assert "CONTACT_DELETED" in [n["kind"] for n in room["activity"]["nodes"]]
    await admin.ok(CONTACT_RESTORE, {"input": {"id": acme}})
    assert await room_work(admin, people["room"], lea) == (1, 1, 1, 1)


async def test_a_cards_work_follows_its_category_into_a_room_and_out(admin: Api) -> None:
    people = await team(admin)
    lea, room = people["lea"], people["room"]
    prospects = (await create_category(admin, "prospects"))["id"]
    initech = (await create_contact(admin, prospects, "Initech"))["id"]
    await admin.ok(TODO_CREATE, {"input": {"contactId": initech, "title": "Call"}}, lea)
    await admin.ok(NOTE_CREATE, {"input": {"contactId": initech, "body": "Met at the fair"}}, lea)
    await upload(admin, initech, b"brochure", token=lea)
    assert await room_work(admin, room, lea) == (0, 0, 0, 0)

    await admin.ok(LINK, {"input": {"roomId": room, "categoryId": prospects}}, lea)
    assert await room_work(admin, room, lea) == (1, 1, 1, 1)
    await admin.ok(UNLINK, {"input": {"roomId": room, "categoryId": prospects}}, lea)
    assert await room_work(admin, room, lea) == (0, 0, 0, 0)

    other = await room_of(admin, "Prospects", lea)
    await admin.ok(LINK, {"input": {"roomId": other, "categoryId": prospects}}, lea)
    assert await room_work(admin, other, lea) == (1, 1, 1, 1)
    # A deleted room leaves its cards' work in no room: a room created next (which may get
    # the same id on SQLite) starts empty, and one linking the category shows it again.
    await admin.ok(ROOM_DELETE, {"input": {"id": other}}, lea)
    newest = await room_of(admin, "Prospects again", lea)
    assert await room_work(admin, newest, lea) == (0, 0, 0, 0)
    await admin.ok(LINK, {"input": {"roomId": newest, "categoryId": prospects}}, lea)
    assert await room_work(admin, newest, lea) == (1, 1, 1, 1)


async def test_work_written_while_its_category_is_linked_is_never_left_out(admin: Api) -> None:
    """Eight writers keep adding to-dos to the category's cards while a lead links it to the
    room: every acknowledged to-do is in the room afterwards, whichever committed first."""
    people = await team(admin)
    lea, room = people["lea"], people["room"]
    link = {"input": {"roomId": room, "categoryId": people["customers"]}}
    await admin.ok(UNLINK, link, lea)
    cards = [people["acme"], people["globex"]]
    written = 0
    halfway = asyncio.Event()

    async def writer(lane: int) -> None:
        nonlocal written
        for i in range(20):
            title = f"T{lane}.{i}"
            await admin.ok(TODO_CREATE, {"input": {"contactId": cards[i % 2], "title": title}}, lea)
            written += 1
            if written == 80:
                halfway.set()

    async def linker() -> None:
        await halfway.wait()  # the link lands while writers are busy
        await admin.ok(LINK, link, lea)

    await asyncio.gather(linker(), *(writer(lane) for lane in range(8)))
    assert await room_work(admin, room, lea) == (160, 0, 0, 160)


async def test_a_page_of_rooms_costs_the_same_statements_for_any_amount_of_work(
    admin: Api,
) -> None:
    people = await team(admin)
    query = """{ rooms { name categories { key } members { user { email } }
      todos(first: 5) { totalCount nodes { title assignee { email } contact { name } } }
      notes(first: 5) { totalCount nodes { body author { email } } }
      files(first: 5) { totalCount nodes { name } }
      activity(first: 5) { totalCount nodes { kind actor { email } } }
      overview { open load { open assignee { email } } } } }"""

    async def add_work(count: int) -> None:
        for i in range(count):
            await admin.ok(
                TODO_CREATE,
                {
                    "input": {
                        "contactId": people["globex"],
                        "title": f"T{i}",
                        "assigneeId": people["max_id"],
                    }
                },
                people["lea"],
            )
            await admin.ok(
                NOTE_CREATE, {"input": {"roomId": people["room"], "body": f"N{i}"}}, people["lea"]
            )

    await add_work(1)
    few = await admin.count_statements(query, token=people["lea"])
    await add_work(8)
    await room_of(admin, "Second room", people["lea"])
    many = await admin.count_statements(query, token=people["lea"])
    assert few == many


async def test_a_rooms_own_to_do_mails_its_assignee_naming_the_room(admin: Api) -> None:
    people = await team(admin)
    await admin.ok(
        TODO_CREATE,
        {"input": {"roomId": people["room"], "title": "Plan Q1", "assigneeId": people["max_id"]}},
        people["lea"],
    )
    async with admin.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT subject, text_body FROM outbound_mail WHERE kind = 'TODO_ASSIGNED'")
        )
        ((subject, body),) = rows.all()
    assert subject == "To-do for you: Plan Q1"
    assert "Lea assigned a to-do to you in the room Customers 2027:" in body


async def test_two_rooms_racing_for_one_category_leave_it_in_one(admin: Api) -> None:
    people = await team(admin)
    await admin.ok(UNLINK, {"input": {"roomId": people["room"], "categoryId": people["customers"]}})
    rooms = [await room_of(admin, f"Room {i}", people["lea"]) for i in range(4)]
    results = await asyncio.gather(
        *(
            admin.post(
                LINK, {"input": {"roomId": room, "categoryId": people["customers"]}}, people["lea"]
            )
            for room in rooms
        )
    )
    outcomes = [body["data"]["roomCategoryLink"]["userErrors"] for body in results]
    assert sum(errors == [] for errors in outcomes) == 1
    assert all(errors[0]["code"] == "CONFLICT" for errors in outcomes if errors)
    async with admin.engine.connect() as connection:
        links = await connection.execute(text("SELECT count(*) FROM room_category"))
        assert links.scalar_one() == 1


async def test_members_added_at_once_all_join(admin: Api) -> None:
    people = await team(admin)
    newcomers = [await admin.add_user(f"n{i}@example.com", "MEMBER") for i in range(6)]
    ids = [await my_id(admin, token) for token in newcomers]
    await asyncio.gather(
        *(
            admin.ok(
                MEMBER_ADD, {"input": {"roomId": people["room"], "userId": user_id}}, people["lea"]
            )
            for user_id in ids
        )
    )
    room = """query($id: ID!) { node(id: $id) { ... on ProjectRoom { members { user { email } } } } }"""
    members = (await admin.ok(room, {"id": people["room"]}))["node"]["members"]
    assert len(members) == 3 + 6


async def test_the_digest_lists_a_rooms_to_dos_only_while_their_assignee_is_in_it(
    admin: Api,
) -> None:
    people = await team(admin)
    today = datetime.now(UTC).date()
    await admin.ok(
        TODO_CREATE,
        {
            "input": {
                "roomId": people["room"],
                "title": "Plan Q1",
                "dueDate": today.isoformat(),
                "assigneeId": people["max_id"],
            }
        },
        people["lea"],
    )
    noon = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=12)

    async def digest_lines() -> list[str]:
        async with admin.resources.session_factory() as session:
            mails = await digests_due(session, admin.resources.settings, now=noon)
        return [
            line.strip()
            for mail in mails
            for line in mail.content.text.splitlines()
            if "Plan" in line
        ]

    assert await digest_lines() == [
        "- Plan Q1 (Customers 2027), due " + format_day(today) + ", priority Normal"
    ]
    await admin.ok(MEMBER_REMOVE, {"input": {"roomId": people["room"], "userId": people["max_id"]}})
    assert await digest_lines() == []

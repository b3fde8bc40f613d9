"""To-dos on a card as a team plans work: assigned to a colleague (who is mailed), due on a
day or at a moment, completed and reopened, listed soonest due first, and in the history."""

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Api
from tests.helpers import (
    CONTACT_DELETE,
    CONTACT_RESTORE,
    create_category,
    create_contact,
    mutation,
    my_id,
)

TODO_FIELDS = """id title description dueAt dueDate priority status overdue completedAt
  assignee { email } createdBy { email } completedBy { email } contact { id }"""
TODO = f"todo {{ {TODO_FIELDS} }}"
TODO_CREATE = mutation("todoCreate", "TodoCreateInput", TODO)
TODO_UPDATE = mutation("todoUpdate", "TodoUpdateInput", TODO)
TODO_COMPLETE = mutation("todoComplete", "TodoIdInput", TODO)
TODO_REOPEN = mutation("todoReopen", "TodoIdInput", TODO)
TODO_DELETE = mutation("todoDelete", "TodoIdInput", TODO)
CARD_TODOS = """query($id: ID!, $status: TodoStatus, $assignee: ID, $from: Date, $until: Date,
  $first: Int, $after: String) {
  contact(id: $id) { todos(status: $status, assigneeId: $assignee, dueFrom: $from,
    dueUntil: $until, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { title status } } } }"""
MY_TODOS = "{ me { todos { totalCount nodes { title overdue } } } }"
HISTORY = """query($id: ID!) { contact(id: $id) { activity { nodes { kind details
  changes { field before after } } } } }"""


async def team(admin: Api) -> dict[str, Any]:
    """A card, members Mia and Max, a viewer Vic and a deactivated Dan."""
    category = await create_category(admin, "customers")
    card = await create_contact(admin, category["id"], "Acme")
    people: dict[str, Any] = {"card": card["id"]}
    for name, role in (("mia", "MEMBER"), ("max", "MEMBER"), ("vic", "VIEWER"), ("dan", "MEMBER")):
        token = await admin.add_user(f"{name}@example.com", role, name.capitalize())
        people[name] = token
        people[f"{name}_id"] = await my_id(admin, token)
    await admin.ok(
        "mutation($i: UserUpdateInput!) { userUpdate(input: $i) { userErrors { code } } }",
        {"i": {"id": people["dan_id"], "active": False}},
    )
    return people


async def create(api: Api, token: str, **fields: Any) -> dict[str, Any]:
    data = await api.ok(TODO_CREATE, {"input": fields}, token)
    todo: dict[str, Any] = data["todoCreate"]["todo"]
    return todo


async def mails_to(api: Api, address: str) -> list[str]:
    async with api.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT subject FROM outbound_mail WHERE kind = 'TODO_ASSIGNED' AND to_address = :to"
            ),
            {"to": address},
        )
        return [row[0] for row in rows]


async def test_a_to_do_assigned_to_a_colleague_mails_them_and_enters_the_history(
    admin: Api,
) -> None:
    people = await team(admin)
    todo = await create(
        admin,
        people["mia"],
        contactId=people["card"],
        title="Send the offer",
        description="The one with the discount",
        dueDate="2031-05-16",
        priority="HIGH",
        assigneeId=people["max_id"],
    )
    assert todo["title"] == "Send the offer"
    assert (todo["dueDate"], todo["priority"], todo["status"]) == ("2031-05-16", "HIGH", "OPEN")
    # Due at the end of that day, in the organisation's time zone (UTC here).
    assert datetime.fromisoformat(todo["dueAt"]) == datetime(2031, 5, 16, 23, 59, 59, 999999, UTC)
    assert todo["assignee"] == {"email": "max@example.com"}
    assert todo["createdBy"] == {"email": "mia@example.com"}
    assert todo["contact"] == {"id": people["card"]}
    assert len(await mails_to(admin, "max@example.com")) == 1
    history = (await admin.ok(HISTORY, {"id": people["card"]}))["contact"]["activity"]["nodes"]
    assert history[0] == {
        "kind": "TODO_CREATED",
        "details": {"title": "Send the offer"},
        "changes": [],
    }


async def test_only_active_members_and_admins_take_work(admin: Api) -> None:
    people = await team(admin)
    for who, message in (("vic", "is a VIEWER"), ("dan", "is deactivated")):
        errors = await admin.user_errors(
            TODO_CREATE,
            {
                "input": {
                    "contactId": people["card"],
                    "title": "Call",
                    "assigneeId": people[f"{who}_id"],
                }
            },
            people["mia"],
        )
        assert errors[0]["field"] == ["assigneeId"]
        assert message in errors[0]["message"]
    page = (await admin.ok(CARD_TODOS, {"id": people["card"]}))["contact"]["todos"]
    assert page["totalCount"] == 0


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"title": ""}, "title", "needs a title"),
        ({"title": "   "}, "title", "needs a title"),
        ({"title": "x" * 301}, "title", "at most 300"),
        ({"title": "Call", "description": "x" * 10_001}, "description", "at most 10,000"),
        (
            {"title": "Call", "dueAt": "2031-05-16T10:00:00Z", "dueDate": "2031-05-16"},
            "dueDate",
            "not both",
        ),
        ({"title": "Call", "dueAt": "2031-05-16T10:00:00"}, "dueAt", "needs a time zone"),
        ({"title": "Call", "dueAt": "9999-12-31T00:00:00Z"}, "dueAt", "out of range"),
        ({"title": "Call", "dueDate": "9999-12-31"}, "dueDate", "is out of range: give a day"),
        ({"title": "Call", "dueDate": "0001-01-01"}, "dueDate", "is out of range: give a day"),
    ],
)
async def test_bad_to_dos_are_refused_naming_the_field(
    admin: Api, fields: dict[str, Any], field: str, message: str
) -> None:
    people = await team(admin)
    errors = await admin.user_errors(
        TODO_CREATE, {"input": {"contactId": people["card"], **fields}}, people["mia"]
    )
    assert errors[0]["field"] == [field]
    assert message in errors[0]["message"]


async def test_completing_reopening_and_reassigning(admin: Api) -> None:
    people = await team(admin)
    todo = await create(admin, people["mia"], contactId=people["card"], title="Call back")
    done = (await admin.ok(TODO_COMPLETE, {"input": {"id": todo["id"]}}, people["max"]))[
        "todoComplete"
    ]["todo"]
    assert (done["status"], done["completedBy"]) == ("DONE", {"email": "max@example.com"})
    assert done["completedAt"] is not None
    await admin.ok(TODO_COMPLETE, {"input": {"id": todo["id"]}}, people["max"])  # already done
    reopened = (await admin.ok(TODO_REOPEN, {"input": {"id": todo["id"]}}, people["mia"]))[
        "todoReopen"
    ]["todo"]
    assert (reopened["status"], reopened["completedAt"], reopened["completedBy"]) == (
        "OPEN",
        None,
        None,
    )

    await admin.ok(
        TODO_UPDATE, {"input": {"id": todo["id"], "assigneeId": people["mia_id"]}}, people["mia"]
    )
    assert await mails_to(admin, "mia@example.com") == []  # nobody is mailed about their own
    await admin.ok(
        TODO_UPDATE, {"input": {"id": todo["id"], "assigneeId": people["max_id"]}}, people["mia"]
    )
    assert len(await mails_to(admin, "max@example.com")) == 1
    await admin.ok(
        TODO_UPDATE, {"input": {"id": todo["id"], "title": "Call back twice"}}, people["mia"]
    )
    assert len(await mails_to(admin, "max@example.com")) == 1  # still theirs: no new mail

    history = (await admin.ok(HISTORY, {"id": people["card"]}))["contact"]["activity"]["nodes"]
    assert [e["kind"] for e in history[:6]] == [
        "TODO_UPDATED",
        "TODO_UPDATED",
        "TODO_UPDATED",
        "TODO_REOPENED",
        "TODO_COMPLETED",
        "TODO_CREATED",
    ]
    assert history[0]["changes"] == [
        {"field": "title", "before": "Call back", "after": "Call back twice"}
    ]
    assert history[1]["changes"] == [
        {"field": "assignee", "before": people["mia_id"], "after": people["max_id"]}
    ]


async def test_null_clears_what_may_be_empty_and_not_the_title(admin: Api) -> None:
    people = await team(admin)
    todo = await create(
        admin,
        people["mia"],
        contactId=people["card"],
        title="Call",
        description="About the offer",
        dueAt="2031-05-16T10:00:00+02:00",
        assigneeId=people["max_id"],
    )
    cleared = await admin.ok(
        TODO_UPDATE,
        {"input": {"id": todo["id"], "description": None, "dueAt": None, "assigneeId": None}},
        people["mia"],
    )
    after = cleared["todoUpdate"]["todo"]
    assert (after["description"], after["dueAt"], after["assignee"]) == (None, None, None)
    errors = await admin.user_errors(
        TODO_UPDATE, {"input": {"id": todo["id"], "title": None}}, people["mia"]
    )
    assert errors[0]["field"] == ["title"]


async def test_a_cards_to_dos_soonest_first_by_status_and_assignee(admin: Api) -> None:
    people = await team(admin)
    today = date.today()
    plans = [
        ("No date", None, "max_id"),
        ("Next week", today + timedelta(days=7), "mia_id"),
        ("Yesterday", today - timedelta(days=1), "max_id"),
        ("Tomorrow", today + timedelta(days=1), "max_id"),
    ]
    ids = {}
    for title, due, who in plans:
        fields: dict[str, Any] = {
            "contactId": people["card"],
            "title": title,
            "assigneeId": people[who],
        }
        if due is not None:
            fields["dueDate"] = due.isoformat()
        ids[title] = (await create(admin, people["mia"], **fields))["id"]
    await admin.ok(TODO_COMPLETE, {"input": {"id": ids["Tomorrow"]}}, people["max"])

    seen, after = [], None
    while True:
        page = (await admin.ok(CARD_TODOS, {"id": people["card"], "first": 1, "after": after}))[
            "contact"
        ]["todos"]
        seen += [node["title"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["Yesterday", "Tomorrow", "Next week", "No date"]
    open_for_max = await admin.ok(
        CARD_TODOS, {"id": people["card"], "status": "OPEN", "assignee": people["max_id"]}
    )
    assert [n["title"] for n in open_for_max["contact"]["todos"]["nodes"]] == [
        "Yesterday",
        "No date",
    ]

    mine = (await admin.ok(MY_TODOS, token=people["max"]))["me"]["todos"]
    assert mine["totalCount"] == 2
    assert mine["nodes"] == [
        {"title": "Yesterday", "overdue": True},
        {"title": "No date", "overdue": False},
    ]

    this_week = await admin.ok(
        CARD_TODOS,
        {
            "id": people["card"],
            "from": today.isoformat(),
            "until": (today + timedelta(days=7)).isoformat(),
        },
    )
    assert [n["title"] for n in this_week["contact"]["todos"]["nodes"]] == [
        "Tomorrow",
        "Next week",
    ]
    assert this_week["contact"]["todos"]["totalCount"] == 2


async def test_my_to_dos_leave_out_cards_in_the_bin_until_they_are_restored(admin: Api) -> None:
    people = await team(admin)
    await create(
        admin, people["mia"], contactId=people["card"], title="Call", assigneeId=people["max_id"]
    )
    await admin.ok(CONTACT_DELETE, {"input": {"id": people["card"]}})
    mine = (await admin.ok(MY_TODOS, token=people["max"]))["me"]["todos"]
    assert mine == {"totalCount": 0, "nodes": []}
    card = await admin.ok(CARD_TODOS, {"id": people["card"]}, people["max"])
    assert card["contact"]["todos"]["totalCount"] == 1

    await admin.ok(CONTACT_RESTORE, {"input": {"id": people["card"]}})
    mine = (await admin.ok(MY_TODOS, token=people["max"]))["me"]["todos"]
    assert mine["totalCount"] == 1


async def test_to_dos_of_a_card_in_the_bin_cannot_be_changed(admin: Api) -> None:
    people = await team(admin)
    todo = await create(admin, people["mia"], contactId=people["card"], title="Call")
    await admin.ok(CONTACT_DELETE, {"input": {"id": people["card"]}})
    for operation, extra in ((TODO_UPDATE, {"title": "x"}), (TODO_COMPLETE, {}), (TODO_DELETE, {})):
        errors = await admin.user_errors(
            operation, {"input": {"id": todo["id"], **extra}}, people["mia"]
        )
        assert errors[0]["code"] == "ARCHIVED"
    errors = await admin.user_errors(
        TODO_CREATE, {"input": {"contactId": people["card"], "title": "x"}}, people["mia"]
    )
    assert errors[0]["code"] == "ARCHIVED"


async def test_viewers_read_to_dos_but_do_not_change_them(admin: Api) -> None:
    people = await team(admin)
    await create(admin, people["mia"], contactId=people["card"], title="Call")
    assert (await admin.ok(CARD_TODOS, {"id": people["card"]}, people["vic"]))["contact"]["todos"][
        "totalCount"
    ] == 1
    errors = await admin.errors(
        TODO_CREATE, {"input": {"contactId": people["card"], "title": "x"}}, people["vic"]
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_to_dos_of_a_page_of_cards_cost_the_same_for_any_number(admin: Api) -> None:
    category = await create_category(admin, "customers")
    for i in range(12):
        card = await create_contact(admin, category["id"], f"Card {i:02d}")
        await create(admin, admin.admin_token, contactId=card["id"], title=f"To-do {i}")
    query = """query($c: ID!, $n: Int) { contacts(categoryId: $c, first: $n) { nodes {
      todos(first: 3) { totalCount nodes { title assignee { email } createdBy { email } } } } } }"""
    few = await admin.count_statements(query, {"c": category["id"], "n": 2})
    many = await admin.count_statements(query, {"c": category["id"], "n": 12})
    assert few == many


async def test_concurrent_changes_to_one_to_do_all_land(admin: Api) -> None:
    people = await team(admin)
    todo = await create(admin, people["mia"], contactId=people["card"], title="Call")
    changes: list[dict[str, Any]] = [
        {"description": "Ask about the renewal"},
        {"priority": "HIGH"},
        {"assigneeId": people["max_id"]},
        {"dueDate": "2027-03-01"},
    ]
    writers = [
        admin.ok(TODO_UPDATE, {"input": {"id": todo["id"], **change}}, people["mia"])
        for change in changes
    ] + [admin.ok(TODO_COMPLETE, {"input": {"id": todo["id"]}}, people["max"]) for _ in range(3)]
    await asyncio.gather(*writers)

    read = f"query($id: ID!) {{ node(id: $id) {{ ... on Todo {{ {TODO_FIELDS} }} }} }}"
    final = (await admin.ok(read, {"id": todo["id"]}))["node"]
    assert final["description"] == "Ask about the renewal"
    assert final["priority"] == "HIGH"
    assert final["assignee"] == {"email": "max@example.com"}
    assert final["dueDate"] == "2027-03-01"
    assert final["status"] == "DONE"
    assert final["completedBy"] == {"email": "max@example.com"}
    history = (await admin.ok(HISTORY, {"id": people["card"]}))["contact"]["activity"]
    kinds = [node["kind"] for node in history["nodes"]]
    assert kinds.count("TODO_UPDATED") == 4
    assert kinds.count("TODO_COMPLETED") == 1
    assert await mails_to(admin, "max@example.com") == ["To-do for you: Call"]

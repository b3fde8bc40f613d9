"""Statistics of the to-dos and notes on a category's cards: counted per assignee, status,
priority, author and period, checked against the same figures worked out here from the seeded
to-dos and notes, on SQLite and PostgreSQL; private notes count only for their author."""

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from tests.conftest import Api
from tests.helpers import CONTACT_DELETE, create_category, create_contact, create_field, my_id
from tests.test_notes import write
from tests.test_reports import period_start, report
from tests.test_rooms import ROOM_CREATE
from tests.test_statistics import CREATE, UPDATE, define, statistics_of
from tests.test_todos import create

INDUSTRIES = [{"value": "it", "label": "IT"}, {"value": "retail", "label": "Retail"}]
# title, card, assignee, priority, created, due, completed (UTC; "open" when not completed).
# t4 is created late on a Sunday in UTC, early on Monday in Oslo.
TODOS: list[tuple[str, str, str | None, str, str, str | None, str | None]] = [
    ("t1", "Acme", "Mia", "HIGH", "2026-01-05 10:00", "2020-01-01 00:00", None),
    ("t2", "Acme", "Max", "NORMAL", "2026-01-06 10:00", "2999-01-01 00:00", None),
    ("t3", "Bolt", "Mia", "URGENT", "2026-01-20 10:00", None, "2026-02-01 09:00"),
    ("t4", "Bolt", None, "LOW", "2026-02-01 23:30", "2020-06-01 00:00", "2026-03-15 12:00"),
    ("t5", "Bolt", None, "NORMAL", "2026-03-01 08:00", "2021-01-01 00:00", None),
]
# author, card, visibility, created (UTC).
NOTES = [
    ("Mia", "Acme", "TEAM", "2026-01-10 12:00"),
    ("Mia", "Acme", "PRIVATE", "2026-02-10 12:00"),
    ("Max", "Bolt", "PRIVATE", "2026-02-11 12:00"),
    ("Max", "Bolt", "TEAM", "2026-03-12 12:00"),
    ("Ada Admin", "Acme", "TEAM", "2026-03-13 12:00"),
]


class Seeded:
    def __init__(self, category_id: str, tokens: dict[str, str], ids: dict[str, str]) -> None:
        self.category_id = category_id
        self.tokens = tokens  # by user name
        self.ids = ids  # user IDs by name


async def seed(admin: Api) -> Seeded:
    """Cards Acme (IT) and Bolt (retail) with the to-dos and notes above; and work that must
    not count: on a card in the bin, on another category's card, a room's own."""
    category_id = (await create_category(admin, "customers"))["id"]
    await create_field(admin, category_id, "industry", "SELECT", options=INDUSTRIES)
    cards = {
        name: (await create_contact(admin, category_id, name, {"industry": industry}))["id"]
        for name, industry in (("Acme", "it"), ("Bolt", "retail"), ("Cog", "it"))
    }
    tokens = {"Ada Admin": admin.admin_token}
    for name in ("Mia", "Max"):
        tokens[name] = await admin.add_user(f"{name.lower()}@example.com", "MEMBER", name)
    ids = {name: await my_id(admin, token) for name, token in tokens.items()}
    for title, card, assignee, priority, *_ in TODOS:
        assigned = {"assigneeId": ids[assignee]} if assignee else {}
        await create(
            admin,
            admin.admin_token,
            contactId=cards[card],
            title=title,
            priority=priority,
            **assigned,
        )
    for author, card, visibility, _ in NOTES:
        await write(admin, tokens[author], cards[card], f"by {author}", visibility=visibility)
    # Work that is not on the category's cards.
    await create(admin, admin.admin_token, contactId=cards["Cog"], title="binned")
    await write(admin, admin.admin_token, cards["Cog"], "binned")
    await admin.ok(CONTACT_DELETE, {"input": {"id": cards["Cog"]}})
    other = (await create_category(admin, "suppliers"))["id"]
    supplier = (await create_contact(admin, other, "Supply"))["id"]
    await create(admin, admin.admin_token, contactId=supplier, title="elsewhere")
    await write(admin, admin.admin_token, supplier, "elsewhere")
    room = await admin.ok(ROOM_CREATE, {"input": {"name": "Room"}})
    await create(admin, admin.admin_token, roomId=room["roomCreate"]["room"]["id"], title="own")
    await _set_times(admin)
    return Seeded(category_id, tokens, ids)


def _instant(moment: str | None) -> datetime | None:
    return datetime.fromisoformat(moment).replace(tzinfo=UTC) if moment else None


async def _set_times(admin: Api) -> None:
    """Give the to-dos and notes the times above (through the database: the API sets them)."""
    async with admin.engine.begin() as connection:
        postgres = connection.dialect.name == "postgresql"

        def stored(moment: str | None) -> Any:
            instant = _instant(moment)
            if instant is None or postgres:
                return instant
            return instant.strftime("%Y-%m-%d %H:%M:%S.%f")

        for title, *_, created, due, done in TODOS:
            await connection.execute(
                text(
                    "UPDATE todo SET created_at = :created, due_at = :due, completed_at = :done, "
                    "status = :status WHERE title = :title"
                ),
                {
                    "created": stored(created),
                    "due": stored(due),
                    "done": stored(done),
                    "status": "DONE" if done else "OPEN",
                    "title": title,
                },
            )
        for author, _, visibility, created in NOTES:
            await connection.execute(
                text(
                    "UPDATE note SET created_at = :created WHERE body = :body "
                    "AND visibility = :visibility"
                ),
                {"created": stored(created), "body": f"by {author}", "visibility": visibility},
            )


def grouped(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {row["group"]["label"]: int(row["value"]) for row in rows}


def by_period(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {row["period"]["label"]: int(row["value"]) for row in rows}


async def test_to_dos_per_assignee_state_priority_and_period(admin: Api) -> None:
    seeded = await seed(admin)
    category_id = seeded.category_id
    todos = {"subject": "TODOS", "kind": "COUNT"}
    await define(admin, category_id, name="open", todoState="OPEN", groupBy="assignee", **todos)
    await define(admin, category_id, name="overdue", todoState="OVERDUE", **todos)
    await define(
        admin,
        category_id,
        name="done",
        todoState="DONE",
        bucket="MONTH",
        bucketOn="completedAt",
        **todos,
    )
    await define(admin, category_id, name="opened", bucket="WEEK", **todos)
    await define(
        admin,
        category_id,
        name="IT by priority",
        groupBy="priority",
        filter={"fields": [{"key": "industry", "eq": "it"}]},
        **todos,
    )
    found = {
        part["statistic"]["name"]: part["rows"]
        for part in await report(admin, category_id, tz="Europe/Oslo")
    }
    now = datetime.now(UTC)

    def is_open(todo: tuple[Any, ...]) -> bool:
        return todo[6] is None

    open_by = Counter(todo[2] or "Unassigned" for todo in TODOS if is_open(todo))
    assert grouped(found["open"]) == open_by
    # Users by name, the unassigned last.
    assert [row["group"]["label"] for row in found["open"]] == ["Max", "Mia", "Unassigned"]
    assert found["open"][0]["group"]["key"] == seeded.ids["Max"]
    overdue = [t for t in TODOS if is_open(t) and t[5] and (_instant(t[5]) or now) < now]
    assert [row["value"] for row in found["overdue"]] == [str(len(overdue))]
    oslo = ZoneInfo("Europe/Oslo")

    def local_day(moment: str | None) -> date:
        instant = _instant(moment)
        assert instant is not None
        return instant.astimezone(oslo).date()

    done = Counter(period_start("MONTH", local_day(t[6])) for t in TODOS if t[6])
    assert by_period(found["done"]) == {day.isoformat(): n for day, n in done.items()}
    opened = Counter(period_start("WEEK", local_day(t[4])) for t in TODOS)
    weeks = by_period(found["opened"])
    assert {day: n for day, n in weeks.items() if n} == {
        day.isoformat(): n for day, n in opened.items()
    }
    assert weeks["2026-01-26"] == 0  # an empty week in between is a row of its own
    assert "2026-02-02" in weeks  # t4 is in Monday's week in Oslo
    it = Counter(t[3] for t in TODOS if t[1] == "Acme")
    assert [(row["group"]["label"], int(row["value"])) for row in found["IT by priority"]] == [
        ("Low", it["LOW"]),
        ("Normal", it["NORMAL"]),
        ("High", it["HIGH"]),
        ("Urgent", it["URGENT"]),
    ]
    # from and to keep the to-dos whose date (here completedAt) falls in them.
    march = await report(admin, category_id, tz="Europe/Oslo", **{"from": "2026-03-01"})
    done_in_march = next(part for part in march if part["statistic"]["name"] == "done")
    assert by_period(done_in_march["rows"]) == {"2026-03-01": 1}


@pytest.mark.parametrize(
    ("zone", "month_of_the_moment"),
    [("Asia/Tokyo", "2026-04-01"), ("Pacific/Honolulu", "2026-03-01"), ("UTC", "2026-03-01")],
)
async def test_a_to_do_due_on_a_day_is_in_that_days_period_in_every_zone(
    admin: Api, zone: str, month_of_the_moment: str
) -> None:
    """A to-do due on 31 March is due in March wherever the report is read; one due at a
    moment (23:30 UTC that day) falls in the month of its local time."""
    category_id = (await create_category(admin, "customers"))["id"]
    card = (await create_contact(admin, category_id, "Acme"))["id"]
    token = admin.admin_token
    await create(admin, token, contactId=card, title="on a day", dueDate="2026-03-31")
    await create(admin, token, contactId=card, title="at a moment", dueAt="2026-03-31T23:30:00Z")
    await define(
        admin,
        category_id,
        name="due",
        subject="TODOS",
        kind="COUNT",
        bucket="MONTH",
        bucketOn="dueAt",
    )
    rows = by_period((await report(admin, category_id, tz=zone))[0]["rows"])
    assert {month: n for month, n in rows.items() if n} == Counter(
        ["2026-03-01", month_of_the_moment]
    )
    march = {"from": "2026-03-01", "to": "2026-03-31"}
    rows = by_period((await report(admin, category_id, tz=zone, **march))[0]["rows"])
    assert rows == {"2026-03-01": 1 + (month_of_the_moment == "2026-03-01")}


async def test_a_private_note_counts_only_in_its_authors_report(admin: Api) -> None:
    seeded = await seed(admin)
    await define(
        admin,
        seeded.category_id,
        name="notes",
        subject="NOTES",
        kind="COUNT",
        groupBy="author",
        bucket="MONTH",
    )
    for reader in ("Mia", "Max", "Ada Admin"):
        (part,) = await report(admin, seeded.category_id, seeded.tokens[reader], tz="UTC")
        seen = Counter(
            (author, created[:7] + "-01")
            for author, _, visibility, created in NOTES
            if visibility == "TEAM" or author == reader
        )
        counted = {
            (row["group"]["label"], row["period"]["label"]): int(row["value"])
            for row in part["rows"]
            if int(row["value"])
        }
        assert counted == dict(seen), reader


async def test_bad_activity_statistics_are_refused_naming_the_setting(admin: Api) -> None:
    category_id = (await create_category(admin, "customers"))["id"]
    await create_field(admin, category_id, "industry", "SELECT", options=INDUSTRIES)
    await create_field(admin, category_id, "revenue", "MONEY", currency="EUR")
    cases: list[tuple[dict[str, Any], list[str], str]] = [
        ({"subject": "TODOS", "kind": "SUM", "fieldKey": "revenue"}, ["kind"], "counts them"),
        ({"subject": "NOTES", "kind": "COUNT", "fieldKey": "revenue"}, ["fieldKey"], "no field"),
        (
            {"subject": "TODOS", "kind": "COUNT", "groupBy": "industry"},
            ["groupBy"],
            "assignee, status, priority, createdBy or completedBy",
        ),
        ({"subject": "NOTES", "kind": "COUNT", "groupBy": "assignee"}, ["groupBy"], "author"),
        (
            {"subject": "NOTES", "kind": "COUNT", "bucket": "DAY", "bucketOn": "dueAt"},
            ["bucketOn"],
            "createdAt",
        ),
        ({"subject": "NOTES", "kind": "COUNT", "todoState": "OPEN"}, ["todoState"], "TODOS"),
        ({"kind": "COUNT", "todoState": "DONE"}, ["todoState"], "TODOS"),
        (
            {"subject": "TODOS", "kind": "COUNT", "filter": {"fields": [{"key": "nope"}]}},
            ["filter", "fields", "0", "key"],
            "nope",
        ),
    ]
    for settings, field, message in cases:
        sent = {"categoryId": category_id, "name": "Bad", **settings}
        (error,) = await admin.user_errors(CREATE, {"input": sent})
        assert error["field"] == field, (settings, error)
        assert message in error["message"], (settings, error)
    assert await statistics_of(admin, category_id) == []


async def test_a_statistic_changes_subject_with_its_settings_checked_anew(admin: Api) -> None:
    category_id = (await create_category(admin, "customers"))["id"]
    await create_field(admin, category_id, "industry", "SELECT", options=INDUSTRIES)
    statistic = await define(admin, category_id, name="s", kind="COUNT", groupBy="industry")
    # Its grouping is a card's field: it cannot count to-dos as it is.
    (error,) = await admin.user_errors(
        UPDATE, {"input": {"id": statistic["id"], "subject": "TODOS"}}
    )
    assert error["field"] == ["groupBy"]
    changed = await admin.ok(
        UPDATE,
        {"input": {"id": statistic["id"], "subject": "TODOS", "groupBy": "status"}},
    )
    assert changed["statisticUpdate"]["statistic"]["groupBy"] == "status"
    (error,) = await admin.user_errors(UPDATE, {"input": {"id": statistic["id"], "subject": None}})
    assert error["field"] == ["subject"]
    (error,) = await admin.user_errors(
        UPDATE, {"input": {"id": statistic["id"], "subject": "CARDS"}}
    )
    assert error["field"] == ["groupBy"]  # status is a to-do's
    back = await admin.ok(
        UPDATE,
        {"input": {"id": statistic["id"], "subject": "CARDS", "groupBy": "industry"}},
    )
    assert back["statisticUpdate"]["statistic"]["groupBy"] == "industry"
    data = await admin.ok(
        """query($id: ID!) { node(id: $id) { ... on Category {
        statistics { subject todoState groupBy } } } }""",
        {"id": category_id},
    )
    assert data["node"]["statistics"] == [
        {"subject": "CARDS", "todoState": None, "groupBy": "industry"}
    ]


async def test_a_report_of_to_dos_and_notes_costs_one_statement_each(admin: Api) -> None:
    seeded = await seed(admin)
    query = """query($c: ID!) { report(categoryId: $c) { statistics { rows { value } } } }"""
    await define(admin, seeded.category_id, name="a", subject="TODOS", kind="COUNT")
    one = await admin.count_statements(query, {"c": seeded.category_id})
    await define(
        admin, seeded.category_id, name="b", subject="TODOS", kind="COUNT", groupBy="status"
    )
    await define(admin, seeded.category_id, name="c", subject="NOTES", kind="COUNT")
    three = await admin.count_statements(query, {"c": seeded.category_id})
    assert three == one + 2

"""A card's history: every change, with who made it, what it was before and after, and when,
newest first."""

from typing import Any

from sqlalchemy import text

from tests.conftest import Api
from tests.helpers import (
    ADMIN_EMAIL,
    CATEGORY_DELETE,
    CONTACT_DELETE,
    CONTACT_LINK,
    CONTACT_RESTORE,
    CONTACT_UNLINK,
    CONTACT_UPDATE,
    RELATION_CREATE,
    create_category,
    create_contact,
    create_field,
    mutation,
)

HISTORY = """query($id: ID!, $first: Int, $after: String) { contact(id: $id) {
  version
  activity(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { kind cursor details actor { email } contact { id }
            changes { field label before after }
            subject { __typename id ... on Person { fullName } ... on Contact { name } } } } } }"""
PERSON_CREATE = mutation("personCreate", "PersonCreateInput", "person { id }")
PERSON_UPDATE = mutation("personUpdate", "PersonUpdateInput", "person { id }")
PERSON_DELETE = mutation("personDelete", "PersonDeleteInput", "person { id }")


async def history(api: Api, card_id: str, **page: Any) -> dict[str, Any]:
    data = await api.ok(HISTORY, {"id": card_id, **page})
    activity: dict[str, Any] = data["contact"]["activity"]
    return activity


def kinds(activity: dict[str, Any]) -> list[str]:
    return [event["kind"] for event in activity["nodes"]]


async def test_a_change_names_each_field_before_and_after(admin: Api) -> None:
    category = await create_category(admin, "customers")
    await create_field(admin, category["id"], "size", "INTEGER", label="Employees")
    card = await create_contact(admin, category["id"], "Acme", values={"size": 10})
    await admin.ok(
        CONTACT_UPDATE,
        {
            "input": {
                "id": card["id"],
                "name": "Acme AB",
                "values": {"size": 12},
                "address": {"city": "Malmö"},
            }
        },
    )
    activity = await history(admin, card["id"])
    assert kinds(activity) == ["CONTACT_UPDATED", "CONTACT_CREATED"]
    updated, created = activity["nodes"]
    assert updated["actor"] == {"email": ADMIN_EMAIL}
    assert updated["contact"] == {"id": card["id"]}
    assert updated["changes"] == [
        {"field": "name", "label": "Name", "before": "Acme", "after": "Acme AB"},
        {"field": "address.city", "label": "City", "before": None, "after": "Malmö"},
        {"field": "values.size", "label": "Employees", "before": 10, "after": 12},
    ]
    assert created["details"] == {"name": "Acme"}
    assert created["subject"] == {"__typename": "Contact", "id": card["id"], "name": "Acme AB"}


async def test_an_update_that_changes_nothing_is_no_change(admin: Api) -> None:
    category = await create_category(admin, "customers")
    card = await create_contact(admin, category["id"], "Acme")
    await admin.ok(CONTACT_UPDATE, {"input": {"id": card["id"], "name": "Acme"}})
    data = await admin.ok(HISTORY, {"id": card["id"]})
    assert data["contact"]["version"] == 1
    assert kinds(data["contact"]["activity"]) == ["CONTACT_CREATED"]


async def test_persons_links_and_the_bin_are_in_the_history(admin: Api) -> None:
    customers = await create_category(admin, "customers")
    suppliers = await create_category(admin, "suppliers")
    await admin.ok(
        RELATION_CREATE,
        {
            "input": {
                "key": "clients",
                "name": "Clients",
                "inverseKey": "vendor",
                "inverseName": "Vendor",
                "fromCategoryId": suppliers["id"],
                "toCategoryId": customers["id"],
            }
        },
    )
    supplier = await create_contact(admin, suppliers["id"], "Parts & Co")
    client = await create_contact(admin, customers["id"], "Client")
    person = (
        await admin.ok(PERSON_CREATE, {"input": {"contactId": client["id"], "firstName": "Bo"}})
    )["personCreate"]["person"]
    await admin.ok(PERSON_UPDATE, {"input": {"id": person["id"], "lastName": "Ek"}})
    link = {"relation": "clients", "fromId": supplier["id"], "toId": client["id"]}
    await admin.ok(CONTACT_LINK, {"input": link})
    await admin.ok(CONTACT_UNLINK, {"input": link})
    await admin.ok(CONTACT_DELETE, {"input": {"id": client["id"]}})
    await admin.ok(CONTACT_RESTORE, {"input": {"id": client["id"]}})
    await admin.ok(PERSON_DELETE, {"input": {"id": person["id"]}})

    activity = await history(admin, client["id"])
    assert kinds(activity) == [
        "PERSON_REMOVED",
        "CONTACT_RESTORED",
        "CONTACT_DELETED",
        "CONTACT_UNLINKED",
        "CONTACT_LINKED",
        "PERSON_UPDATED",
        "PERSON_ADDED",
        "CONTACT_CREATED",
    ]
    events = {event["kind"]: event for event in activity["nodes"]}
    assert events["PERSON_UPDATED"]["changes"] == [
        {"field": "lastName", "label": "Last name", "before": None, "after": "Ek"}
    ]
    # A removed person is gone: the event keeps the name, the subject resolves to nothing.
    assert events["PERSON_REMOVED"]["details"] == {"name": "Bo Ek"}
    assert events["PERSON_REMOVED"]["subject"] is None
    assert events["CONTACT_LINKED"]["details"] == {"relation": "vendor", "relationName": "Vendor"}
    assert events["CONTACT_LINKED"]["subject"]["name"] == "Parts & Co"
    supplier_side = await history(admin, supplier["id"])
    assert kinds(supplier_side)[:2] == ["CONTACT_UNLINKED", "CONTACT_LINKED"]
    assert supplier_side["nodes"][1]["details"]["relation"] == "clients"


async def test_the_history_pages_newest_first_and_ends(admin: Api) -> None:
    category = await create_category(admin, "customers")
    card = await create_contact(admin, category["id"], "Card 0")
    for i in range(1, 6):
        await admin.ok(CONTACT_UPDATE, {"input": {"id": card["id"], "name": f"Card {i}"}})
    seen: list[str] = []
    after = None
    while True:
        page = await history(admin, card["id"], first=2, after=after)
        assert page["totalCount"] == 6
        seen += [
            event["changes"][0]["after"] if event["changes"] else "created"
            for event in page["nodes"]
        ]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["Card 5", "Card 4", "Card 3", "Card 2", "Card 1", "created"]


async def test_the_history_of_a_page_of_cards_costs_the_same_for_any_number(
    admin: Api,
) -> None:
    category = await create_category(admin, "customers")
    for i in range(12):
        card = await create_contact(admin, category["id"], f"Card {i:02d}")
        await admin.ok(CONTACT_UPDATE, {"input": {"id": card["id"], "email": f"c{i}@example.com"}})
    query = """query($c: ID!, $n: Int) { contacts(categoryId: $c, first: $n) { nodes {
      activity(first: 5) { totalCount nodes { kind actor { email } changes { field } } } } } }"""
    few = await admin.count_statements(query, {"c": category["id"], "n": 2})
    many = await admin.count_statements(query, {"c": category["id"], "n": 12})
    assert few == many


async def test_event_ids_are_never_handed_out_twice(admin: Api) -> None:
    """A live reader follows events by id: one deleted with its card's category must not come
    back under a new event, or the reader, past it already, would skip the new one."""
    doomed = await create_category(admin, "prospects")
    card = await create_contact(admin, doomed["id"], "Gone AB")
    await admin.ok(CONTACT_UPDATE, {"input": {"id": card["id"], "name": "Gone Ltd"}})
    async with admin.engine.connect() as connection:
        highest = (
            await connection.execute(text("SELECT max(id) FROM activity_event"))
        ).scalar_one()
    await admin.ok(CONTACT_DELETE, {"input": {"id": card["id"]}})
    await admin.ok(CATEGORY_DELETE, {"input": {"id": doomed["id"]}})  # and its cards in the bin
    kept = await create_category(admin, "customers")
    await create_contact(admin, kept["id"], "Acme")
    async with admin.engine.connect() as connection:
        newest = (await connection.execute(text("SELECT max(id) FROM activity_event"))).scalar_one()
    assert newest > highest

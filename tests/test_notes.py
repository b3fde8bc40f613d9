"""Notes on a card as a team uses them: written, pinned, edited by their author, private to
their author everywhere, and in the card's history."""

from typing import Any

import pytest

from tests.conftest import Api
from tests.helpers import CONTACT_DELETE, create_category, create_contact, mutation

NOTE = "note { id body visibility pinned author { email } contact { id } }"
NOTE_CREATE = mutation("noteCreate", "NoteCreateInput", NOTE)
NOTE_UPDATE = mutation("noteUpdate", "NoteUpdateInput", NOTE)
NOTE_DELETE = mutation("noteDelete", "NoteDeleteInput", NOTE)
NOTES = """query($id: ID!, $first: Int, $after: String) { contact(id: $id) {
  notes(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    nodes { body pinned visibility } }
  activity { totalCount nodes { kind subject { __typename } } } } }"""
NODE = "query($id: ID!) { node(id: $id) { id ... on Note { body } } }"


async def card_with_people(admin: Api) -> tuple[str, str, str]:
    """A card, and the tokens of two members, Mia and Max."""
    category = await create_category(admin, "customers")
    card: dict[str, Any] = await create_contact(admin, category["id"], "Acme")
    mia = await admin.add_user("mia@example.com", "MEMBER", "Mia")
    max_ = await admin.add_user("max@example.com", "MEMBER", "Max")
    return card["id"], mia, max_


async def write(api: Api, token: str, card: str, body: str, **settings: Any) -> dict[str, Any]:
    data = await api.ok(
        NOTE_CREATE, {"input": {"contactId": card, "body": body, **settings}}, token
    )
    note: dict[str, Any] = data["noteCreate"]["note"]
    return note


async def notes_seen(api: Api, token: str, card: str, **page: Any) -> dict[str, Any]:
    data = await api.ok(NOTES, {"id": card, **page}, token)
    contact: dict[str, Any] = data["contact"]
    return contact


async def test_a_team_note_is_seen_by_everyone_and_written_into_the_history(admin: Api) -> None:
    card, mia, max_ = await card_with_people(admin)
    note = await write(admin, mia, card, "Called them: **interested** in the offer")
    assert note["author"] == {"email": "mia@example.com"}
    assert note["contact"] == {"id": card}
    assert (note["visibility"], note["pinned"]) == ("TEAM", False)
    seen = await notes_seen(admin, max_, card)
    assert seen["notes"]["nodes"] == [
        {"body": "Called them: **interested** in the offer", "pinned": False, "visibility": "TEAM"}
    ]
    assert seen["activity"]["nodes"][0] == {"kind": "NOTE_ADDED", "subject": {"__typename": "Note"}}


async def test_a_private_note_is_its_authors_alone_on_every_path(admin: Api) -> None:
    card, mia, max_ = await card_with_people(admin)
    await write(admin, mia, card, "Shared")
    secret = await write(admin, mia, card, "Only for me", visibility="PRIVATE")

    mine = await notes_seen(admin, mia, card)
    assert [n["body"] for n in mine["notes"]["nodes"]] == ["Only for me", "Shared"]
    assert mine["notes"]["totalCount"] == 2
    for token in (max_, admin.admin_token):  # not even an admin
        theirs = await notes_seen(admin, token, card)
        assert [n["body"] for n in theirs["notes"]["nodes"]] == ["Shared"]
        assert theirs["notes"]["totalCount"] == 1
        assert [e["kind"] for e in theirs["activity"]["nodes"]] == ["NOTE_ADDED", "CONTACT_CREATED"]
        assert (await admin.ok(NODE, {"id": secret["id"]}, token))["node"] is None
        for operation, extra in ((NOTE_UPDATE, {"pinned": True}), (NOTE_DELETE, {})):
            errors = await admin.user_errors(
                operation, {"input": {"id": secret["id"], **extra}}, token
            )
            assert [(e["field"], e["code"]) for e in errors] == [(["id"], "NOT_FOUND")]
    assert (await admin.ok(NODE, {"id": secret["id"]}, mia))["node"]["body"] == "Only for me"


async def test_making_a_note_private_takes_its_history_along(admin: Api) -> None:
    card, mia, max_ = await card_with_people(admin)
    note = await write(admin, mia, card, "Draft")
    await admin.ok(NOTE_UPDATE, {"input": {"id": note["id"], "visibility": "PRIVATE"}}, mia)
    theirs = await notes_seen(admin, max_, card)
    assert theirs["notes"]["totalCount"] == 0
    assert [e["kind"] for e in theirs["activity"]["nodes"]] == ["CONTACT_CREATED"]
    await admin.ok(NOTE_UPDATE, {"input": {"id": note["id"], "visibility": "TEAM"}}, mia)
    again = await notes_seen(admin, max_, card)
    assert [e["kind"] for e in again["activity"]["nodes"]] == [
        "NOTE_EDITED",
        "NOTE_EDITED",
        "NOTE_ADDED",
        "CONTACT_CREATED",
    ]


async def test_only_the_author_edits_anyone_pins_and_admins_delete(admin: Api) -> None:
    card, mia, max_ = await card_with_people(admin)
    note = await write(admin, mia, card, "Offer sent")
    errors = await admin.user_errors(
        NOTE_UPDATE, {"input": {"id": note["id"], "body": "Hijacked"}}, max_
    )
    assert [(e["field"], e["code"]) for e in errors] == [(["body"], "FORBIDDEN")]
    pinned = await admin.ok(NOTE_UPDATE, {"input": {"id": note["id"], "pinned": True}}, max_)
    assert pinned["noteUpdate"]["note"]["pinned"] is True
    edited = await admin.ok(
        NOTE_UPDATE, {"input": {"id": note["id"], "body": "Offer sent today"}}, mia
    )
    assert edited["noteUpdate"]["note"]["body"] == "Offer sent today"
    refused = await admin.user_errors(NOTE_DELETE, {"input": {"id": note["id"]}}, max_)
    assert refused[0]["code"] == "FORBIDDEN"
    await admin.ok(NOTE_DELETE, {"input": {"id": note["id"]}})
    assert (await notes_seen(admin, mia, card))["notes"]["totalCount"] == 0


async def test_pinned_notes_come_first_then_the_newest_and_pages_end(admin: Api) -> None:
    card, mia, _ = await card_with_people(admin)
    for i in range(5):
        await write(admin, mia, card, f"Note {i}", pinned=i == 1)
    seen: list[str] = []
    after = None
    while True:
        page = (await notes_seen(admin, mia, card, first=2, after=after))["notes"]
        seen += [n["body"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["Note 1", "Note 4", "Note 3", "Note 2", "Note 0"]


@pytest.mark.parametrize(
    ("body", "message"),
    [("", "needs a text"), ("   \n ", "needs a text"), ("x" * 20_001, "at most 20,000 characters")],
)
async def test_a_note_without_text_or_too_long_is_refused(
    admin: Api, body: str, message: str
) -> None:
    card, mia, _ = await card_with_people(admin)
    errors = await admin.user_errors(NOTE_CREATE, {"input": {"contactId": card, "body": body}}, mia)
    assert errors[0]["field"] == ["body"]
    assert message in errors[0]["message"]
    assert (await notes_seen(admin, mia, card))["notes"]["totalCount"] == 0


async def test_notes_need_a_card_that_is_not_in_the_bin_and_a_writer(admin: Api) -> None:
    card, mia, _ = await card_with_people(admin)
    await admin.ok(CONTACT_DELETE, {"input": {"id": card}})
    errors = await admin.user_errors(NOTE_CREATE, {"input": {"contactId": card, "body": "Hi"}}, mia)
    assert errors[0]["code"] == "ARCHIVED"
    viewer = await admin.add_user("vic@example.com", "VIEWER")
    refused = await admin.errors(NOTE_CREATE, {"input": {"contactId": card, "body": "Hi"}}, viewer)
    assert refused[0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_notes_of_a_page_of_cards_cost_the_same_for_any_number(admin: Api) -> None:
    category = await create_category(admin, "customers")
    for i in range(12):
        card = await create_contact(admin, category["id"], f"Card {i:02d}")
        await write(admin, admin.admin_token, card["id"], f"Note {i}")
    query = """query($c: ID!, $n: Int) { contacts(categoryId: $c, first: $n) { nodes {
      notes(first: 3) { totalCount nodes { body author { email } } } } } }"""
    few = await admin.count_statements(query, {"c": category["id"], "n": 2})
    many = await admin.count_statements(query, {"c": category["id"], "n": 12})
    assert few == many

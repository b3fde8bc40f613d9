"""Effects after commit: what a mutation registers runs once its change is committed, never
when it is refused or rolled back, and an effect that fails does not undo the change."""

import logging
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services import contacts
from services.effects import after_commit, signal_after_commit
from services.ids import decode_id
from tests.conftest import Api
from tests.helpers import CONTACT_UPDATE, create_category, create_contact

NAME = "query($id: ID!) { contact(id: $id) { name } }"


async def committed_name(api: Api, card_id: int) -> str:
    """The card's name as another connection sees it: only what is committed."""
    async with api.engine.connect() as connection:
        name: str = (
            await connection.execute(
                text("SELECT name FROM contact WHERE id = :id"), {"id": card_id}
            )
        ).scalar_one()
    return name


def card_pk(card: dict[str, Any]) -> int:
    return decode_id(card["id"], "Contact")


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch, admin: Api) -> list[str]:
    """contactUpdate registers an effect that records the name committed when it runs."""
    seen: list[str] = []
    real = contacts.update_contact

    async def update_with_an_effect(session: AsyncSession, **kwargs: Any) -> Any:
        card = await real(session, **kwargs)

        async def effect() -> None:
            seen.append(await committed_name(admin, kwargs["contact_id"]))

        after_commit(session, effect)
        return card

    monkeypatch.setattr(contacts, "update_contact", update_with_an_effect)
    return seen


async def test_an_effect_runs_once_after_the_commit(admin: Api, seen: list[str]) -> None:
    category = await create_category(admin, "customers")
    card = await create_contact(admin, category["id"], "Acme")
    await admin.ok(CONTACT_UPDATE, {"input": {"id": card["id"], "name": "Acme AB"}})
    assert seen == ["Acme AB"]


async def test_a_refused_change_runs_no_effect(admin: Api, seen: list[str]) -> None:
    category = await create_category(admin, "customers")
    card = await create_contact(admin, category["id"], "Acme")
    errors = await admin.user_errors(
        CONTACT_UPDATE, {"input": {"id": card["id"], "name": "Acme AB", "email": "broken"}}
    )
    assert errors[0]["field"] == ["email"]
    assert seen == []
    assert await committed_name(admin, card_pk(card)) == "Acme"


async def test_a_failing_effect_is_logged_and_the_change_stays(
    admin: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    category = await create_category(admin, "customers")
    card = await create_contact(admin, category["id"], "Acme")
    real = contacts.update_contact

    async def update_with_a_broken_effect(session: AsyncSession, **kwargs: Any) -> Any:
        async def effect() -> None:
            raise ConnectionError("the mail server hung up")

        after_commit(session, effect)
        return await real(session, **kwargs)

    monkeypatch.setattr(contacts, "update_contact", update_with_a_broken_effect)
    with caplog.at_level(logging.ERROR, logger="crm"):
        data = await admin.ok(CONTACT_UPDATE, {"input": {"id": card["id"], "name": "Acme AB"}})
    assert data["contactUpdate"]["contact"]["name"] == "Acme AB"
    assert "An effect after commit failed" in caplog.text
    assert "the mail server hung up" in caplog.text
    assert (await admin.ok(NAME, {"id": card["id"]}))["contact"]["name"] == "Acme AB"


async def test_an_attempt_that_collided_leaves_no_effect_behind(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    if admin.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite writers never collide")
    category = await create_category(admin, "customers")
    card = await create_contact(admin, category["id"], "Acme")
    real = contacts.update_contact
    ran: list[int] = []
    attempts = 0

    async def collide_once(session: AsyncSession, **kwargs: Any) -> Any:
        nonlocal attempts
        attempts += 1
        attempt = attempts

        async def effect() -> None:
            ran.append(attempt)

        after_commit(session, effect)
        changed = await real(session, **kwargs)
        if attempt == 1:
            await session.execute(
                text("DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$")
            )
        return changed

    monkeypatch.setattr(contacts, "update_contact", collide_once)
    await admin.ok(CONTACT_UPDATE, {"input": {"id": card["id"], "name": "Acme AB"}})
    assert ran == [2]


async def test_a_signal_wakes_its_listeners_after_the_commit_only(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    woken: list[str] = []
    admin.resources.signals.on("mail", lambda: woken.append("mail"))
    real = contacts.update_contact

    async def update_and_signal(session: AsyncSession, **kwargs: Any) -> Any:
        signal_after_commit(session, "mail")
        return await real(session, **kwargs)

    monkeypatch.setattr(contacts, "update_contact", update_and_signal)
    category = await create_category(admin, "customers")
    card = await create_contact(admin, category["id"], "Acme")
    await admin.user_errors(CONTACT_UPDATE, {"input": {"id": card["id"], "email": "broken"}})
    assert woken == []
    await admin.ok(CONTACT_UPDATE, {"input": {"id": card["id"], "name": "Acme AB"}})
    assert woken == ["mail"]

"""When the database fails under the service: a lost connection, a full or read-only database,
an unmigrated schema, colliding transactions. Clients get an error they can act on (never
"Internal server error"), nothing is half-written, and /readyz tells the operator what is wrong."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from server import create_app
from services import contacts
from services.auth import authenticate
from tests.conftest import (
    PG_URL,
    SIGN_UP,
    Api,
    drop_postgres_database,
    fresh_postgres_database,
    settings_for,
)
from tests.helpers import CONTACT_UPDATE, create_category, create_contact, create_field

ROOT = Path(__file__).resolve().parent.parent
ME = "{ me { email } }"
NAME = "query($id: ID!) { contact(id: $id) { name version } }"


def needs_postgresql(api: Api) -> None:
    if api.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server connection to lose")


async def kill_own_connection(session: AsyncSession) -> None:
    """End this session's server connection from the server side, as a restart or failover
    would in the middle of a request."""
    await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))


@asynccontextmanager
async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


def unavailable(response: httpx.Response, *fragments: str) -> str:
    """The message of a request refused whole as UNAVAILABLE (503 with Retry-After)."""
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) >= 1
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAVAILABLE"
    message: str = error["message"]
    for fragment in fragments:
        assert fragment in message
    return message


# --- a lost connection -------------------------------------------------------------------------


async def test_a_read_that_loses_its_connection_runs_again(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_postgresql(admin)
    calls = 0

    async def authenticate_after_a_failover(session: AsyncSession, token: str) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            await kill_own_connection(session)
        return await authenticate(session, token)

    monkeypatch.setattr("resolvers.context.authenticate", authenticate_after_a_failover)
    assert (await admin.ok(ME))["me"]["email"] == "ada@example.com"
    assert calls == 2


async def test_a_write_that_loses_its_connection_says_nothing_was_saved(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_postgresql(admin)
    category = await create_category(admin, "customers")
    card = await create_contact(admin, category["id"], "Acme")
    real = contacts.update_contact

    async def update_then_lose_the_connection(session: AsyncSession, **kwargs: Any) -> Any:
        changed = await real(session, **kwargs)
        await kill_own_connection(session)
        return changed

    monkeypatch.setattr(contacts, "update_contact", update_then_lose_the_connection)
    response = await admin.client.post(
        "/graphql",
        json={"query": CONTACT_UPDATE, "variables": {"input": {"id": card["id"], "name": "X"}}},
        headers={"Authorization": f"Bearer {admin.admin_token}"},
    )
    unavailable(response, "cannot be reached", "nothing was saved")
    monkeypatch.setattr(contacts, "update_contact", real)
    assert (await admin.ok(NAME, {"id": card["id"]}))["contact"] == {"name": "Acme", "version": 1}


async def test_requests_in_flight_when_every_connection_drops_get_no_internal_error(
    admin: Api,
) -> None:
    needs_postgresql(admin)
    category = await create_category(admin, "customers")
    cards = [(await create_contact(admin, category["id"], f"C{i}"))["id"] for i in range(5)]
    listing = "query($c: ID!) { contacts(categoryId: $c) { totalCount nodes { name } } }"
    headers = {"Authorization": f"Bearer {admin.admin_token}"}

    async def read() -> httpx.Response:
        return await admin.client.post(
            "/graphql", json={"query": listing, "variables": {"c": category["id"]}}, headers=headers
        )

    async def write(card: str) -> httpx.Response:
        variables = {"input": {"id": card, "name": "Renamed"}}
        return await admin.client.post(
            "/graphql", json={"query": CONTACT_UPDATE, "variables": variables}, headers=headers
        )

    async def drop_every_connection() -> None:
        assert PG_URL is not None
        server = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
        async with server.connect() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": admin.engine.url.database},
            )
        await server.dispose()

    responses = await asyncio.gather(
        *(read() for _ in range(15)), *(write(c) for c in cards), drop_every_connection()
    )
    for response in responses:
        if response is None:
            continue
        body = response.json()
        codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
        assert "INTERNAL_SERVER_ERROR" not in codes, body
        assert set(codes) <= {"UNAVAILABLE"}, body
    assert (await admin.client.get("/readyz")).status_code == 200
    assert (await read()).json()["data"]["contacts"]["totalCount"] == 5


async def test_a_transaction_that_collides_runs_again(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL undoes a transaction it picks as a deadlock victim whole; running it again
    is safe and the client never hears of it."""
    needs_postgresql(admin)
    category = await create_category(admin, "customers")
    card = await create_contact(admin, category["id"], "Acme")
    real = contacts.update_contact
    attempts = 0

    async def update_as_a_deadlock_victim(session: AsyncSession, **kwargs: Any) -> Any:
        nonlocal attempts
        attempts += 1
        changed = await real(session, **kwargs)
        if attempts == 1:
            await session.execute(
                text("DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$")
            )
        return changed

    monkeypatch.setattr(contacts, "update_contact", update_as_a_deadlock_victim)
    data = await admin.ok(CONTACT_UPDATE, {"input": {"id": card["id"], "name": "Acme AB"}})
    assert data["contactUpdate"]["contact"]["name"] == "Acme AB"
    assert attempts == 2
    assert (await admin.ok(NAME, {"id": card["id"]}))["contact"] == {
        "name": "Acme AB",
        "version": 2,
    }


# --- a full or read-only database --------------------------------------------------------------


async def test_a_full_database_refuses_writes_clearly_and_is_not_ready(admin: Api) -> None:
    if admin.engine.dialect.name != "sqlite":
        pytest.skip("a full PostgreSQL disk cannot be made here; SQLSTATE 53xxx maps alike")
    category = await create_category(admin, "customers")
    await create_field(admin, category["id"], "notes", "LONG_TEXT")
    async with admin.engine.connect() as connection:
        pages = (await connection.execute(text("PRAGMA page_count"))).scalar_one()

    def no_room_to_grow(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    event.listen(admin.engine.sync_engine, "connect", no_room_to_grow)
    try:
        await admin.engine.dispose()  # every connection from now on has no room to grow
        body = {
            "query": "mutation($i: ContactCreateInput!) { contactCreate(input: $i) { contact { id } } }",
            "variables": {
                "i": {
                    "categoryId": category["id"],
                    "name": "Big",
                    "values": {"notes": "x" * 90_000},
                }
            },
        }
        headers = {"Authorization": f"Bearer {admin.admin_token}"}
        response = await admin.client.post("/graphql", json=body, headers=headers)
        unavailable(response, "out of space", "nothing was saved")
        ready = await admin.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["database"] == "full"
        # Reading goes on.
        assert (await admin.ok(ME))["me"]["email"] == "ada@example.com"
    finally:
        event.remove(admin.engine.sync_engine, "connect", no_room_to_grow)
        await admin.engine.dispose()
    count = "query($c: ID!) { contacts(categoryId: $c) { totalCount } }"
    assert (await admin.ok(count, {"c": category["id"]}))["contacts"]["totalCount"] == 0


@asynccontextmanager
async def read_only(api: Api, database_url: str) -> AsyncIterator[str]:
    """The same database, opened read-only: a read-only SQLite file, or a PostgreSQL database
    that only allows read-only transactions (as a standby does)."""
    if api.engine.dialect.name == "sqlite":
        path = database_url.split(":///", 1)[1]
        yield f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"
        return
    assert PG_URL is not None
    name = api.engine.url.database
    server = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with server.connect() as connection:
        await connection.execute(
            text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        )
    try:
        yield database_url
    finally:
        async with server.connect() as connection:
            await connection.execute(
                text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
            )
        await server.dispose()


async def test_a_read_only_database_refuses_writes_clearly_and_is_not_ready(
    admin: Api, database_url: str
) -> None:
    async with (
        read_only(admin, database_url) as url,
        client_for(create_app(settings_for(url))) as client,
    ):
        headers = {"Authorization": f"Bearer {admin.admin_token}"}
        me = await client.post("/graphql", json={"query": ME}, headers=headers)
        assert me.json()["data"]["me"]["email"] == "ada@example.com"
        response = await client.post(
            "/graphql",
            json={
                "query": 'mutation { categoryCreate(input: {key: "k", name: "K"}) { category { id } } }'
            },
            headers=headers,
        )
        unavailable(response, "read-only", "nothing was saved")
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["database"] == "read-only"
    categories = await admin.ok("{ categories { key } }")
    assert categories["categories"] == []


# --- a database that is not migrated -----------------------------------------------------------


@asynccontextmanager
async def empty_database(api: Api, tmp_path: Path) -> AsyncIterator[str]:
    if api.engine.dialect.name == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"crm_empty_{os.getpid()}"
    url = await fresh_postgres_database(name)
    try:
        yield url
    finally:
        await drop_postgres_database(name)


async def test_an_unmigrated_database_is_not_ready_and_says_what_to_run(
    api: Api, tmp_path: Path
) -> None:
    async with (
        empty_database(api, tmp_path) as url,
        client_for(create_app(settings_for(url))) as client,
    ):
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"
        assert "not migrated (empty" in ready.json()["schema"]
        assert "alembic upgrade head" in ready.json()["schema"]
        sign_up = await client.post(
            "/graphql",
            json={
                "query": SIGN_UP,
                "variables": {
                    "input": {"email": "a@example.com", "password": "x" * 12, "name": "A"}
                },
            },
        )
        unavailable(sign_up, "alembic upgrade head")


def run_alembic(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRM_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrating_a_database_that_cannot_be_opened_prints_a_clear_message(
    tmp_path: Path,
) -> None:
    missing_dir = run_alembic(f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/crm.db")
    assert missing_dir.returncode == 1
    assert "Traceback" not in missing_dir.stderr
    assert "Cannot open the database" in missing_dir.stderr
    assert "check that its directory exists" in missing_dir.stderr
    assert "does not exist" in missing_dir.stderr
    if PG_URL is None:
        return
    missing_db = run_alembic(PG_URL.rsplit("/", 1)[0] + "/crm_no_such_database")
    assert missing_db.returncode == 1
    assert "Traceback" not in missing_db.stderr
    assert 'database "crm_no_such_database" does not exist' in missing_db.stderr
    assert "createdb" in missing_db.stderr

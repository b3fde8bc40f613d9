"""Shared fixtures: every test runs on SQLite, and on PostgreSQL too when
CRM_TEST_DATABASE_URL is set (CI sets it). Each backend is migrated once per run with the real
Alembic migrations; tests start from empty tables."""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from argon2 import PasswordHasher
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table)
from models.db import create_engine
from resolvers.resources import Resources
from server import create_app
from services import passwords
from services.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("CRM_TEST_DATABASE_URL")
# Every table, children before parents (the order to empty them in).
TABLES = [table.name for table in reversed(SQLModel.metadata.sorted_tables)]

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url
    return config


async def migrate(engine: AsyncEngine, url: str) -> None:
    config = alembic_config(url)

    def upgrade(sync_connection: Any) -> None:
        config.attributes["connection"] = sync_connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        await connection.run_sync(upgrade)


async def drop_postgres_database(name: str) -> None:
    assert PG_URL is not None
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def fresh_postgres_database(name: str) -> str:
    assert PG_URL is not None
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> Iterator[None]:
    """Argon2 with production cost takes ~0.3 s a hash on a small machine; the tests hash
    hundreds of passwords. Same algorithm, smallest cost: the behaviour under test is equal."""
    production = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    yield
    passwords._hasher = production


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crm")


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_root: Path) -> AsyncIterator[str]:
    name = f"crm_test_{os.getpid()}"
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_root / 'test.db'}"
    else:
        url = await fresh_postgres_database(name)
    engine = create_engine(url)
    await migrate(engine, url)
    await engine.dispose()
    yield url
    if request.param == "postgresql":
        await drop_postgres_database(name)


async def wipe(engine: AsyncEngine) -> None:
    """Empty every table and drop the indexes custom fields created."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            rows = await connection.execute(
                text("SELECT indexname FROM pg_indexes WHERE indexname ~ '^(ix|uq)_cf_'")
            )
        else:
            rows = await connection.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE type='index' AND name GLOB '[iu][xq]_cf_*'"
                )
            )
        for (name,) in rows.all():
            await connection.execute(text(f"DROP INDEX {name}"))
        if connection.dialect.name == "postgresql":
            statistics = await connection.execute(
                text("SELECT stxname FROM pg_statistic_ext WHERE stxname ~ '^st_cf_'")
            )
            for (name,) in statistics.all():
                await connection.execute(text(f"DROP STATISTICS {name}"))
        if connection.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                await connection.execute(text(f"DELETE FROM {table}"))


@dataclass
class StatementCounter:
    statements: list[str] = field(default_factory=list)
    parameters: list[Any] = field(default_factory=list)
    active: bool = False

    def __call__(
        self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any
    ) -> None:
        if self.active and not statement.startswith(
            ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
        ):
            self.statements.append(statement)
            self.parameters.append(parameters)

    def reset(self) -> None:
        self.statements.clear()
        self.parameters.clear()


@dataclass
class Api:
    """A GraphQL client for one app, with helpers for the common set-up."""

    client: httpx.AsyncClient
    engine: AsyncEngine
    counter: StatementCounter
    resources: Resources
    admin_token: str = ""

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        body: dict[str, Any] = response.json()
        return body

    async def ok(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """Run an operation that must succeed without any error; return `data`."""
        body = await self.post(query, variables, token if token is not None else self.admin_token)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        for value in data.values():
            if isinstance(value, dict) and "userErrors" in value:
                assert value["userErrors"] == [], value["userErrors"]
        return data

    async def errors(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> list[dict[str, Any]]:
        body = await self.post(query, variables, token if token is not None else self.admin_token)
        assert body.get("errors"), f"expected errors, got {body}"
        errors: list[dict[str, Any]] = body["errors"]
        return errors

    async def user_errors(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> list[dict[str, Any]]:
        body = await self.post(query, variables, token if token is not None else self.admin_token)
        assert "errors" not in body, body["errors"]
        (payload,) = body["data"].values()
        assert payload["userErrors"], f"expected userErrors, got {payload}"
        errors: list[dict[str, Any]] = payload["userErrors"]
        return errors

    async def count_statements(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> int:
        self.counter.reset()
        self.counter.active = True
        try:
            await self.ok(query, variables, token)
        finally:
            self.counter.active = False
        return len(self.counter.statements)

    async def sign_up_admin(self) -> str:
        data = await self.ok(
            SIGN_UP,
            {"input": {"email": "ada@example.com", "password": PASSWORD, "name": "Ada Admin"}},
            token="",
        )
        self.admin_token = data["signUp"]["token"]
        return self.admin_token

    async def add_user(self, email: str, role: str = "MEMBER", name: str = "Somebody") -> str:
        invite = await self.ok(INVITE, {"input": {"email": email, "role": role}})
        token = invite["userInvite"]["token"]
        data = await self.ok(
            SIGN_UP,
            {
                "input": {
                    "email": email,
                    "password": PASSWORD,
                    "name": name,
                    "invitationToken": token,
                }
            },
            token="",
        )
        user_token: str = data["signUp"]["token"]
        return user_token


PASSWORD = "correct horse battery"
SIGN_UP = """mutation($input: SignUpInput!) { signUp(input: $input) {
  token expiresAt user { id email role } userErrors { field message code } } }"""
INVITE = """mutation($input: UserInviteInput!) { userInvite(input: $input) {
  token invitation { email role expiresAt } userErrors { field message code } } }"""


def settings_for(url: str, **overrides: Any) -> Settings:
    return Settings(**{"database_url": url, "graphiql": False, **overrides})


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
async def api(database_url: str, settings_overrides: dict[str, Any]) -> AsyncIterator[Api]:
    app = create_app(settings_for(database_url, **settings_overrides))
    async with app.router.lifespan_context(app):
        engine: AsyncEngine = app.state.resources.engine
        await wipe(engine)
        counter = StatementCounter()
        event.listen(engine.sync_engine, "before_cursor_execute", counter)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client=client, engine=engine, counter=counter, resources=app.state.resources)


@pytest.fixture
async def admin(api: Api) -> Api:
    await api.sign_up_admin()
    return api


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]

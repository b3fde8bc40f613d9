"""The service outlives a database that drops its connections (a restart, a failover)."""

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import PG_URL, Api


async def test_requests_succeed_after_the_database_dropped_every_connection(admin: Api) -> None:
    if admin.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server connections to lose")
    assert (await admin.ok("{ me { email } }"))["me"]["email"] == "ada@example.com"
    database = admin.engine.url.database
    assert PG_URL is not None
    server = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with server.connect() as connection:
        killed = await connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        )
        assert killed.scalar_one() >= 1
    await server.dispose()
    # Pooled connections are dead now; the pool notices and connects afresh.
    assert (await admin.ok("{ me { email } }"))["me"]["email"] == "ada@example.com"
    assert (await admin.client.get("/readyz")).status_code == 200

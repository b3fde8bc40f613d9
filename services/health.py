"""Readiness: whether this process can serve requests, as an operator or load balancer asks it.

Ready means the database answers, accepts writes, has room to grow, and its schema is the one
this code was written for.
"""

import os
from dataclasses import dataclass
from importlib import resources

import anyio.to_thread
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.faults import Fault, fault_of

# Below this much free disk an SQLite database counts as full: the next write may fail.
MIN_FREE_BYTES = 1024 * 1024


def schema_head() -> str:
    """The newest migration this code ships."""
    head = ScriptDirectory(str(resources.files("migrations"))).get_current_head()
    assert head is not None
    return head


@dataclass(frozen=True)
class Readiness:
    database: str = "ok"  # ok | unreachable | read-only | full | busy
    schema: str = "ok"  # ok | a sentence saying what is wrong

    @property
    def ready(self) -> bool:
        return self.database == "ok" and self.schema == "ok"


_STATES = {
    Fault.LOST_CONNECTION: "unreachable",
    Fault.READ_ONLY: "read-only",
    Fault.OUT_OF_SPACE: "full",
    Fault.BUSY: "busy",
    Fault.COLLISION: "busy",
}


async def readiness(engine: AsyncEngine, head: str) -> Readiness:
    try:
        async with engine.connect() as connection:
            version = await _schema_version(connection)
            if version != head:
                found = f"at {version}" if version else "empty"
                return Readiness(
                    schema=f"not migrated ({found}, this release needs {head}): "
                    "run `alembic upgrade head`"
                )
            await _try_a_write(connection)
            if connection.dialect.name == "sqlite" and await _sqlite_full(connection, engine):
                return Readiness(database="full")
    except Exception as exc:  # what went wrong is the answer, whatever it is
        fault = fault_of(exc)
        return Readiness(database=_STATES.get(fault, "unreachable") if fault else "unreachable")
    return Readiness()


async def _schema_version(connection: AsyncConnection) -> str | None:
    try:
        return (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except Exception as exc:
        if fault_of(exc) is not Fault.NOT_MIGRATED:
            raise
        await connection.rollback()
        return None


async def _try_a_write(connection: AsyncConnection) -> None:
    """Change a row and take it back: refused if the database is read-only (a read-only file,
    a PostgreSQL standby or default_transaction_read_only)."""
    if connection.dialect.name == "sqlite":
        # Wait for a busy writer a moment only: a readiness check must answer quickly.
        await connection.execute(text("PRAGMA busy_timeout = 2000"))
    try:
        await connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
    finally:
        await connection.rollback()
        if connection.dialect.name == "sqlite":
            await connection.execute(text("PRAGMA busy_timeout = 30000"))
            await connection.rollback()


async def _sqlite_full(connection: AsyncConnection, engine: AsyncEngine) -> bool:
    pages = (await connection.execute(text("PRAGMA page_count"))).scalar_one()
    limit = (await connection.execute(text("PRAGMA max_page_count"))).scalar_one()
    await connection.rollback()
    if pages >= limit:
        return True
    path = engine.url.database
    if not path or path == ":memory:":
        return False
    return await anyio.to_thread.run_sync(_disk_nearly_full, path.removeprefix("file:"))


def _disk_nearly_full(path: str) -> bool:
    stats = os.statvfs(os.path.dirname(os.path.abspath(path)))
    return stats.f_bavail * stats.f_frsize < MIN_FREE_BYTES

"""The async engine and session factory for SQLite (embedded default) and PostgreSQL."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# Execution option asking for a write transaction. On SQLite it becomes BEGIN IMMEDIATE, which
# takes the write lock up front so two writers queue on busy_timeout instead of one failing
# with "database is locked" when it upgrades a read transaction.
WRITE_TRANSACTION = "crm_write"

# SQLite's lower() and LIKE fold ASCII letters only; PostgreSQL's lower() folds every letter.
# SQLite connections get this function, so that case-insensitive matching agrees on both.
SQLITE_LOWER = "unicode_lower"


def unicode_lower(value: Any) -> Any:
    """Unicode's simple lower-case mapping, one character at a time, as PostgreSQL's lower()
    does with a UTF-8 locale: "MALMÖ" -> "malmö", "ẞ" -> "ß"; "ß" stays "ß" (it does not
    become "ss"), a capital sigma always becomes the non-final small sigma and a dotted
    capital I becomes "i"."""
    if not isinstance(value, str):
        return value
    # str.lower() alone differs in two places: a word-final Σ becomes ς, and İ becomes two
    # characters.
    return value.replace("\u03a3", "\u03c3").replace("\u0130", "i").lower()


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions skip SELECTs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Sorts and temporary tables (a report's gathered cards) in memory, not in files.
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()
        dbapi_connection.create_function(SQLITE_LOWER, 1, unicode_lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(WRITE_TRANSACTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

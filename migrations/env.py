"""Alembic environment: runs migrations on the async engine of the configured database."""

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table)
from migrations.policy import include_object, render_item
from models.db import create_engine
from services.settings import get_settings

config = context.config
target_metadata = SQLModel.metadata


def database_url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        include_object=include_object,
        render_item=render_item,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_item=render_item,
        render_as_batch=True,  # SQLite cannot ALTER most things in place
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> str | None:
    """Migrate; the reason when the database cannot be opened."""
    url = database_url()
    if (missing := _missing_sqlite_directory(url)) is not None:
        # Said before connecting: the driver's failed connect leaves a thread behind that
        # reports on the closed event loop.
        return cannot_connect(url, FileNotFoundError(f"the directory {missing} does not exist"))
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    except (OSError, DBAPIError) as exc:
        if isinstance(exc, DBAPIError) and not _while_connecting(exc):
            raise
        return cannot_connect(url, exc)
    finally:
        await engine.dispose()
    return None


def _missing_sqlite_directory(url: str) -> str | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    path = parsed.database.removeprefix("file:")
    if path == ":memory:":
        return None
    directory = os.path.dirname(os.path.abspath(path))
    return None if os.path.isdir(directory) else directory


def _while_connecting(exc: DBAPIError) -> bool:
    return exc.statement is None  # no statement ran: the connection itself failed


def cannot_connect(url: str, exc: Exception) -> str:
    shown = make_url(url).render_as_string(hide_password=True)
    hint = (
        "check that its directory exists and is writable"
        if url.startswith("sqlite")
        else "check that the server runs and the database exists (createdb <name>)"
    )
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return f"Cannot open the database {shown}: {reason}\n{hint}, or set CRM_DATABASE_URL."


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    problem = asyncio.run(run_async_migrations())
    if problem is not None:
        raise SystemExit(problem)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

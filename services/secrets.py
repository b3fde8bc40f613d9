"""Secrets the service makes for itself, kept in the database so that every worker and host
uses the same one (a key that signs links must verify on whichever worker a link reaches)."""

import secrets

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from models.db import WRITE_TRANSACTION
from models.secrets import ServiceSecret
from models.types import utcnow
from services.faults import fault_of


async def shared_secret(engine: AsyncEngine, name: str) -> str:
    """The secret called `name`, made on first use. Workers that start at once may each make
    one: the first stored wins and all of them read that one."""
    try:
        return await _read_or_make(engine, name)
    except Exception as exc:
        fault = fault_of(exc)
        if fault is None:
            raise
        raise fault.error(writing=False) from exc


async def _read_or_make(engine: AsyncEngine, name: str) -> str:
    read = select(col(ServiceSecret.value)).where(col(ServiceSecret.name) == name)
    async with engine.connect() as connection:
        value = (await connection.execute(read)).scalar_one_or_none()
        await connection.rollback()
        if value is not None:
            return value
        insert = sqlite_insert if connection.dialect.name == "sqlite" else postgresql_insert
        made = insert(ServiceSecret).values(
            name=name, value=secrets.token_urlsafe(48), created_at=utcnow()
        )
        writing = await connection.execution_options(**{WRITE_TRANSACTION: True})
        async with writing.begin():
            await writing.execute(made.on_conflict_do_nothing(index_elements=["name"]))
            stored: str = (await writing.execute(read)).scalar_one()
        return stored

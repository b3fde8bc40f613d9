"""The Alembic migrations build exactly the schema the models describe, on every backend."""

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table)
from migrations.policy import include_object
from models.db import create_engine
from tests.conftest import alembic_config


def _differences(sync_connection: Any) -> list[Any]:
    context = MigrationContext.configure(
        sync_connection, opts={"include_object": include_object, "compare_type": True}
    )
    return list(compare_metadata(context, SQLModel.metadata))


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []


async def test_downgrade_to_nothing_and_back(database_url: str) -> None:
    engine = create_engine(database_url)
    config = alembic_config(database_url)

    def round_trip(sync_connection: Any) -> list[Any]:
        config.attributes["connection"] = sync_connection
        command.downgrade(config, "base")
        command.upgrade(config, "head")
        return _differences(sync_connection)

    try:
        async with engine.begin() as connection:
            differences = await connection.run_sync(round_trip)
    finally:
        await engine.dispose()
    assert differences == []

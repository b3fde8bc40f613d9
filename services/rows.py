"""Reading rows of any table by primary key, for DataLoaders and node lookups."""

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession


class Identified(Protocol):
    id: Any


M = TypeVar("M", bound=Identified)


async def rows_by_ids(session: AsyncSession, model: type[M], ids: Sequence[int]) -> list[M]:
    rows = await session.execute(select(model).where(model.id.in_(ids)))
    return list(rows.scalars())

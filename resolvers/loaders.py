"""DataLoaders: every relation the schema exposes is batched per request, never N+1."""

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from models.categories import Category, CategoryRelation, FieldDefinition
from models.contacts import Contact, Person
from models.users import ApiKey, User
from services import auth, categories, contacts
from services.contact_query import RelatedPage, related_contacts
from services.contacts import Direction
from services.rows import Identified, rows_by_ids

M = TypeVar("M", bound=Identified)

Reader = Callable[[Callable[[AsyncSession], Awaitable[Any]]], Awaitable[Any]]


def _by_id(rows: Sequence[Any], keys: Sequence[int]) -> list[Any]:
    found = {row.id: row for row in rows}
    return [found.get(key) for key in keys]


def _grouped(rows: Sequence[Any], keys: Sequence[int], attribute: str) -> list[list[Any]]:
    groups: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        groups[getattr(row, attribute)].append(row)
    return [groups.get(key, []) for key in keys]


K = TypeVar("K")
V = TypeVar("V")


class SharedLoader(DataLoader[K, V]):
    """A DataLoader whose results several fields may wait for at once: when one of them is
    cancelled (a sibling field failed), the others still get the result. A plain DataLoader
    hands every caller the same future, which the first cancelled caller would cancel for all.
    """

    def load(self, key: K) -> Awaitable[V]:
        return asyncio.shield(super().load(key))


class Loaders:
    """One set per operation (and afresh after each mutation), so caches never go stale.

    Any table has a by-id loader (`by_id`); the relations the schema exposes have theirs here.
    """

    def __init__(self, read: Reader) -> None:
        self._read = read
        self._by_id: dict[type[Any], DataLoader[int, Any]] = {}

        async def load_api_keys(ids: list[int]) -> list[list[ApiKey]]:
            return _grouped(await read(lambda s: auth.api_keys_of(s, ids)), ids, "user_id")

        async def load_fields(ids: list[int]) -> list[list[FieldDefinition]]:
            return _grouped(await read(lambda s: categories.fields_of(s, ids)), ids, "category_id")

        async def load_relations(ids: list[int]) -> list[list[CategoryRelation]]:
            rows = await read(lambda s: categories.relations_of(s, ids))
            return [
                [r for r in rows if key in (r.from_category_id, r.to_category_id)] for key in ids
            ]

        async def load_persons(ids: list[int]) -> list[list[Person]]:
            return _grouped(await read(lambda s: contacts.persons_of(s, ids)), ids, "contact_id")

        self.user = self.by_id(User)
        self.category = self.by_id(Category)
        self.contact = self.by_id(Contact)
        self.api_keys = SharedLoader(load_api_keys)
        self.fields = SharedLoader(load_fields)
        self.relations = SharedLoader(load_relations)
        self.persons = SharedLoader(load_persons)
        self.related = SharedLoader(self._load_related, cache_key_fn=_related_key)

    def by_id(self, model: type[M]) -> "DataLoader[int, M | None]":
        """The loader of `model` rows by primary key (None for a missing one)."""
        loader = self._by_id.get(model)
        if loader is None:

            async def load(ids: list[int]) -> list[M | None]:
                return _by_id(await self._read(lambda s: rows_by_ids(s, model, ids)), ids)

            loader = self._by_id[model] = SharedLoader(load)
        return loader

    async def _load_related(
        self, keys: list[tuple[Direction, int, int, str | None]]
    ) -> list[RelatedPage]:
        """Keys are (direction, contact id, first, after); one query per distinct page shape."""
        shapes: dict[tuple[int | None, bool, int, str | None], list[int]] = defaultdict(list)
        directions: dict[tuple[int | None, bool, int, str | None], Direction] = {}
        for direction, contact_id, first, after in keys:
            shape = (direction.relation.id, direction.forward, first, after)
            shapes[shape].append(contact_id)
            directions[shape] = direction
        results: dict[tuple[Any, ...], RelatedPage] = {}
        for shape, contact_ids in shapes.items():
            pages = await self._read(
                _related_pages(directions[shape], contact_ids, shape[2], shape[3])
            )
            for contact_id, page in pages.items():
                results[(*shape, contact_id)] = page
        return [
            results[(d.relation.id, d.forward, first, after, contact_id)]
            for d, contact_id, first, after in keys
        ]


def _related_pages(
    direction: Direction, contact_ids: list[int], first: int, after: str | None
) -> Callable[[AsyncSession], Awaitable[dict[int, RelatedPage]]]:
    async def load(session: AsyncSession) -> dict[int, RelatedPage]:
        return await related_contacts(
            session, direction=direction, contact_ids=contact_ids, first=first, after=after
        )

    return load


def _related_key(key: tuple[Direction, int, int, str | None]) -> Hashable:
    direction, contact_id, first, after = key
    return (direction.relation.id, direction.forward, contact_id, first, after)

"""DataLoaders: every relation the schema exposes is batched per request, never N+1."""

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Literal, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from models.categories import Category, CategoryRelation, FieldDefinition
from models.contacts import Contact, Person
from models.rooms import RoomMember
from models.statistics import Statistic
from models.types import utcnow
from models.users import ApiKey, User
from services import auth, categories, contacts, rooms, statistics
from services.activity import ActivityPage, contact_activity
from services.auth import Viewer
from services.contact_query import RelatedPage, related_contacts
from services.contacts import Direction
from services.files import FilePage, files_of, room_files
from services.notes import NoteOwner, NotePage, notes_of
from services.room_overview import RoomFigures, room_figures
from services.rows import Identified, rows_by_ids
from services.todos import TodoFilter, TodoOwner, TodoPage, todos_of

M = TypeVar("M", bound=Identified)
S = TypeVar("S", bound=Hashable)
P = TypeVar("P")
S_in = TypeVar("S_in", bound=Hashable, contravariant=True)

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


class PageFetch(Protocol[S_in, P]):
    """Fetches one page for each of many owners in one go."""

    def __call__(
        self, session: AsyncSession, *, shape: S_in, owner_ids: list[int]
    ) -> Awaitable[dict[int, P]]: ...


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
        # "Now" for everything the operation reads (overdue, this week): one moment for all.
        self.now = utcnow()

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

        async def load_rooms_entered(user_ids: list[int]) -> list[frozenset[int]]:
            found = await read(lambda s: rooms.rooms_of(s, user_ids))
            return [found[user_id] for user_id in user_ids]

        async def load_room_categories(ids: list[int]) -> list[list[Category]]:
            found = await read(lambda s: rooms.categories_of(s, ids))
            return [found[room_id] for room_id in ids]

        async def load_category_rooms(ids: list[int]) -> list[int | None]:
            found = await read(lambda s: rooms.room_of_categories(s, ids))
            return [found.get(category_id) for category_id in ids]

        async def load_statistics(ids: list[int]) -> list[list[Statistic]]:
            found = await read(lambda s: statistics.statistics_of(s, ids))
            return [found[category_id] for category_id in ids]

        async def load_room_members(ids: list[int]) -> list[list[RoomMember]]:
            found = await read(lambda s: rooms.members_of(s, ids))
            return [found[room_id] for room_id in ids]

        self.user = self.by_id(User)
        self.category = self.by_id(Category)
        self.contact = self.by_id(Contact)
        self.api_keys = SharedLoader(load_api_keys)
        self.fields = SharedLoader(load_fields)
        self.relations = SharedLoader(load_relations)
        self.persons = SharedLoader(load_persons)
        # The project rooms a user is a member of (asked for the viewer: one per operation).
        self.rooms_entered = SharedLoader(load_rooms_entered)
        self.room_categories = SharedLoader(load_room_categories)
        self.category_room = SharedLoader(load_category_rooms)
        self.room_members = SharedLoader(load_room_members)
        self.statistics = SharedLoader(load_statistics)
        self.related: SharedLoader[tuple[int, RelatedShape], RelatedPage] = self.pages(
            _related_pages
        )
        self.activity: SharedLoader[tuple[int, ActivityShape], ActivityPage] = self.pages(
            _activity_pages
        )
        self.room_activity: SharedLoader[tuple[int, ActivityShape], ActivityPage] = self.pages(
            _room_activity_pages
        )
        self.room_figures: SharedLoader[tuple[int, FiguresShape], RoomFigures] = self.pages(
            _room_figures
        )
        self.notes: SharedLoader[tuple[int, NotesShape], NotePage] = self.pages(_notes_pages)
        self.files: SharedLoader[tuple[int, FilesShape], FilePage] = self.pages(_files_pages)
        self.todos: SharedLoader[tuple[int, TodosShape], TodoPage] = self.pages(_todos_pages)

    def by_id(self, model: type[M]) -> "DataLoader[int, M | None]":
        """The loader of `model` rows by primary key (None for a missing one)."""
        loader = self._by_id.get(model)
        if loader is None:

            async def load(ids: list[int]) -> list[M | None]:
                return _by_id(await self._read(lambda s: rows_by_ids(s, model, ids)), ids)

            loader = self._by_id[model] = SharedLoader(load)
        return loader

    def pages(self, fetch: PageFetch[S, P]) -> "SharedLoader[tuple[int, S], P]":
        """A loader of one page per owner (a card): keys are (owner id, shape), where the
        shape says which page (its size, cursor, filters, who asks). One call of `fetch` for
        all the owners that ask for the same shape, so a list of cards costs one statement."""

        async def load(keys: list[tuple[int, S]]) -> list[P]:
            owners: dict[S, list[int]] = defaultdict(list)
            for owner, shape in keys:
                owners[shape].append(owner)
            found: dict[tuple[int, S], P] = {}
            for shape, ids in owners.items():
                pages = await self._read(partial(fetch, shape=shape, owner_ids=ids))
                found.update(((owner, shape), page) for owner, page in pages.items())
            return [found[key] for key in keys]

        return SharedLoader(load)


@dataclass(frozen=True)
class RelatedShape:
    direction: Direction
    first: int
    after: str | None

    def __hash__(self) -> int:
        relation = self.direction.relation
        return hash((relation.id, self.direction.forward, self.first, self.after))


async def _related_pages(
    session: AsyncSession, *, shape: RelatedShape, owner_ids: list[int]
) -> dict[int, RelatedPage]:
    return await related_contacts(
        session,
        direction=shape.direction,
        contact_ids=owner_ids,
        first=shape.first,
        after=shape.after,
    )


@dataclass(frozen=True)
class ActivityShape:
    viewer: Viewer
    first: int
    after: str | None

    def __hash__(self) -> int:
        return hash((self.viewer.id, self.first, self.after))


async def _activity_pages(
    session: AsyncSession, *, shape: ActivityShape, owner_ids: list[int]
) -> dict[int, ActivityPage]:
    return await contact_activity(
        session,
        viewer=shape.viewer,
        contact_ids=owner_ids,
        first=shape.first,
        after=shape.after,
    )


async def _room_activity_pages(
    session: AsyncSession, *, shape: ActivityShape, owner_ids: list[int]
) -> dict[int, ActivityPage]:
    return await rooms.room_activity(
        session, viewer=shape.viewer, room_ids=owner_ids, first=shape.first, after=shape.after
    )


@dataclass(frozen=True)
class FiguresShape:
    viewer: Viewer
    now: datetime
    time_zone: str

    def __hash__(self) -> int:
        return hash((self.viewer.id, self.now, self.time_zone))


async def _room_figures(
    session: AsyncSession, *, shape: FiguresShape, owner_ids: list[int]
) -> dict[int, RoomFigures]:
    return await room_figures(
        session,
        viewer=shape.viewer,
        room_ids=owner_ids,
        now=shape.now,
        time_zone=shape.time_zone,
    )


@dataclass(frozen=True)
class NotesShape:
    viewer: Viewer
    first: int
    after: str | None
    owner: NoteOwner = "contact"

    def __hash__(self) -> int:
        return hash((self.viewer.id, self.first, self.after, self.owner))


async def _notes_pages(
    session: AsyncSession, *, shape: NotesShape, owner_ids: list[int]
) -> dict[int, NotePage]:
    return await notes_of(
        session,
        viewer=shape.viewer,
        owner=shape.owner,
        owner_ids=owner_ids,
        first=shape.first,
        after=shape.after,
    )


@dataclass(frozen=True)
class FilesShape:
    first: int
    after: str | None
    owner: Literal["contact", "room"] = "contact"


async def _files_pages(
    session: AsyncSession, *, shape: FilesShape, owner_ids: list[int]
) -> dict[int, FilePage]:
    if shape.owner == "room":
        return await room_files(session, room_ids=owner_ids, first=shape.first, after=shape.after)
    return await files_of(session, contact_ids=owner_ids, first=shape.first, after=shape.after)


@dataclass(frozen=True)
class TodosShape:
    owner: TodoOwner
    filter: TodoFilter
    first: int
    after: str | None


async def _todos_pages(
    session: AsyncSession, *, shape: TodosShape, owner_ids: list[int]
) -> dict[int, TodoPage]:
    return await todos_of(
        session,
        owner=shape.owner,
        owner_ids=owner_ids,
        filter=shape.filter,
        first=shape.first,
        after=shape.after,
    )

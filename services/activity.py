"""The history of cards: every change writes an event in the same transaction as the change.

Events have two orders:
- a card's history pages newest first by id;
- a live reader (a subscription, later) follows `(tx, id)`, where `tx` is the id of the
  transaction that wrote the event.

On PostgreSQL, ids are taken before commit, so an event with a smaller id can become visible
after one with a larger id, and a reader going by id alone could skip it for good. A reader
going by `(tx, id)` reads only events whose transaction is older than every transaction still
running (`tx < pg_snapshot_xmin(pg_current_snapshot())`). Such a transaction has ended, so
nothing can appear below that line any more, and a cursor never jumps over a late commit. The
price is that an event is delayed while a longer, older transaction is still open. On SQLite
writers take turns, so ids are handed out in commit order and `tx` is 0.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, literal, literal_column, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models.activity import ActivityEvent, ActivityKind
from models.types import utcnow
from services.auth import Viewer
from services.effects import signal_after_commit
from services.errors import BadRequestError
from services.locks import is_postgresql
from services.pagination import (
    SortKey,
    decode_cursor,
    encode_cursor,
    fingerprint,
    first_rows_per_owner,
)

CURRENT_TRANSACTION = text("SELECT pg_current_xact_id()::text::bigint")
# Transactions below this one have ended: their events are all visible, and no event can
# appear below it any more (see the module's docstring).
OLDEST_RUNNING: ColumnElement[int] = literal_column(
    "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
)
STREAM = fingerprint("activity-stream")
# Signalled after a commit that wrote events: the live feed reads them (services/feed.py).
SIGNAL = "activity"


@dataclass(frozen=True)
class Change:
    """One field of a card before and after a change (values as the API shows them)."""

    field: str
    label: str
    before: Any
    after: Any

    def as_data(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "label": self.label,
            "before": self.before,
            "after": self.after,
        }


async def record(
    session: AsyncSession,
    kind: ActivityKind,
    *,
    actor_id: int | None,
    contact_id: int | None,
    room_id: int | None = None,
    subject: tuple[str, int | None] | None = None,
    changes: Sequence[Change] = (),
    details: Mapping[str, Any] | None = None,
    visible_to_id: int | None = None,
) -> ActivityEvent:
    """Write an event of the current transaction, about a card (`contact_id`) or a project
    room's own item (`room_id`). `subject` is what it is about ("Note", id);
    `visible_to_id` keeps an event to one user (a private note's author)."""
    data: dict[str, Any] = dict(details or {})
    if changes:
        data["changes"] = [change.as_data() for change in changes]
    event = ActivityEvent(
        kind=kind,
        actor_id=actor_id,
        contact_id=contact_id,
        room_id=room_id,
        subject_type=subject[0] if subject else None,
        subject_id=subject[1] if subject else None,
        visible_to_id=visible_to_id,
        data=data,
    )
    if await is_postgresql(session):
        event.tx = (
            await session.execute(text("SELECT pg_current_xact_id()::text::bigint"))
        ).scalar_one()
    session.add(event)
    await session.flush()
    signal_after_commit(session, SIGNAL)
    return event


async def record_many(
    session: AsyncSession,
    kind: ActivityKind,
    *,
    actor_id: int | None,
    entries: Sequence[tuple[int, tuple[str, int], Mapping[str, Any]]],
) -> None:
    """Events of one kind about many cards at once, as `record` writes each: (contact_id,
    subject, details) apiece, in one statement."""
    tx = 0
    if await is_postgresql(session):
        tx = (await session.execute(text("SELECT pg_current_xact_id()::text::bigint"))).scalar_one()
    now = utcnow()
    await session.execute(
        insert(ActivityEvent),
        [
            {
                "tx": tx,
                "kind": kind,
                "at": now,
                "actor_id": actor_id,
                "contact_id": contact_id,
                "room_id": None,
                "subject_type": subject[0],
                "subject_id": subject[1],
                "visible_to_id": None,
                "data": dict(details),
            }
            for contact_id, subject, details in entries
        ],
    )
    signal_after_commit(session, SIGNAL)


def stream_cursor(event: ActivityEvent) -> str:
    """Where an event stands in the order a live reader follows: (tx, id)."""
    return encode_cursor(STREAM, [event.tx, event.id])


# --- the order live readers follow ------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Position:
    """A place in the order live readers follow: after every event at or below it."""

    tx: int
    id: int

    @classmethod
    def of(cls, event: ActivityEvent) -> "Position":
        assert event.id is not None
        return cls(event.tx, event.id)


START = Position(0, 0)


def _beyond(position: Position) -> ColumnElement[bool]:
    return tuple_(col(ActivityEvent.tx), col(ActivityEvent.id)) > tuple_(
        literal(position.tx), literal(position.id)
    )


async def _readable(session: AsyncSession) -> list[ColumnElement[bool]]:
    """What a live reader may take now: on PostgreSQL only events of transactions older than
    every one still running (on SQLite every committed event)."""
    return [col(ActivityEvent.tx) < OLDEST_RUNNING] if await is_postgresql(session) else []


async def stream_head(session: AsyncSession) -> Position:
    """The newest event a live reader may take now (START when there is none)."""
    row = (
        await session.execute(
            select(col(ActivityEvent.tx), col(ActivityEvent.id))
            .where(*await _readable(session))
            .order_by(col(ActivityEvent.tx).desc(), col(ActivityEvent.id).desc())
            .limit(1)
        )
    ).first()
    return Position(row[0], row[1]) if row and row[1] is not None else START


async def read_stream(session: AsyncSession, *, after: Position, limit: int) -> list[ActivityEvent]:
    """The events after `after` that a live reader may take now, in its order: one statement."""
    rows = await session.execute(
        select(ActivityEvent)
        .where(_beyond(after), *await _readable(session))
        .order_by(col(ActivityEvent.tx), col(ActivityEvent.id))
        .limit(limit)
    )
    return list(rows.scalars())


async def replay(
    session: AsyncSession,
    *,
    condition: ColumnElement[bool],
    viewer: Viewer,
    after: Position,
    upto: Position,
    limit: int,
) -> list[ActivityEvent]:
    """The events matching `condition` after `after` and at most `upto` that `viewer` may see,
    in the live order: what a subscriber missed. `upto` is a position the feed has read, so
    every event at or below it has committed."""
    upto_condition = tuple_(col(ActivityEvent.tx), col(ActivityEvent.id)) <= tuple_(
        literal(upto.tx), literal(upto.id)
    )
    rows = await session.execute(
        select(ActivityEvent)
        .where(condition, _beyond(after), upto_condition, visible_to(viewer))
        .order_by(col(ActivityEvent.tx), col(ActivityEvent.id))
        .limit(limit)
    )
    return list(rows.scalars())


async def stream_position(session: AsyncSession, cursor: str) -> Position:
    """The position a cursor names: an event's `cursor`, or a cursor of a card's history
    (`Contact.activity`'s edges), which names the event by id."""
    try:
        # A transaction id is 0 on SQLite and may pass 2^31 on PostgreSQL: not an id's range.
        tx, event_id = decode_cursor(
            cursor,
            STREAM,
            [
                SortKey(col(ActivityEvent.tx), kind=Decimal),
                SortKey(col(ActivityEvent.id), kind=int),
            ],
        )
        if tx != tx.to_integral_value() or not 0 <= tx < 2**63:
            raise BadRequestError(f"{cursor[:80]!r} is not a valid cursor", "INVALID_CURSOR")
        return Position(int(tx), event_id)
    except BadRequestError as stream_error:
        try:
            (event_id,) = decode_cursor(
                cursor, fingerprint("activity"), [SortKey(col(ActivityEvent.id), kind=int)]
            )
        except BadRequestError:
            raise stream_error from None
    tx = (
        await session.execute(
            select(col(ActivityEvent.tx)).where(col(ActivityEvent.id) == event_id)
        )
    ).scalar_one_or_none()
    if tx is None:
        raise BadRequestError(
            "The cursor names an event that no longer exists; subscribe without `after`",
            "INVALID_CURSOR",
        )
    return Position(tx, event_id)


def may_see(viewer: Viewer, event: ActivityEvent) -> bool:
    return event.visible_to_id is None or event.visible_to_id == viewer.id


def visible_to(viewer: Viewer) -> Any:
    """The events `viewer` may see (see may_see)."""
    return or_(
        col(ActivityEvent.visible_to_id).is_(None), col(ActivityEvent.visible_to_id) == viewer.id
    )


@dataclass
class ActivityPage:
    events: list[ActivityEvent]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    total: int


async def contact_activity(
    session: AsyncSession,
    *,
    viewer: Viewer,
    contact_ids: Sequence[int],
    first: int,
    after: str | None,
) -> dict[int, ActivityPage]:
    """One page of each card's history, newest first, as `viewer` may see it: one statement
    for the pages of all the cards, one for their totals."""
    fp = fingerprint("activity")
    older_than = None
    if after is not None:
        (older_than,) = decode_cursor(after, fp, [SortKey(col(ActivityEvent.id), kind=int)])
    seen = [col(ActivityEvent.contact_id).in_(contact_ids), visible_to(viewer)]
    older = [] if older_than is None else [col(ActivityEvent.id) < older_than]
    rows = await session.execute(
        first_rows_per_owner(
            ActivityEvent,
            col(ActivityEvent.contact_id),
            contact_ids,
            [visible_to(viewer), *older],
            [col(ActivityEvent.id).desc()],
            first + 1,
        )
    )
    totals = dict(
        (
            await session.execute(
                select(col(ActivityEvent.contact_id), func.count())
                .where(*seen)
                .group_by(col(ActivityEvent.contact_id))
            )
        ).all()
    )
    pages = {
        contact_id: ActivityPage([], [], False, older_than is not None, totals.get(contact_id, 0))
        for contact_id in contact_ids
    }
    for event in rows.scalars():
        assert event.contact_id is not None
        page = pages[event.contact_id]
        if len(page.events) == first:
            page.has_next = True
            continue
        page.events.append(event)
        page.cursors.append(encode_cursor(fp, [event.id]))
    return pages

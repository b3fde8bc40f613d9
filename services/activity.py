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
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.activity import ActivityEvent, ActivityKind
from services.auth import Viewer
from services.locks import is_postgresql
from services.pagination import (
    SortKey,
    decode_cursor,
    encode_cursor,
    fingerprint,
    first_rows_per_owner,
)

CURRENT_TRANSACTION = text("SELECT pg_current_xact_id()::text::bigint")


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
    return event


def stream_cursor(event: ActivityEvent) -> str:
    """Where an event stands in the order a live reader follows: (tx, id)."""
    return encode_cursor(fingerprint("activity-stream"), [event.tx, event.id])


def may_see(viewer: Viewer, event: ActivityEvent) -> bool:
    return event.visible_to_id is None or event.visible_to_id == viewer.id


def _visible(viewer: Viewer) -> Any:
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
    seen = [col(ActivityEvent.contact_id).in_(contact_ids), _visible(viewer)]
    older = [] if older_than is None else [col(ActivityEvent.id) < older_than]
    rows = await session.execute(
        first_rows_per_owner(
            ActivityEvent,
            col(ActivityEvent.contact_id),
            contact_ids,
            [_visible(viewer), *older],
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

"""Where live events go. Every event of the activity log is delivered to topics, and a
subscription follows one topic: a card's events go to ("contact", card id), and the events of
a project room's own items and of the cards of its categories to ("room", room id).

A new kind of topic (a project room's) needs two things here: the topics of a batch of events
(`topics_of`, one query per kind for the whole batch, never one per event) and the condition
that selects a topic's events in the log (`events_of`, for replay).
"""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models.activity import ActivityEvent
from services.room_scope import ROOM, events_of_room, rooms_of_events

Topic = tuple[str, int]
CONTACT = "contact"


async def topics_of(
    session: AsyncSession, events: Sequence[ActivityEvent]
) -> dict[int, set[Topic]]:
    """The topics of each event of a batch, by event id."""
    topics: dict[int, set[Topic]] = {}
    rooms = await rooms_of_events(session, events)
    for event in events:
        assert event.id is not None
        found = topics.setdefault(event.id, set())
        if event.contact_id is not None:
            found.add((CONTACT, event.contact_id))
        if event.id in rooms:
            found.add((ROOM, rooms[event.id]))
    return topics


def events_of(topic: Topic) -> ColumnElement[bool]:
    """The condition that selects a topic's events in the activity log."""
    kind, key = topic
    if kind == CONTACT:
        return col(ActivityEvent.contact_id) == key
    if kind == ROOM:
        return events_of_room(key)
    raise ValueError(f"unknown kind of topic: {kind!r}")

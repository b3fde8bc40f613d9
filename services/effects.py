"""Effects of a change that must wait until it is committed: waking a mail sender, publishing
an event, deleting a stored file.

A service registers them on the session while it works; the mutation boundary runs them once
the transaction has committed and drops them when it rolls back. An effect that fails is logged
and does not turn the committed change into an error. So each one must be safe to lose: what
has to happen for sure is written as rows in the same transaction (an outbox, an activity log),
and the effect only hurries along whoever delivers them.
"""

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

Effect = Callable[[], Awaitable[None]]

_PENDING = "crm.after_commit"
_SIGNALS = "crm.signals"
logger = logging.getLogger("crm")


def after_commit(session: AsyncSession, effect: Effect) -> None:
    """Run `effect` once the session's transaction has committed (never if it rolls back)."""
    session.info.setdefault(_PENDING, []).append(effect)


def take_effects(session: AsyncSession) -> list[Effect]:
    """The effects registered so far, which the session no longer holds."""
    effects: list[Effect] = session.info.pop(_PENDING, [])
    return effects


async def run_effects(effects: list[Effect]) -> None:
    for effect in effects:
        try:
            await effect()
        except Exception:  # the change is committed; a lost effect must not undo that
            logger.exception("An effect after commit failed: %r", effect)


def signal_after_commit(session: AsyncSession, topic: str) -> None:
    """Tell whoever listens to `topic` (the mail sender: "mail") that the transaction left work
    for them, once it has committed. Services need not know who that is."""
    session.info.setdefault(_SIGNALS, set()).add(topic)


def take_signals(session: AsyncSession) -> set[str]:
    topics: set[str] = session.info.pop(_SIGNALS, set())
    return topics


class Signals:
    """Wakes the service's workers when a committed change gave them work. Each process has one
    (a resource); a worker in another process finds the work when it next looks."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Callable[[], None]]] = defaultdict(list)

    def on(self, topic: str, listener: Callable[[], None]) -> None:
        self._listeners[topic].append(listener)

    def emit(self, topics: set[str]) -> None:
        for topic in sorted(topics):
            for listener in self._listeners.get(topic, []):
                try:
                    listener()
                except Exception:  # a worker's wake-up must not fail the committed change
                    logger.exception("Waking the listeners of %r failed", topic)

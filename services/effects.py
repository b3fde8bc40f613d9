"""Effects of a change that must wait until it is committed: waking a mail sender, publishing
an event, deleting a stored file.

A service registers them on the session while it works; the mutation boundary runs them once
the transaction has committed and drops them when it rolls back. An effect that fails is logged
and does not turn the committed change into an error. So each one must be safe to lose: what
has to happen for sure is written as rows in the same transaction (an outbox, an activity log),
and the effect only hurries along whoever delivers them.
"""

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

Effect = Callable[[], Awaitable[None]]

_PENDING = "crm.after_commit"
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

"""Whether credentials still hold, for many holders at once: live subscriptions check theirs
before each delivery, with one statement for all of them."""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.types import utcnow
from models.users import ApiKey, AuthSession, Role, User


@dataclass(frozen=True)
class Credential:
    """A session or an API key, by id."""

    kind: str  # "session" or "api_key"
    id: int


@dataclass(frozen=True)
class Holder:
    """Whom a credential that still holds belongs to, as they are now."""

    user_id: int
    role: Role


async def credentials_in_force(
    session: AsyncSession, credentials: Collection[Credential]
) -> dict[Credential, Holder]:
    """The credentials that still hold (neither revoked nor expired, their user active),
    with their holders: one statement."""
    now = utcnow()
    parts: list[Any] = []
    for kind, table in (("session", AuthSession), ("api_key", ApiKey)):
        ids = [c.id for c in credentials if c.kind == kind]
        if not ids:
            continue
        expires = col(table.expires_at)
        parts.append(
            select(literal(kind), col(table.id), col(User.id), col(User.role))
            .join(User, col(User.id) == col(table.user_id))
            .where(
                col(table.id).in_(ids),
                col(table.revoked_at).is_(None),
                or_(expires.is_(None), expires > now),
                col(User.active),
            )
        )
    if not parts:
        return {}
    statement: Any = union_all(*parts) if len(parts) > 1 else parts[0]
    holders: dict[Credential, Holder] = {}
    for row in (await session.execute(statement)).all():
        kind, credential_id, user_id, role = tuple(row)
        holders[Credential(str(kind), int(credential_id))] = Holder(int(user_id), Role(role))
    return holders

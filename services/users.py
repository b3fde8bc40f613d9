"""Managing user accounts: listing, renaming, roles and deactivation."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.types import utcnow
from models.users import Role, User
from services.auth import Viewer, check_name, revoke_access_of
from services.errors import AuthError, ErrorCode, UserFacingError, not_found, refuse_clearing


def may_see(viewer: Viewer, user: User) -> bool:
    """The one rule for every path to a user: a deactivated account is seen by admins (and
    by itself) only."""
    return user.active or viewer.role == Role.ADMIN or user.id == viewer.id


async def list_users(
    session: AsyncSession, *, viewer: Viewer, include_inactive: bool
) -> list[User]:
    query = select(User).order_by(func.lower(col(User.name)), col(User.id))
    if not include_inactive:
        query = query.where(col(User.active).is_(True))
    return [user for user in (await session.execute(query)).scalars() if may_see(viewer, user)]


async def update_user(
    session: AsyncSession,
    *,
    viewer: Viewer,
    user_id: int,
    changes: Mapping[str, Any],
) -> User:
    """People may rename themselves; only admins change roles, activation or other people.
    `changes` holds what the client sent of name, role and active; none can be cleared."""
    refuse_clearing(changes, "name", "role", "active")
    name, role, active = changes.get("name"), changes.get("role"), changes.get("active")
    if viewer.role != Role.ADMIN and (
        user_id != viewer.id or role is not None or active is not None
    ):
        raise AuthError(
            "Only an admin can change roles, deactivate or edit other users", "FORBIDDEN"
        )
    # Locks in one order (the active admins, then the account), so that concurrent changes
    # of the same account wait for each other instead of deciding on what they read earlier.
    active_admins = await _active_admins(session) if role is not None or active is not None else 0
    user = await session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None:
        raise not_found("The user", ["id"])
    if name is not None:
        user.name = check_name(name)
    demotes_admin = (
        user.role == Role.ADMIN
        and user.active
        and ((role is not None and role != Role.ADMIN) or active is False)
    )
    if demotes_admin and active_admins <= 1:
        raise UserFacingError.one(
            "This is the last active admin; make someone else admin first",
            code=ErrorCode.CONFLICT,
            field=["role" if role is not None else "active"],
        )
    if role is not None:
        user.role = role
    if active is False and user.active:
        # Sessions and API keys end for good: reactivation must not bring them back.
        await revoke_access_of(session, user_id)
    if active is not None:
        user.active = active
    user.updated_at = utcnow()
    await session.flush()
    return user


async def _active_admins(session: AsyncSession) -> int:
    """How many admins are active, with their rows locked (on PostgreSQL) until the transaction
    ends, so that admins stepping down at the same time cannot all pass this check."""
    query = (
        select(col(User.id))
        .where(col(User.role) == Role.ADMIN, col(User.active).is_(True))
        .order_by(col(User.id))
        .with_for_update()
    )
    return len((await session.execute(query)).all())

"""Accounts and credentials: decode what the client sent, run the service in the operation's
session, hand back what it produced."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from models.users import ApiKey, Invitation, PasswordReset, Role, User
from resolvers.context import Context
from resolvers.database import Outcome
from services import auth, users
from services.auth import Issued, NewSession
from services.ids import decode_id


async def me(ctx: Context) -> User | None:
    viewer = await ctx.viewer_or_none()
    return viewer.user if viewer else None


async def list_users(ctx: Context, *, include_inactive: bool) -> list[User]:
    viewer = await ctx.require()
    return await ctx.read(
        lambda s: users.list_users(s, viewer=viewer, include_inactive=include_inactive)
    )


async def sign_up(
    ctx: Context, *, email: str, password: str, name: str, invitation_token: str | None
) -> Outcome[NewSession]:
    return await ctx.mutate(
        lambda s: auth.sign_up(
            s,
            ctx.settings,
            ctx.passwords,
            email=email,
            password=password,
            name=name,
            invitation_token=invitation_token,
        )
    )


async def sign_in(ctx: Context, *, email: str, password: str) -> Outcome[NewSession]:
    """A new session, or why not. The password is checked outside the write transaction (see
    services.auth.check_password_for); a refusal that needs no record costs no write."""
    check = await ctx.read(
        lambda s: auth.check_password_for(
            s, ctx.passwords, email=email, password=password, client=ctx.client
        )
    )
    if check.refusal is not None:
        return Outcome(problems=[check.refusal])
    recorded = await ctx.mutate(lambda s: auth.sign_in(s, ctx.settings, check))
    result = recorded.value
    if isinstance(result, NewSession):
        return Outcome(value=result)
    assert result is not None
    return Outcome(problems=[result])


async def sign_out(ctx: Context, *, token: str | None) -> Outcome[bool]:
    viewer = await ctx.require()

    async def revoke(session: Any) -> bool:
        await auth.revoke_session(session, viewer=viewer, token=token)
        return True

    return await ctx.mutate(revoke)


async def invite(ctx: Context, *, email: str, role: Role) -> Outcome[Issued[Invitation]]:
    viewer = await ctx.require()
    return await ctx.mutate(
        lambda s: auth.invite(s, ctx.settings, viewer=viewer, email=email, role=role)
    )


async def update_user(ctx: Context, *, id: str, changes: Mapping[str, Any]) -> Outcome[User]:
    viewer = await ctx.require()
    user_id = decode_id(id, "User")
    return await ctx.mutate(
        lambda s: users.update_user(s, viewer=viewer, user_id=user_id, changes=changes)
    )


async def issue_password_reset(ctx: Context, *, id: str) -> Outcome[Issued[PasswordReset]]:
    viewer = await ctx.require()
    user_id = decode_id(id, "User")
    return await ctx.mutate(
        lambda s: auth.issue_password_reset(s, ctx.settings, viewer=viewer, user_id=user_id)
    )


async def reset_password(ctx: Context, *, token: str, new_password: str) -> Outcome[NewSession]:
    return await ctx.mutate(
        lambda s: auth.reset_password(
            s, ctx.settings, ctx.passwords, token=token, new_password=new_password
        )
    )


async def change_password(
    ctx: Context, *, current_password: str, new_password: str
) -> Outcome[User]:
    viewer = await ctx.require()
    return await ctx.mutate(
        lambda s: auth.change_password(
            s,
            ctx.settings,
            ctx.passwords,
            viewer=viewer,
            current_password=current_password,
            new_password=new_password,
        )
    )


async def create_api_key(
    ctx: Context, *, name: str, expires_at: datetime | None
) -> Outcome[Issued[ApiKey]]:
    viewer = await ctx.require()
    return await ctx.mutate(
        lambda s: auth.create_api_key(s, viewer=viewer, name=name, expires_at=expires_at)
    )


async def revoke_api_key(ctx: Context, *, id: str) -> Outcome[ApiKey]:
    viewer = await ctx.require()
    key_id = decode_id(id, "ApiKey")
    return await ctx.mutate(lambda s: auth.revoke_api_key(s, viewer=viewer, api_key_id=key_id))

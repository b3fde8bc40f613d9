"""The operations on accounts: who is signed in, signing up and in, invitations, roles,
passwords and API keys."""

import strawberry

from models.users import Role
from resolvers import users as resolve
from resolvers.database import Outcome
from schema import cost
from schema.common import Info, payload, provided, user_errors
from schema.permissions import requires
from schema.users.inputs import (
    ApiKeyCreateInput,
    ApiKeyCreatePayload,
    ApiKeyPayload,
    ApiKeyRevokeInput,
    PasswordChangeInput,
    PasswordResetInput,
    SessionCreateInput,
    SessionPayload,
    SessionRevokeInput,
    SessionRevokePayload,
    SignUpInput,
    UserInviteInput,
    UserInvitePayload,
    UserPasswordResetInput,
    UserPasswordResetPayload,
    UserPayload,
    UserUpdateInput,
)
from schema.users.types import ApiKey, Invitation, User
from services.auth import NewSession


def _session_payload(outcome: Outcome[NewSession]) -> SessionPayload:
    return payload(
        SessionPayload,
        outcome,
        user=lambda new: User.of(new.user),
        token=lambda new: new.token,
        expires_at=lambda new: new.expires_at,
    )


@strawberry.type
class UserQuery:
    @strawberry.field(description="The signed-in user, or null when anonymous.")
    async def me(self, info: Info) -> User | None:
        user = await resolve.me(info.context)
        return User.of(user) if user else None

    @strawberry.field(
        description="Everyone who can be assigned work, by name. Deactivated users are left out "
        "unless an admin passes includeInactive: true; only admins ever see them.",
        metadata=cost.typical(50),
        extensions=requires(),
    )
    async def users(self, info: Info, include_inactive: bool = False) -> list[User]:
        rows = await resolve.list_users(info.context, include_inactive=include_inactive)
        return [User.of(u) for u in rows]


@strawberry.type
class UserMutation:
    @strawberry.mutation(
        description="Create an account; the first one of an empty install is ADMIN."
    )
    async def sign_up(self, info: Info, input: SignUpInput) -> SessionPayload:
        return _session_payload(
            await resolve.sign_up(
                info.context,
                email=input.email,
                password=input.password,
                name=input.name,
                invitation_token=input.invitation_token,
            )
        )

    @strawberry.mutation(description="Sign in with e-mail and password.")
    async def session_create(self, info: Info, input: SessionCreateInput) -> SessionPayload:
        return _session_payload(
            await resolve.sign_in(info.context, email=input.email, password=input.password)
        )

    @strawberry.mutation(description="Sign out.", extensions=requires())
    async def session_revoke(
        self, info: Info, input: SessionRevokeInput | None = None
    ) -> SessionRevokePayload:
        token = input.token if input else None
        outcome = await resolve.sign_out(info.context, token=token)
        return SessionRevokePayload(
            revoked=outcome.value is True, user_errors=user_errors(outcome.problems)
        )

    @strawberry.mutation(
        description="Invite someone by e-mail (admins).", extensions=requires(Role.ADMIN)
    )
    async def user_invite(self, info: Info, input: UserInviteInput) -> UserInvitePayload:
        outcome = await resolve.invite(info.context, email=input.email, role=Role(input.role))
        return payload(
            UserInvitePayload,
            outcome,
            invitation=lambda issued: Invitation.of(issued.row),
            token=lambda issued: issued.token,
        )

    @strawberry.mutation(
        description="Rename yourself; admins also change roles and deactivate.",
        extensions=requires(),
    )
    async def user_update(self, info: Info, input: UserUpdateInput) -> UserPayload:
        changes = provided(input, ("name", "role", "active"))
        outcome = await resolve.update_user(info.context, id=input.id, changes=changes)
        return payload(UserPayload, outcome, user=User.of)

    @strawberry.mutation(
        description="Let someone who forgot their password set a new one (admins).",
        extensions=requires(Role.ADMIN),
    )
    async def user_password_reset(
        self, info: Info, input: UserPasswordResetInput
    ) -> UserPasswordResetPayload:
        outcome = await resolve.issue_password_reset(info.context, id=input.id)
        return payload(
            UserPasswordResetPayload,
            outcome,
            token=lambda issued: issued.token,
            expires_at=lambda issued: issued.row.expires_at,
        )

    @strawberry.mutation(description="Set a new password with a reset token; all old sessions end.")
    async def password_reset(self, info: Info, input: PasswordResetInput) -> SessionPayload:
        return _session_payload(
            await resolve.reset_password(
                info.context, token=input.token, new_password=input.new_password
            )
        )

    @strawberry.mutation(
        description="Change your password; your other sessions are signed out.",
        extensions=requires(),
    )
    async def password_change(self, info: Info, input: PasswordChangeInput) -> UserPayload:
        outcome = await resolve.change_password(
            info.context,
            current_password=input.current_password,
            new_password=input.new_password,
        )
        return payload(UserPayload, outcome, user=User.of)

    @strawberry.mutation(description="Create an API key that acts as you.", extensions=requires())
    async def api_key_create(self, info: Info, input: ApiKeyCreateInput) -> ApiKeyCreatePayload:
        outcome = await resolve.create_api_key(
            info.context, name=input.name, expires_at=input.expires_at
        )
        return payload(
            ApiKeyCreatePayload,
            outcome,
            api_key=lambda issued: ApiKey.of(issued.row),
            token=lambda issued: issued.token,
        )

    @strawberry.mutation(
        description="Revoke an API key (yours, or anyone's for admins).", extensions=requires()
    )
    async def api_key_revoke(self, info: Info, input: ApiKeyRevokeInput) -> ApiKeyPayload:
        outcome = await resolve.revoke_api_key(info.context, id=input.id)
        return payload(ApiKeyPayload, outcome, api_key=ApiKey.of)

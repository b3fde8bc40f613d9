"""Users, sign-up and sign-in, invitations and API keys."""

from datetime import datetime

import strawberry
from strawberry import Info

from models.users import ApiKey as ApiKeyModel
from models.users import Invitation as InvitationModel
from models.users import Role as RoleModel
from models.users import User as UserModel
from resolvers.context import Context
from schema import cost
from schema.common import Node, UserError, context, node_type, user_errors, user_errors_field
from services import auth, users
from services.ids import decode_id, encode_id

Role = strawberry.enum(RoleModel, description="What a user may do.")


@node_type(UserModel, visible=users.may_see)
@strawberry.type
class User(Node):
    email: str
    name: str
    role: Role  # type: ignore[valid-type]
    active: bool
    created_at: datetime
    _model: strawberry.Private[UserModel]

    @classmethod
    def of(cls, model: UserModel) -> "User":
        assert model.id is not None
        return cls(
            id=strawberry.ID(encode_id("User", model.id)),
            email=model.email,
            name=model.name,
            role=RoleModel(model.role),
            active=model.active,
            created_at=model.created_at,
            _model=model,
        )

    @strawberry.field(
        description="API keys of this user (yourself, or anyone for admins).",
        metadata=cost.typical(10),
    )
    async def api_keys(self, info: Info) -> list["ApiKey"]:
        viewer = await context(info).require()
        if viewer.id != self._model.id and viewer.role != RoleModel.ADMIN:
            return []
        assert self._model.id is not None
        return [ApiKey.of(k) for k in await context(info).loaders.api_keys.load(self._model.id)]


async def visible_user(ctx: Context, user_id: int) -> User | None:
    """A user by id, if the viewer may see them (services.users.may_see)."""
    viewer = await ctx.require()
    model = await ctx.loaders.user.load(user_id)
    return User.of(model) if model is not None and users.may_see(viewer, model) else None


@node_type(ApiKeyModel, visible=auth.may_see_api_key)
@strawberry.type
class ApiKey(Node):
    name: str
    prefix: str = strawberry.field(
        description="The first characters of the key, to tell keys apart."
    )
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, model: ApiKeyModel) -> "ApiKey":
        assert model.id is not None
        return cls(
            id=strawberry.ID(encode_id("ApiKey", model.id)),
            name=model.name,
            prefix=model.prefix,
            created_at=model.created_at,
            expires_at=model.expires_at,
            revoked_at=model.revoked_at,
        )


@strawberry.type
class Invitation:
    email: str
    role: Role  # type: ignore[valid-type]
    expires_at: datetime

    @classmethod
    def of(cls, model: InvitationModel) -> "Invitation":
        return cls(email=model.email, role=RoleModel(model.role), expires_at=model.expires_at)


# --- inputs and payloads -----------------------------------------------------------------------


@strawberry.input
class SignUpInput:
    email: str
    password: str
    name: str
    invitation_token: str | None = strawberry.field(
        default=None, description="Needed for everyone but the first user of an empty install."
    )


@strawberry.type
class SessionPayload:
    user: User | None = None
    token: str | None = strawberry.field(
        default=None, description="Send as `Authorization: Bearer <token>`. Shown only once."
    )
    expires_at: datetime | None = None
    user_errors: list[UserError] = user_errors_field()


@strawberry.input
class SessionCreateInput:
    email: str
    password: str


@strawberry.input
class SessionRevokeInput:
    token: str | None = strawberry.field(
        default=None, description="The session to end; the current one when omitted."
    )


@strawberry.type
class SessionRevokePayload:
    revoked: bool = False
    user_errors: list[UserError] = user_errors_field()


@strawberry.input
class UserInviteInput:
    email: str
    role: Role = RoleModel.MEMBER  # type: ignore[valid-type]


@strawberry.type
class UserInvitePayload:
    invitation: Invitation | None = None
    token: str | None = strawberry.field(
        default=None, description="The invitation token for signUp. Shown only once."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.input
class UserUpdateInput:
    id: strawberry.ID
    name: str | None = None
    role: Role | None = None  # type: ignore[valid-type]
    active: bool | None = None


@strawberry.type
class UserPayload:
    user: User | None = None
    user_errors: list[UserError] = user_errors_field()


@strawberry.input
class UserPasswordResetInput:
    id: strawberry.ID


@strawberry.type
class UserPasswordResetPayload:
    token: str | None = strawberry.field(
        default=None, description="Give it to the user for passwordReset. Shown only once."
    )
    expires_at: datetime | None = None
    user_errors: list[UserError] = user_errors_field()


@strawberry.input
class PasswordResetInput:
    token: str
    new_password: str


@strawberry.input
class PasswordChangeInput:
    current_password: str
    new_password: str


@strawberry.input
class ApiKeyCreateInput:
    name: str
    expires_at: datetime | None = None


@strawberry.type
class ApiKeyCreatePayload:
    api_key: ApiKey | None = None
    token: str | None = strawberry.field(
        default=None, description="The key itself, for `Authorization: Bearer`. Shown only once."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.input
class ApiKeyRevokeInput:
    id: strawberry.ID


@strawberry.type
class ApiKeyPayload:
    api_key: ApiKey | None = None
    user_errors: list[UserError] = user_errors_field()


# --- operations --------------------------------------------------------------------------------


@strawberry.type
class UserQuery:
    @strawberry.field(description="The signed-in user, or null when anonymous.")
    async def me(self, info: Info) -> User | None:
        viewer = await context(info).viewer_or_none()
        return User.of(viewer.user) if viewer else None

    @strawberry.field(
        description="Everyone who can be assigned work, by name. Deactivated users are left out "
        "unless an admin passes includeInactive: true; only admins ever see them.",
        metadata=cost.typical(50),
    )
    async def users(self, info: Info, include_inactive: bool = False) -> list[User]:
        ctx = context(info)
        viewer = await ctx.require()
        rows = await ctx.read(
            lambda s: users.list_users(s, viewer=viewer, include_inactive=include_inactive)
        )
        return [User.of(u) for u in rows]


@strawberry.type
class UserMutation:
    @strawberry.mutation(
        description="Create an account; the first one of an empty install is ADMIN."
    )
    async def sign_up(self, info: Info, input: SignUpInput) -> SessionPayload:
        ctx = context(info)
        outcome = await ctx.mutate(
            lambda s: auth.sign_up(
                s,
                ctx.settings,
                ctx.passwords,
                email=input.email,
                password=input.password,
                name=input.name,
                invitation_token=input.invitation_token,
            )
        )
        if outcome.value is None:
            return SessionPayload(user_errors=user_errors(outcome.problems))
        user, token, expires_at = outcome.value
        return SessionPayload(user=User.of(user), token=token, expires_at=expires_at)

    @strawberry.mutation(description="Sign in with e-mail and password.")
    async def session_create(self, info: Info, input: SessionCreateInput) -> SessionPayload:
        ctx = context(info)
        check = await ctx.read(
            lambda s: auth.check_password_for(
                s, ctx.passwords, email=input.email, password=input.password, client=ctx.client
            )
        )
        if check.refusal is not None:
            return SessionPayload(user_errors=user_errors([check.refusal]))
        outcome = await ctx.mutate(lambda s: auth.sign_in(s, ctx.settings, check))
        result = outcome.value
        assert result is not None
        if result.problem is not None:
            return SessionPayload(user_errors=user_errors([result.problem]))
        assert result.user is not None
        return SessionPayload(
            user=User.of(result.user), token=result.token, expires_at=result.expires_at
        )

    @strawberry.mutation(description="Sign out.")
    async def session_revoke(
        self, info: Info, input: SessionRevokeInput | None = None
    ) -> SessionRevokePayload:
        ctx = context(info)
        viewer = await ctx.require()
        token = input.token if input else None
        outcome = await ctx.mutate(lambda s: auth.revoke_session(s, viewer=viewer, token=token))
        return SessionRevokePayload(
            revoked=not outcome.problems, user_errors=user_errors(outcome.problems)
        )

    @strawberry.mutation(description="Invite someone by e-mail (admins).")
    async def user_invite(self, info: Info, input: UserInviteInput) -> UserInvitePayload:
        ctx = context(info)
        viewer = await ctx.require(RoleModel.ADMIN)
        outcome = await ctx.mutate(
            lambda s: auth.invite(
                s, ctx.settings, viewer=viewer, email=input.email, role=RoleModel(input.role)
            )
        )
        if outcome.value is None:
            return UserInvitePayload(user_errors=user_errors(outcome.problems))
        invitation, token = outcome.value
        return UserInvitePayload(invitation=Invitation.of(invitation), token=token)

    @strawberry.mutation(description="Rename yourself; admins also change roles and deactivate.")
    async def user_update(self, info: Info, input: UserUpdateInput) -> UserPayload:
        ctx = context(info)
        viewer = await ctx.require()
        user_id = decode_id(input.id, "User")
        outcome = await ctx.mutate(
            lambda s: users.update_user(
                s,
                viewer=viewer,
                user_id=user_id,
                name=input.name,
                role=RoleModel(input.role) if input.role is not None else None,
                active=input.active,
            )
        )
        user = User.of(outcome.value) if outcome.value else None
        return UserPayload(user=user, user_errors=user_errors(outcome.problems))

    @strawberry.mutation(
        description="Let someone who forgot their password set a new one (admins)."
    )
    async def user_password_reset(
        self, info: Info, input: UserPasswordResetInput
    ) -> UserPasswordResetPayload:
        ctx = context(info)
        viewer = await ctx.require(RoleModel.ADMIN)
        user_id = decode_id(input.id, "User")
        outcome = await ctx.mutate(
            lambda s: auth.issue_password_reset(s, ctx.settings, viewer=viewer, user_id=user_id)
        )
        if outcome.value is None:
            return UserPasswordResetPayload(user_errors=user_errors(outcome.problems))
        reset, token = outcome.value
        return UserPasswordResetPayload(token=token, expires_at=reset.expires_at)

    @strawberry.mutation(description="Set a new password with a reset token; all old sessions end.")
    async def password_reset(self, info: Info, input: PasswordResetInput) -> SessionPayload:
        ctx = context(info)
        outcome = await ctx.mutate(
            lambda s: auth.reset_password(
                s, ctx.settings, ctx.passwords, token=input.token, new_password=input.new_password
            )
        )
        if outcome.value is None:
            return SessionPayload(user_errors=user_errors(outcome.problems))
        user, token, expires_at = outcome.value
        return SessionPayload(user=User.of(user), token=token, expires_at=expires_at)

    @strawberry.mutation(description="Change your password; your other sessions are signed out.")
    async def password_change(self, info: Info, input: PasswordChangeInput) -> UserPayload:
        ctx = context(info)
        viewer = await ctx.require()
        outcome = await ctx.mutate(
            lambda s: auth.change_password(
                s,
                ctx.settings,
                ctx.passwords,
                viewer=viewer,
                current_password=input.current_password,
                new_password=input.new_password,
            )
        )
        user = User.of(outcome.value) if outcome.value else None
        return UserPayload(user=user, user_errors=user_errors(outcome.problems))

    @strawberry.mutation(description="Create an API key that acts as you.")
    async def api_key_create(self, info: Info, input: ApiKeyCreateInput) -> ApiKeyCreatePayload:
        ctx = context(info)
        viewer = await ctx.require()
        outcome = await ctx.mutate(
            lambda s: auth.create_api_key(
                s, viewer=viewer, name=input.name, expires_at=input.expires_at
            )
        )
        if outcome.value is None:
            return ApiKeyCreatePayload(user_errors=user_errors(outcome.problems))
        api_key, token = outcome.value
        return ApiKeyCreatePayload(api_key=ApiKey.of(api_key), token=token)

    @strawberry.mutation(description="Revoke an API key (yours, or anyone's for admins).")
    async def api_key_revoke(self, info: Info, input: ApiKeyRevokeInput) -> ApiKeyPayload:
        ctx = context(info)
        viewer = await ctx.require()
        key_id = decode_id(input.id, "ApiKey")
        outcome = await ctx.mutate(
            lambda s: auth.revoke_api_key(s, viewer=viewer, api_key_id=key_id)
        )
        api_key = ApiKey.of(outcome.value) if outcome.value else None
        return ApiKeyPayload(api_key=api_key, user_errors=user_errors(outcome.problems))

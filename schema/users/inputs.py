"""What clients send to manage accounts, and the payloads they get back."""

from datetime import datetime

import strawberry

from models.users import Role
from schema.common import UserError, user_errors_field
from schema.users.types import ApiKey, Invitation, User


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
    role: Role = Role.MEMBER


@strawberry.type
class UserInvitePayload:
    invitation: Invitation | None = None
    token: str | None = strawberry.field(
        default=None, description="The invitation token for signUp. Shown only once."
    )
    user_errors: list[UserError] = user_errors_field()


@strawberry.input(description="Omitted fields stay as they are.")
class UserUpdateInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    role: Role | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


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

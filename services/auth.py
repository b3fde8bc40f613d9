"""Accounts and credentials: passwords, sessions, API keys, invitations, sign-in throttling.

Bearer tokens are random and high-entropy, so a SHA-256 of them is enough to store; only the
person who receives a token ever sees it. Passwords use argon2, hashed off the event loop.
"""

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import CursorResult, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.types import utcnow
from models.users import (
    ApiKey,
    AuthSession,
    Invitation,
    PasswordReset,
    Role,
    User,
)
from services import mail, throttle
from services.errors import AuthError, ErrorCode, Problem, UserFacingError, not_found
from services.passwords import PasswordHashing
from services.settings import Settings
from services.throttle import Attempt
from services.values import MAX_EMAIL_LENGTH, is_email, to_utc

SESSION_PREFIX = "crm_s_"
API_KEY_PREFIX = "crm_k_"
INVITATION_PREFIX = "crm_i_"
RESET_PREFIX = "crm_r_"
WRONG_CREDENTIALS = "The e-mail address or password is wrong"
R = TypeVar("R")


@dataclass(frozen=True)
class NewSession:
    """A session just opened: its token is shown once, to whoever signed in."""

    user: User
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class Issued(Generic[R]):
    """A row with a secret (invitation, reset token, API key) shown once, to its issuer."""

    row: R
    token: str


@dataclass(frozen=True)
class Viewer:
    """Who is asking: the signed-in user and the credential they used."""

    user: User
    session_id: int | None = None
    api_key_id: int | None = None

    @property
    def id(self) -> int:
        assert self.user.id is not None
        return self.user.id

    @property
    def role(self) -> Role:
        return Role(self.user.role)


def token_from_authorization(value: str | None) -> str | None:
    """The token in an `Authorization: Bearer <token>` value (HTTP header, or the same value in
    a WebSocket connection's first message)."""
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str, field: str = "email") -> str:
    normalized = normalize_email(email)
    if not is_email(normalized):
        shown = email if len(email) <= 80 else email[:80] + "…"
        raise UserFacingError.one(f"{shown!r} is not an e-mail address", field=[field])
    return normalized


def check_password(password: str, settings: Settings) -> None:
    if len(password) < settings.password_min_length:
        raise UserFacingError.one(
            f"The password must be at least {settings.password_min_length} characters long",
            field=["password"],
        )
    if len(password) > 1024:
        raise UserFacingError.one("The password is longer than 1024 characters", field=["password"])


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise UserFacingError.one("The name must be 1 to 200 characters long", field=["name"])
    return name


# --- who is asking -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _CredentialKind:
    """A kind of bearer token: where it is stored, and what to say when it does not work."""

    table: type[ApiKey] | type[AuthSession]
    unknown: str
    revoked: str
    expired: str


_API_KEYS = _CredentialKind(
    ApiKey, "The API key is not valid", "The API key has been revoked", "The API key has expired"
)
_SESSIONS = _CredentialKind(
    AuthSession,
    "The session token is not valid; sign in again",
    "The session has been signed out; sign in again",
    "The session has expired; sign in again",
)


async def authenticate(session: AsyncSession, token: str) -> Viewer:
    """The viewer a bearer token (a session token or an API key) belongs to, or AuthError."""
    kind = _API_KEYS if token.startswith(API_KEY_PREFIX) else _SESSIONS
    table = kind.table
    found = (
        await session.execute(
            select(table, User)
            .join(User, col(User.id) == table.user_id)
            .where(col(table.token_hash) == hash_token(token))
        )
    ).first()
    if found is None:
        raise AuthError(kind.unknown)
    credential = cast(ApiKey | AuthSession, found[0])
    user: User = found[1]
    if not user.active:
        raise AuthError("The account is deactivated")
    if credential.revoked_at is not None:
        raise AuthError(kind.revoked)
    if credential.expires_at is not None and credential.expires_at <= utcnow():
        raise AuthError(kind.expired)
    if isinstance(credential, ApiKey):
        return Viewer(user=user, api_key_id=credential.id)
    return Viewer(user=user, session_id=credential.id)


# --- sign up and invitations -------------------------------------------------------------------


async def _lock_sign_up(session: AsyncSession) -> None:
    # Two simultaneous sign-ups on an empty install must not both become ADMIN. SQLite already
    # serialises writers (BEGIN IMMEDIATE); PostgreSQL takes a transaction-scoped lock.
    if (await session.connection()).dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(7261001)"))


async def sign_up(
    session: AsyncSession,
    settings: Settings,
    passwords: PasswordHashing,
    *,
    email: str,
    password: str,
    name: str,
    invitation_token: str | None,
) -> NewSession:
    """Create an account and sign it in."""
    email = check_email(email)
    name = check_name(name)
    check_password(password, settings)
    await _lock_sign_up(session)
    has_users = (await session.execute(select(func.count()).select_from(User))).scalar_one() > 0
    if not has_users:
        role = Role.ADMIN
    else:
        if not invitation_token:
            raise UserFacingError.one(
                "Sign-up needs an invitation: ask an admin to invite you. If you already "
                "have an account, sign in with sessionCreate",
                code=ErrorCode.FORBIDDEN,
                field=["invitationToken"],
            )
        invitation = await _usable_invitation(session, invitation_token)
        if invitation.email != email:
            raise UserFacingError.one(
                "The invitation was sent to another e-mail address", field=["email"]
            )
        invitation.accepted_at = utcnow()
        role = Role(invitation.role)
    if await _user_by_email(session, email) is not None:
        raise UserFacingError.one(
            "An account with this e-mail address already exists",
            code=ErrorCode.DUPLICATE,
            field=["email"],
        )
    user = User(email=email, name=name, password_hash=await passwords.hash(password), role=role)
    session.add(user)
    await session.flush()
    return await _start_session(session, settings, user)


async def _usable_invitation(session: AsyncSession, token: str) -> Invitation:
    invitation = (
        await session.execute(
            select(Invitation).where(col(Invitation.token_hash) == hash_token(token))
        )
    ).scalar_one_or_none()
    if invitation is None:
        raise UserFacingError.one(
            "The invitation token is not valid", code=ErrorCode.NOT_FOUND, field=["invitationToken"]
        )
    if invitation.accepted_at is not None:
        raise UserFacingError.one(
            "The invitation has already been used",
            code=ErrorCode.CONFLICT,
            field=["invitationToken"],
        )
    if invitation.expires_at <= utcnow():
        raise UserFacingError.one(
            "The invitation has expired; ask for a new one",
            code=ErrorCode.EXPIRED,
            field=["invitationToken"],
        )
    return invitation


async def _user_by_email(session: AsyncSession, email: str) -> User | None:
    return (
        await session.execute(select(User).where(col(User.email) == email))
    ).scalar_one_or_none()


async def invite(
    session: AsyncSession, settings: Settings, *, viewer: Viewer, email: str, role: Role
) -> Issued[Invitation]:
    email = check_email(email)
    if await _user_by_email(session, email) is not None:
        raise UserFacingError.one(
            "An account with this e-mail address already exists",
            code=ErrorCode.DUPLICATE,
            field=["email"],
        )
    token = new_token(INVITATION_PREFIX)
    invitation = Invitation(
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by_id=viewer.id,
        expires_at=utcnow() + timedelta(hours=settings.invitation_ttl_hours),
    )
    session.add(invitation)
    await session.flush()
    await mail.queue_invitation(
        session, settings, invitation=invitation, token=token, invited_by=viewer.user
    )
    return Issued(invitation, token)


# --- sessions ----------------------------------------------------------------------------------


async def _start_session(session: AsyncSession, settings: Settings, user: User) -> NewSession:
    assert user.id is not None
    token = new_token(SESSION_PREFIX)
    expires_at = utcnow() + timedelta(hours=settings.session_ttl_hours)
    session.add(AuthSession(user_id=user.id, token_hash=hash_token(token), expires_at=expires_at))
    await session.flush()
    return NewSession(user, token, expires_at)


@dataclass(frozen=True)
class PasswordCheck:
    """The read-only half of a sign-in: whose address it is and whether the password fits."""

    attempt: Attempt
    user_id: int | None = None
    valid: bool = False
    # Set when the attempt was refused before its password was checked: a block holds until
    # its time is up, so there is nothing to record.
    refusal: Problem | None = None


async def check_password_for(
    session: AsyncSession, passwords: PasswordHashing, *, email: str, password: str, client: str
) -> PasswordCheck:
    """Look the address up and verify the password, outside any write transaction: argon2
    takes a noticeable fraction of a second, and on SQLite a write transaction would hold every
    other writer for that long."""
    attempt = Attempt(normalize_email(email), client)
    if len(attempt.email) > MAX_EMAIL_LENGTH:
        return PasswordCheck(attempt)
    if (refusal := (await throttle.read_counts(session, attempt)).refusal(utcnow())) is not None:
        return PasswordCheck(attempt, refusal=refusal)
    passwords.ensure_room()  # before the user is looked up: a refusal should cost nothing
    user = await _user_by_email(session, attempt.email)
    valid = await passwords.verify(user.password_hash if user else None, password)
    return PasswordCheck(attempt, user.id if user else None, valid)


async def sign_in(
    session: AsyncSession, settings: Settings, check: PasswordCheck
) -> NewSession | Problem:
    """Record a sign-in attempt and open a session if it succeeded.

    Attempts that share a failure count are recorded one after another (services/throttle.py),
    so every failure counts and a block applies even to guesses checked at the same moment.
    Failures are returned, not raised: the failed attempt must be committed.
    """
    now = utcnow()
    wrong = Problem(WRONG_CREDENTIALS, ErrorCode.INVALID_CREDENTIALS)
    if len(check.attempt.email) > MAX_EMAIL_LENGTH:
        return wrong  # no account has such an address; nothing to throttle or store
    counts = await throttle.locked_counts(session, check.attempt)
    if (refusal := counts.refusal(now)) is not None:
        return refusal
    user = await session.get(User, check.user_id) if check.user_id is not None else None
    # A deactivated account answers like a wrong password, so that the answer does not tell
    # whether the password was right.
    if user is None or not check.valid or not user.active:
        counts.record_failure(settings, now)
        await throttle.forget_old_failures(session, now)
        return wrong
    counts.record_success(now)
    return await _start_session(session, settings, user)


async def change_password(
    session: AsyncSession,
    settings: Settings,
    passwords: PasswordHashing,
    *,
    viewer: Viewer,
    current_password: str,
    new_password: str,
) -> User:
    """Change one's own password; every other session of the account is signed out."""
    if viewer.api_key_id is not None:
        raise AuthError("Sign in with a password to change it", "FORBIDDEN")
    user = await session.get(User, viewer.id)
    if user is None:
        raise not_found("The user", ["id"])
    if not await passwords.verify(user.password_hash, current_password):
        raise UserFacingError.one(
            "The current password is wrong",
            code=ErrorCode.INVALID_CREDENTIALS,
            field=["currentPassword"],
        )
    try:
        check_password(new_password, settings)
    except UserFacingError as exc:
        raise UserFacingError.one(exc.problems[0].message, field=["newPassword"]) from None
    user.password_hash = await passwords.hash(new_password)
    user.updated_at = utcnow()
    await revoke_sessions_of(session, viewer.id, keep=viewer.session_id)
    await session.flush()
    return user


async def issue_password_reset(
    session: AsyncSession, settings: Settings, *, viewer: Viewer, user_id: int
) -> Issued[PasswordReset]:
    """An admin lets someone who forgot their password set a new one (token shown once)."""
    user = await session.get(User, user_id)
    if user is None:
        raise not_found("The user", ["id"])
    if not user.active:
        raise UserFacingError.one(
            "The account is deactivated; reactivate it first", code=ErrorCode.CONFLICT, field=["id"]
        )
    token = new_token(RESET_PREFIX)
    reset = PasswordReset(
        user_id=user_id,
        token_hash=hash_token(token),
        created_by_id=viewer.id,
        expires_at=utcnow() + timedelta(hours=settings.password_reset_ttl_hours),
    )
    session.add(reset)
    await session.flush()
    await mail.queue_password_reset(session, settings, user=user, reset=reset, token=token)
    return Issued(reset, token)


async def reset_password(
    session: AsyncSession,
    settings: Settings,
    passwords: PasswordHashing,
    *,
    token: str,
    new_password: str,
) -> NewSession:
    """Set a new password with a reset token; every old session and API key ends (whoever
    may have had them), and a new session starts."""
    reset = (
        await session.execute(
            select(PasswordReset)
            .where(col(PasswordReset.token_hash) == hash_token(token))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if reset is None:
        raise UserFacingError.one(
            "The reset token is not valid", code=ErrorCode.NOT_FOUND, field=["token"]
        )
    if reset.used_at is not None:
        raise UserFacingError.one(
            "The reset token has already been used", code=ErrorCode.CONFLICT, field=["token"]
        )
    if reset.expires_at <= utcnow():
        raise UserFacingError.one(
            "The reset token has expired; ask an admin for a new one",
            code=ErrorCode.EXPIRED,
            field=["token"],
        )
    try:
        check_password(new_password, settings)
    except UserFacingError as exc:
        raise UserFacingError.one(exc.problems[0].message, field=["newPassword"]) from None
    user = await session.get(User, reset.user_id)
    if user is None or not user.active:
        raise UserFacingError.one("The account is deactivated", field=["token"])
    reset.used_at = utcnow()
    user.password_hash = await passwords.hash(new_password)
    user.updated_at = utcnow()
    assert user.id is not None
    await revoke_access_of(session, user.id)
    await throttle.forget_account(session, user.email)
    return await _start_session(session, settings, user)


async def revoke_access_of(session: AsyncSession, user_id: int) -> None:
    """End every session and API key of a user, for good: reactivating the account or setting
    a new password brings none of them back."""
    await revoke_sessions_of(session, user_id)
    await session.execute(
        update(ApiKey)
        .where(col(ApiKey.user_id) == user_id, col(ApiKey.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_sessions_of(session: AsyncSession, user_id: int, keep: int | None = None) -> None:
    """Sign a user out everywhere (but for the session `keep`)."""
    query = update(AuthSession).where(
        col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None)
    )
    if keep is not None:
        query = query.where(col(AuthSession.id) != keep)
    await session.execute(query.values(revoked_at=utcnow()))


async def revoke_session(session: AsyncSession, *, viewer: Viewer, token: str | None) -> None:
    """Sign out: the given session token, or the one making the request."""
    if token is not None:
        query = update(AuthSession).where(
            col(AuthSession.token_hash) == hash_token(token),
            col(AuthSession.user_id) == viewer.id,
        )
    elif viewer.session_id is not None:
        query = update(AuthSession).where(col(AuthSession.id) == viewer.session_id)
    else:
        raise UserFacingError.one(
            "This request uses an API key; pass the session token to revoke", field=["token"]
        )
    result = await session.execute(
        query.where(col(AuthSession.revoked_at).is_(None)).values(revoked_at=utcnow())
    )
    if cast(CursorResult[Any], result).rowcount == 0:
        raise not_found("The session", ["token"])


# --- API keys ----------------------------------------------------------------------------------


async def create_api_key(
    session: AsyncSession, *, viewer: Viewer, name: str, expires_at: datetime | None
) -> Issued[ApiKey]:
    if viewer.api_key_id is not None:
        raise AuthError("An API key cannot create API keys; sign in with a password", "FORBIDDEN")
    name = check_name(name)
    if expires_at is not None and expires_at.tzinfo is None:
        raise UserFacingError.one(
            "The expiry needs a time zone, for example 2027-01-01T00:00:00Z", field=["expiresAt"]
        )
    if expires_at is not None:
        try:
            expires_at = to_utc(expires_at)
        except ValueError as exc:
            raise UserFacingError.one(str(exc), field=["expiresAt"]) from None
        if expires_at <= utcnow():
            raise UserFacingError.one("The expiry must lie in the future", field=["expiresAt"])
    token = new_token(API_KEY_PREFIX)
    api_key = ApiKey(
        user_id=viewer.id,
        name=name,
        prefix=token[: len(API_KEY_PREFIX) + 6],
        token_hash=hash_token(token),
        expires_at=expires_at,
    )
    session.add(api_key)
    await session.flush()
    return Issued(api_key, token)


async def revoke_api_key(session: AsyncSession, *, viewer: Viewer, api_key_id: int) -> ApiKey:
    api_key = await session.get(ApiKey, api_key_id)
    # Admins may revoke anyone's key; others only their own.
    if api_key is None or (api_key.user_id != viewer.id and viewer.role != Role.ADMIN):
        raise not_found("The API key", ["id"])
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
    return api_key


def may_see_api_key(viewer: Viewer, api_key: ApiKey) -> bool:
    """Keys are seen by their owner and by admins."""
    return api_key.user_id == viewer.id or viewer.role == Role.ADMIN


async def api_keys_of(session: AsyncSession, user_ids: Sequence[int]) -> list[ApiKey]:
    rows = await session.execute(
        select(ApiKey).where(col(ApiKey.user_id).in_(user_ids)).order_by(col(ApiKey.id))
    )
    return list(rows.scalars())

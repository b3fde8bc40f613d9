"""Sign-in throttling: failed sign-ins slow guessing down without letting a guesser lock a user
out.

Failures are counted three ways, in the database so that every worker shares them:
- an account from one client (network address): strict, `CRM_LOGIN_MAX_FAILURES`, then blocks
  that double from `CRM_LOGIN_BLOCK_SECONDS` up to 15 minutes;
- an account from all clients together: soft, `CRM_LOGIN_ACCOUNT_MAX_FAILURES`;
- a client across all accounts (spraying one password over many addresses, or burning CPU with
  random ones): `CRM_LOGIN_CLIENT_MAX_FAILURES`.
A client that signed in to an account in the last 30 days is held back only by its own
account-and-client count: someone guessing from elsewhere cannot keep the user out. A refused
attempt costs no password check and does not count.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models.types import utcnow
from models.users import LoginThrottle
from services.errors import ErrorCode, Problem
from services.locks import is_postgresql
from services.settings import Settings

MAX_BLOCK = timedelta(minutes=15)
# Records nobody touched for this long are dropped, so guesses at random addresses cannot grow
# the table without bound.
FAILURE_MEMORY = timedelta(days=1)
TRUST_AFTER_SIGN_IN = timedelta(days=30)
ANY = ""  # the e-mail address or client of a count that covers all of them


@dataclass(frozen=True)
class Attempt:
    email: str
    client: str

    @property
    def keys(self) -> list[tuple[str, str]]:
        """The (email, client) keys of its three counts, in the order they are locked."""
        return sorted({(self.email, self.client), (self.email, ANY), (ANY, self.client)})


@dataclass
class Counts:
    """The three failure counts of an attempt."""

    pair: LoginThrottle
    account: LoginThrottle
    client: LoginThrottle

    def refusal(self, now: datetime) -> Problem | None:
        """Why the attempt is refused without checking the password, if it is."""
        trusted = self.pair.trusted_until is not None and self.pair.trusted_until > now
        scopes = [(self.pair, "for this e-mail address from your network")]
        if not trusted:
            scopes += [
                (self.account, "for this e-mail address"),
                (self.client, "from your network"),
            ]
        for row, scope in scopes:
            if row.blocked_until is not None and row.blocked_until > now:
                wait = int((row.blocked_until - now).total_seconds()) + 1
                return Problem(
                    f"Too many failed sign-ins {scope}; try again in {wait} seconds",
                    ErrorCode.TOO_MANY_ATTEMPTS,
                    ("email",),
                )
        return None

    def record_failure(self, settings: Settings, now: datetime) -> None:
        for row, limit in (
            (self.pair, settings.login_max_failures),
            (self.account, settings.login_account_max_failures),
            (self.client, settings.login_client_max_failures),
        ):
            row.failures += 1
            row.updated_at = now
            excess = row.failures - limit
            if excess >= 0:
                block = timedelta(seconds=settings.login_block_seconds * 2 ** min(excess, 10))
                row.blocked_until = now + min(block, MAX_BLOCK)

    def record_success(self, now: datetime) -> None:
        for row in (self.pair, self.account):
            row.failures = 0
            row.blocked_until = None
            row.updated_at = now
        self.pair.trusted_until = now + TRUST_AFTER_SIGN_IN


def _counts(attempt: Attempt, rows: list[LoginThrottle]) -> Counts:
    found = {(row.email, row.client): row for row in rows}

    def row(email: str, client: str) -> LoginThrottle:
        return found.get((email, client)) or LoginThrottle(email=email, client=client)

    return Counts(
        pair=row(attempt.email, attempt.client),
        account=row(attempt.email, ANY),
        client=row(ANY, attempt.client),
    )


def _where(attempt: Attempt) -> ColumnElement[bool]:
    return tuple_(col(LoginThrottle.email), col(LoginThrottle.client)).in_(attempt.keys)


async def read_counts(session: AsyncSession, attempt: Attempt) -> Counts:
    """The counts as they stand, for a quick refusal before the password is checked."""
    rows = await session.execute(select(LoginThrottle).where(_where(attempt)))
    return _counts(attempt, list(rows.scalars()))


async def locked_counts(session: AsyncSession, attempt: Attempt) -> Counts:
    """The counts, created if missing and locked until the transaction ends.

    Attempts that share a count queue behind each other (PostgreSQL row locks, always taken in
    the same order; SQLite runs one writer at a time), so parallel guesses cannot all read the
    same count and slip through.
    """
    insert = postgresql_insert if await is_postgresql(session) else sqlite_insert
    now = utcnow()
    await session.execute(
        insert(LoginThrottle)
        .values(
            [{"email": e, "client": c, "failures": 0, "updated_at": now} for e, c in attempt.keys]
        )
        .on_conflict_do_nothing(index_elements=["email", "client"])
    )
    rows = await session.execute(
        select(LoginThrottle)
        .where(_where(attempt))
        .order_by(col(LoginThrottle.email), col(LoginThrottle.client))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return _counts(attempt, list(rows.scalars()))


async def forget_old_failures(session: AsyncSession, now: datetime) -> None:
    await session.flush()  # the counts just recorded are not old, whatever the table says
    await session.execute(
        delete(LoginThrottle).where(
            col(LoginThrottle.updated_at) < now - FAILURE_MEMORY,
            or_(col(LoginThrottle.blocked_until).is_(None), col(LoginThrottle.blocked_until) < now),
            or_(col(LoginThrottle.trusted_until).is_(None), col(LoginThrottle.trusted_until) < now),
        )
    )


async def forget_account(session: AsyncSession, email: str) -> None:
    """Drop the failure counts of an account (its password was just reset)."""
    await session.execute(delete(LoginThrottle).where(col(LoginThrottle.email) == email))

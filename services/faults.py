"""Database failures that are nobody's bug: a lost connection, a full disk, a read-only or
unmigrated database, writers colliding. They become errors a client can act on (UNAVAILABLE:
try again later) instead of "Internal server error"."""

import sqlite3
from enum import Enum

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from services.errors import RetryableError, unavailable

# PostgreSQL SQLSTATEs by class or code.
_PG_LOST = ("08", "57P01", "57P02", "57P03")  # connection exceptions, server shut down
_PG_OUT_OF_SPACE = ("53",)  # insufficient resources: disk full, out of memory, too many conns
_PG_READ_ONLY = ("25006",)
_PG_COLLISION = ("40001", "40P01")  # serialization failure, deadlock: safe to run again
_PG_NOT_MIGRATED = ("42P01", "42703")  # undefined table, undefined column
_SQLITE = {
    "SQLITE_FULL": "OUT_OF_SPACE",
    "SQLITE_READONLY": "READ_ONLY",
    "SQLITE_BUSY": "BUSY",
    "SQLITE_LOCKED": "BUSY",
    "SQLITE_IOERR": "LOST_CONNECTION",
    "SQLITE_CANTOPEN": "LOST_CONNECTION",
}


class Fault(Enum):
    LOST_CONNECTION = "the database cannot be reached"
    OUT_OF_SPACE = "the database is out of space"
    READ_ONLY = "the database is read-only at the moment"
    BUSY = "the database is busy"
    COLLISION = "the change collided with others at the same moment"
    NOT_MIGRATED = (
        "the database schema is not up to date: an operator must run `alembic upgrade head`"
    )

    def error(self, *, writing: bool, maybe_saved: bool = False) -> RetryableError:
        """The error a client sees: what happened, and whether anything was written."""
        if maybe_saved:
            outcome = "the change may or may not have been saved: check before trying again"
        elif writing:
            outcome = "nothing was saved; try again shortly"
        else:
            outcome = "try again shortly"
        text = self.value[0].upper() + self.value[1:]
        return unavailable(f"{text}; {outcome}", retry_after=30 if self.lasting else 2)

    @property
    def lasting(self) -> bool:
        """Faults that an operator has to mend, as opposed to a passing moment."""
        return self in (Fault.OUT_OF_SPACE, Fault.READ_ONLY, Fault.NOT_MIGRATED)


def fault_of(exc: BaseException) -> Fault | None:
    """The kind of fault `exc` is, or None when it is not one (then it is a bug, or the
    caller's own business)."""
    if isinstance(exc, PoolTimeoutError):
        return Fault.BUSY
    if isinstance(exc, OSError | ConnectionError):
        return Fault.LOST_CONNECTION  # refused or reset while connecting
    if not isinstance(exc, DBAPIError):
        return None
    if exc.connection_invalidated:
        return Fault.LOST_CONNECTION
    original = exc.orig
    if isinstance(original, sqlite3.Error):
        return _sqlite_fault(original)
    state = str(getattr(original, "sqlstate", None) or getattr(original, "pgcode", None) or "")
    for codes, fault in (
        (_PG_LOST, Fault.LOST_CONNECTION),
        (_PG_OUT_OF_SPACE, Fault.OUT_OF_SPACE),
        (_PG_READ_ONLY, Fault.READ_ONLY),
        (_PG_COLLISION, Fault.COLLISION),
        (_PG_NOT_MIGRATED, Fault.NOT_MIGRATED),
    ):
        if state and state.startswith(codes):
            return fault
    if "connection was closed" in str(original) or "connection is closed" in str(original):
        return Fault.LOST_CONNECTION
    return None


def _sqlite_fault(error: sqlite3.Error) -> Fault | None:
    name = getattr(error, "sqlite_errorname", "") or ""
    for prefix, fault in _SQLITE.items():
        if name.startswith(prefix):
            return Fault[fault]
    message = str(error)
    if message.startswith(("no such table", "no such column")):
        return Fault.NOT_MIGRATED
    if "database or disk is full" in message:
        return Fault.OUT_OF_SPACE
    return None

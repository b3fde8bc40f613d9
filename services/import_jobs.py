"""Imports as background jobs: asked for (checked, saved PENDING with their file in storage),
claimed by a worker of any process, run, and readable with their progress meanwhile.

A worker claims an import with a lease (one conditional UPDATE, which only one worker wins on
either database) and renews it as it goes; an import whose worker died (its lease ran out) is
claimed again: SKIP_INVALID goes on after the last batch that landed, ALL_OR_NOTHING (which
wrote nothing) starts over. The claim's attempt number fences a run: once another worker has
claimed the import, the stalled run's progress and commit are refused. The file is deleted
from storage when the import ends.
"""

import asyncio
import contextlib
import logging
import pickle
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import IO, Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from models.categories import FieldDefinition
from models.db import WRITE_TRANSACTION
from models.imports import ContactImport, ImportMode, ImportState
from models.types import utcnow
from models.users import Role, User
from services import imports
from services.auth import Viewer
from services.categories import fields_of, get_category
from services.contacts import (
    CategoryShape,
    NewCard,
    category_shape,
    checked_details,
    create_contact,
    insert_cards,
    merge_values,
    new_card,
    update_contact,
)
from services.effects import Signals, run_effects, signal_after_commit, take_effects, take_signals
from services.errors import ErrorCode, Problem, UserFacingError, not_found
from services.imports import (
    ColumnMapping,
    Preview,
    Progress,
    ReadingOptions,
    RowReader,
)
from services.spreadsheets.reading import SheetReader, SheetReadError, SheetRow
from services.storage import Storage
from services.values import coerce

logger = logging.getLogger("crm.imports")

IMPORT_TOPIC = "imports"  # the signal that wakes the workers
BATCH_ROWS = 500  # rows per transaction (SKIP_INVALID) and between progress reports
LEASE = timedelta(minutes=2)
POLL_SECONDS = 5.0


# --- asking --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    key: str  # where it is stored
    name: str
    size: int


async def category_fields(session: AsyncSession, category_id: int) -> list[FieldDefinition]:
    await get_category(session, category_id)
    return await fields_of(session, [category_id])


async def preview_import(
    storage: Storage,
    *,
    fields: Sequence[FieldDefinition],
    file: UploadedFile,
    reading: ReadingOptions,
) -> Preview:
    """The file's first rows and a suggested mapping (read outside any transaction)."""
    async with imports.local_copy(storage, file.key) as path:
        return await asyncio.to_thread(imports.read_preview, path, reading, fields)


async def check_file(
    storage: Storage,
    *,
    fields: Sequence[FieldDefinition],
    file: UploadedFile,
    reading: ReadingOptions,
    mapping: Sequence[ColumnMapping],
    upsert_on: str | None,
) -> ReadingOptions:
    """The file's header against the mapping (read outside any transaction); how the file
    reads, as found (format, encoding, delimiter, sheet)."""
    async with imports.local_copy(storage, file.key) as path:
        sheet = await asyncio.to_thread(imports.open_checked, path, reading)
        with sheet:
            found = ReadingOptions(sheet.format, sheet.encoding, sheet.delimiter, sheet.sheet_name)
            imports.check_mapping(sheet.header, mapping, fields, upsert_on)
            return found


async def create_import(
    session: AsyncSession,
    *,
    viewer: Viewer,
    category_id: int,
    file: UploadedFile,
    reading: ReadingOptions,
    mapping: Sequence[ColumnMapping],
    mode: ImportMode,
    upsert_on: str | None,
    zone: str,
) -> ContactImport:
    """Save a checked import to run."""
    try:
        ZoneInfo(zone)
    except (ValueError, KeyError):
        raise UserFacingError.one(f"{zone!r} is not a time zone", field=["timeZone"]) from None
    await get_category(session, category_id)
    job = ContactImport(
        category_id=category_id,
        created_by_id=viewer.id,
        mode=mode,
        file_name=file.name[:255],
        storage_key=file.key,
        size=file.size,
        reading=reading.data(),
        mapping=[{"column": m.column, "field": m.field} for m in mapping],
        upsert_on=upsert_on,
        time_zone=zone,
    )
    session.add(job)
    await session.flush()
    signal_after_commit(session, IMPORT_TOPIC)
    return job


async def import_to_read(session: AsyncSession, viewer: Viewer, import_id: int) -> ContactImport:
    """An import, for the user who asked for it and for admins."""
    job = await session.get(ContactImport, import_id)
    if job is None or (job.created_by_id != viewer.id and viewer.role != Role.ADMIN):
        raise not_found("The import", ["id"])
    return job


# --- claiming ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """An import leased to a worker. `attempt` fences its writes: once another worker has
    claimed the import (its lease ran out), this one's progress and commit are refused."""

    import_id: int
    attempt: int


async def claim(session_factory: async_sessionmaker[AsyncSession], now: datetime) -> Claim | None:
    """The next import to run, now leased to the caller; None when there is none."""
    async with session_factory() as session:
        claimable = or_(
            col(ContactImport.state) == ImportState.PENDING,
            (col(ContactImport.state) == ImportState.RUNNING)
            & (col(ContactImport.lease_until) < now),
        )
        candidates = (
            await session.execute(
                select(col(ContactImport.id))
                .where(claimable)
                .order_by(col(ContactImport.id))
                .limit(5)
            )
        ).scalars()
        candidate_ids = [pk for pk in candidates if pk is not None]
        await session.rollback()
        for import_id in candidate_ids:
            await session.connection(execution_options={WRITE_TRANSACTION: True})
            # Conditional: of two workers, the second finds the row claimed already.
            claimed = await session.execute(
                update(ContactImport)
                .where(col(ContactImport.id) == import_id, claimable)
                .values(
                    state=ImportState.RUNNING,
                    lease_until=now + LEASE,
                    attempts=col(ContactImport.attempts) + 1,
                    started_at=now,
                )
                .returning(col(ContactImport.attempts))
            )
            attempt = claimed.scalar_one_or_none()
            await session.commit()
            if attempt is not None:
                return Claim(import_id, attempt)
    return None


# --- running -----------------------------------------------------------------------------------

MAX_ATTEMPTS = 3  # runs that broke off (a crash, a bug) before the import is given up


class _EndedError(Exception):
    """The import cannot go on: its FAILED message."""


class _ClaimLostError(Exception):
    """Another worker claimed the import: this run stops, and what it had not committed goes."""


class ImportRun:
    """One run of a claimed import."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        storage: Storage,
        signals: Signals,
        claimed: Claim,
    ) -> None:
        self.session_factory = session_factory
        self.storage = storage
        self.signals = signals
        self.import_id = claimed.import_id
        self.attempt = claimed.attempt
        self._analyzed_at: int | None = None  # cards written when `contact` was last analyzed

    async def run(self) -> None:
        async with self.session_factory() as session:
            job = await session.get(ContactImport, self.import_id)
            if job is None:
                return
            user = await session.get(User, job.created_by_id) if job.created_by_id else None
        try:
            if self.attempt > MAX_ATTEMPTS:
                # Its runs ended without a word (a worker killed, out of memory): given up.
                raise _EndedError(f"The import broke off {MAX_ATTEMPTS} times")
            if job.category_id is None:
                raise _EndedError("The category was deleted")
            if user is None or not user.active or user.role not in (Role.MEMBER, Role.ADMIN):
                raise _EndedError("The user who asked for the import may no longer write cards")
            viewer = Viewer(user)
            async with imports.local_copy(self.storage, job.storage_key) as path:
                options = ReadingOptions.of(job.reading)
                sheet = await asyncio.to_thread(imports.open_checked, path, options)
                with sheet:
                    await self._rows(job, job.category_id, viewer, sheet)
        except _EndedError as ended:
            await self._finish(ImportState.FAILED, str(ended))
        except UserFacingError as exc:
            await self._finish(ImportState.FAILED, str(exc))
        except SheetReadError as exc:
            await self._finish(ImportState.FAILED, str(imports.unreadable(exc)))
        except _ClaimLostError:
            logger.warning("Import %s was taken over by another worker", self.import_id)
        except Exception as exc:
            if self.attempt < MAX_ATTEMPTS:
                raise  # its lease runs out and a worker tries again
            await self._finish(
                ImportState.FAILED, f"The import broke off {self.attempt} times ({exc})"
            )
            logger.exception("Import %s is given up", self.import_id)
        finally:
            await self._forget_file(job.storage_key)

    async def _rows(
        self, job: ContactImport, category_id: int, viewer: Viewer, sheet: SheetReader
    ) -> None:
        mode = ImportMode(job.mode)
        progress = Progress.of(job) if mode == ImportMode.SKIP_INVALID else Progress()
        rows = sheet.rows()
        # SKIP_INVALID: the batches that landed before are not read again.
        await asyncio.to_thread(_skip, rows, progress.rows_done)
        async with self.session_factory() as session:
            fields = await fields_of(session, [category_id])
            users = await imports.user_lookup(session)
        mapping = [ColumnMapping(m["column"], m["field"]) for m in job.mapping]
        try:
            targets = imports.check_mapping(sheet.header, mapping, fields, job.upsert_on)
        except UserFacingError as exc:
            raise _EndedError(
                f"The category's fields changed since the import was asked: {exc}"
            ) from None
        writer = _Writer(
            self, job, category_id, viewer, RowReader(targets, users, ZoneInfo(job.time_zone))
        )
        if mode == ImportMode.ALL_OR_NOTHING:
            await self._all_or_nothing(writer, rows, progress)
        else:
            await self._skipping_invalid(writer, rows, progress)

    async def _all_or_nothing(
        self, writer: "_Writer", rows: Iterator[SheetRow], progress: Progress
    ) -> None:
        """Check every row first, reading only, with what each will write kept in a local
        file; then, if no row has a problem, write it all in one transaction. The write
        transaction is short (inserts of checked rows), so other writers (SQLite) and live
        events (PostgreSQL) wait for it only that long."""
        with tempfile.TemporaryFile() as planned:
            while batch := await _next_batch(rows):
                async with self.session_factory() as session:
                    shape = await category_shape(session, writer.category_id)
                    plan = await writer.plan(session, shape, batch, progress)
                await asyncio.to_thread(pickle.dump, plan, planned)
                progress.rows_done += len(batch)
                await self._renew(progress)
            if not progress.error_count:
                await asyncio.to_thread(planned.seek, 0)
                async with self.session_factory() as session:
                    await session.connection(execution_options={WRITE_TRANSACTION: True})
                    shape = await category_shape(session, writer.category_id)
                    while (checked := await asyncio.to_thread(_next_plan, planned)) is not None:
                        await writer.apply(session, shape, checked, progress)
                    if not progress.error_count:
                        await self._save(session, ImportState.SUCCEEDED, progress)
                        await self._commit(session)
                        return
        progress.created = progress.updated = 0
        lines = len({problem["line"] for problem in progress.errors})
        counted = progress.error_count <= len(progress.errors)
        await self._finish(
            ImportState.FAILED,
            f"{progress.error_count} problems"
            + (f" in {lines} rows" if counted else "")
            + "; nothing was imported",
            progress,
        )

    async def _skipping_invalid(
        self, writer: "_Writer", rows: Iterator[SheetRow], progress: Progress
    ) -> None:
        while batch := await _next_batch(rows):
            async with self.session_factory() as session:
                await session.connection(execution_options={WRITE_TRANSACTION: True})
                shape = await category_shape(session, writer.category_id)
                plan = await writer.plan(session, shape, batch, progress)
                landed = await writer.apply(session, shape, plan, progress)
                progress.skipped += len(batch) - landed
                progress.rows_done += len(batch)
                await self._save(session, ImportState.RUNNING, progress)
                await self._commit(session)
        async with self.session_factory() as session:
            await session.connection(execution_options={WRITE_TRANSACTION: True})
            await self._save(session, ImportState.SUCCEEDED, progress)
            await self._commit(session)

    async def keep_statistics(self, session: AsyncSession, written: int) -> None:
        """On PostgreSQL, refresh the planner's statistics of `contact` when the run starts and
        each time the cards it wrote have doubled: with statistics of a category that was
        empty, the unique checks' lookups went through the wrong index, a scan per batch that
        grew with the category (0.2-0.3 s a batch at 25,000 cards)."""
        if (await session.connection()).dialect.name != "postgresql":
            return
        if self._analyzed_at is not None and written < max(2 * self._analyzed_at, BATCH_ROWS):
            return
        await session.execute(text("ANALYZE contact"))
        self._analyzed_at = written

    async def _save(self, session: AsyncSession, state: ImportState, progress: Progress) -> None:
        """Progress, in the transaction that made it, if the import is still this run's (its
        row is locked until the commit, so that no worker claims it in between)."""
        job = await session.get(
            ContactImport, self.import_id, with_for_update=True, populate_existing=True
        )
        if job is None:
            raise _EndedError("The import was deleted")
        if job.attempts != self.attempt or job.state != ImportState.RUNNING:
            raise _ClaimLostError
        progress.save(job)
        job.state = state
        now = utcnow()
        job.lease_until = now + LEASE if state == ImportState.RUNNING else None
        if state != ImportState.RUNNING:
            job.finished_at = now
        await session.flush()

    async def _commit(self, session: AsyncSession) -> None:
        await session.commit()
        self.signals.emit(take_signals(session))
        await run_effects(take_effects(session))

    def _still_ours(self) -> Any:
        return (
            (col(ContactImport.id) == self.import_id)
            & (col(ContactImport.attempts) == self.attempt)
            & (col(ContactImport.state) == ImportState.RUNNING)
        )

    async def _renew(self, progress: Progress) -> None:
        """Keep the lease, and show the rows read, while ALL_OR_NOTHING checks its rows."""
        async with self.session_factory() as session:
            await session.connection(execution_options={WRITE_TRANSACTION: True})
            renewed = await session.execute(
                update(ContactImport)
                .where(self._still_ours())
                .values(lease_until=utcnow() + LEASE, rows_done=progress.rows_done)
            )
            await session.commit()
            if renewed.rowcount != 1:  # type: ignore[attr-defined]
                raise _ClaimLostError

    async def _finish(
        self, state: ImportState, failure: str | None, progress: Progress | None = None
    ) -> None:
        async with self.session_factory() as session:
            await session.connection(execution_options={WRITE_TRANSACTION: True})
            job = await session.get(
                ContactImport, self.import_id, with_for_update=True, populate_existing=True
            )
            if job is None or job.attempts != self.attempt or job.state != ImportState.RUNNING:
                return  # deleted, or another worker's now
            if progress is not None:
                progress.save(job)
            job.state = state
            job.failure = failure[:1000] if failure else None
            job.lease_until = None
            job.finished_at = utcnow()
            await session.commit()
        logger.info("Import %s ended %s: %s", self.import_id, state, failure or "")

    async def _forget_file(self, key: str) -> None:
        async with self.session_factory() as session:
            job = await session.get(ContactImport, self.import_id)
            if job is not None and job.state in (ImportState.RUNNING, ImportState.PENDING):
                return  # it goes on (this run broke off, or another worker took it over)
        try:
            await self.storage.delete(key)
        except Exception:  # the file is of no more use; a leftover is only space
            logger.warning("Could not delete the file of import %s", self.import_id)


# An update through upsertOn: (line, the value, details, values); the card is the one holding
# the value when it is written.
_Update = tuple[int, Any, dict[str, Any], dict[str, Any]]
_REFUSED = object()  # a row whose problems are noted


@dataclass(frozen=True)
class _Entry:
    """A checked row of a batch: a new card or an update, with its unique values (stored
    form; an update's but the one it is found by)."""

    row: SheetRow
    unique: dict[str, Any]
    new: tuple[int, dict[str, Any], dict[str, Any], NewCard] | None = None
    update: _Update | None = None


def _stored_unique(shape: CategoryShape, values: dict[str, Any], upsert_on: str) -> dict[str, Any]:
    """An update's unique values as stored (checked already), but its upsertOn value."""
    found = {}
    for definition in shape.active:
        if definition.unique and definition.key in values and definition.key != upsert_on:
            with contextlib.suppress(ValueError):
                found[definition.key] = coerce(definition, values[definition.key])
    return found


@dataclass
class _Plan:
    """What a batch of rows will write, once checked: new cards (inserted together), then
    updates through upsertOn (of a card found by its value when the row was checked, or of one
    an earlier row adds)."""

    new: list[tuple[int, dict[str, Any], dict[str, Any], NewCard]] = field(default_factory=list)
    updates: list[_Update] = field(default_factory=list)


class _Writer:
    """Checks an import's rows (every problem of a row to the progress) and writes them."""

    def __init__(
        self,
        run: ImportRun,
        job: ContactImport,
        category_id: int,
        viewer: Viewer,
        reader: RowReader,
    ) -> None:
        self.run = run
        self.upsert_on = job.upsert_on
        self.category_id = category_id
        self.viewer = viewer
        self.reader = reader
        self.seen: _Seen = {}  # unique values of earlier rows, with their lines
        self.added: set[Any] = set()  # upsertOn values of cards that earlier rows add

    async def plan(
        self,
        session: AsyncSession,
        shape: CategoryShape,
        batch: Sequence[SheetRow],
        progress: Progress,
    ) -> _Plan:
        """Check a batch of rows, writing nothing."""
        entries: list[_Entry] = []
        for row in batch:
            details, values, problems = self.reader.read(row)
            key = self.upsert_on
            if key is not None and key in values:
                update = await self._update_of(
                    session, shape, row, details, values, problems, progress
                )
                if update is _REFUSED:
                    continue
                if update is not None:
                    unique = _stored_unique(shape, values, key)
                    entries.append(_Entry(row, unique, update=cast(_Update, update)))
                    continue
            card = await self._checked(session, shape, row, details, values, problems, progress)
            if card is not None:
                unique = {f.key: card.value(f.key) for f in shape.active if f.unique}
                entries.append(_Entry(row, unique, new=(row.line, details, values, card)))
                if key is not None and card.value(key) is not None:
                    self.added.add(card.value(key))  # a later row updates it
        await self.run.keep_statistics(session, progress.created + progress.updated)
        return await self._unique_in_order(session, shape, entries, progress)

    async def _unique_in_order(
        self,
        session: AsyncSession,
        shape: CategoryShape,
        entries: list["_Entry"],
        progress: Progress,
    ) -> _Plan:
        """The rows whose unique values no earlier row of the file has (and, for new cards, no
        card has), in the file's order; every clash of the others noted. One query per unique
        field and batch; the unique indexes stay the last word."""
        plan = _Plan()
        fields = {f.key: f for f in shape.active if f.unique}
        taken: dict[str, set[Any]] = {}
        for key in fields:
            given = [e.unique[key] for e in entries if e.new and e.unique.get(key) is not None]
            taken[key] = await imports.taken_values(session, shape, key, given) if given else set()
        for entry in entries:
            clashes = []
            for key, value in entry.unique.items():
                met = self.seen.setdefault(key, {})
                if value is None:
                    continue
                if entry.new and value in taken[key]:
                    clashes.append((key, f"a card in {shape.category.name} already has it"))
                elif value in met:
                    clashes.append((key, f"the row on line {met[value]} has it too"))
            for key, why in clashes:
                progress.problem(
                    entry.row.line,
                    self.reader.columns.get(key),
                    key,
                    f"{fields[key].label}: {why}",
                    ErrorCode.DUPLICATE,
                )
            if clashes:
                continue
            for key, value in entry.unique.items():
                if value is not None:
                    self.seen[key][value] = entry.row.line
            if entry.new is not None:
                plan.new.append(entry.new)
            else:
                assert entry.update is not None
                plan.updates.append(entry.update)
        return plan

    async def _update_of(
        self,
        session: AsyncSession,
        shape: CategoryShape,
        row: SheetRow,
        details: dict[str, Any],
        values: dict[str, Any],
        problems: list[tuple[str, str, str]],
        progress: Progress,
    ) -> "_Update | object | None":
        """The update this row makes through upsertOn, if a card (or an earlier row) has its
        value; None for a new card (checked as one next); _REFUSED for an update with problems
        (every one noted)."""
        key = self.upsert_on
        assert key is not None
        definition = shape.by_key[key]
        try:
            stored = coerce(definition, values[key])
        except ValueError as exc:
            # Not a value any card has: a new card, whose other problems are found with it.
            problems.append((self.reader.columns[key], key, f"{definition.label}: {exc}"))
            return None
        if stored not in self.added and (
            await imports.card_to_update(session, shape, key, values[key]) is None
        ):
            return None
        # Checked as an update checks: the values given, no required field missing.
        for column, field_key, message in problems:
            progress.problem(row.line, column, field_key, message, ErrorCode.INVALID)
        unreadable = {field_key for _, field_key, _ in problems}
        found: list[Problem] = []
        try:
            checked_details(details)
        except UserFacingError as exc:
            found += exc.problems
        try:
            await merge_values(session, shape, {}, values, creating=False)
        except UserFacingError as exc:
            found += exc.problems
        found = [p for p in found if imports.problem_field(p) not in unreadable]
        if found:
            _problems(progress, self.reader, row.line, UserFacingError(found))
        if problems or found:
            return _REFUSED
        return (row.line, values[key], details, values)

    async def _checked(
        self,
        session: AsyncSession,
        shape: CategoryShape,
        row: SheetRow,
        details: dict[str, Any],
        values: dict[str, Any],
        problems: list[tuple[str, str, str]],
        progress: Progress,
    ) -> NewCard | None:
        """The row as a new card, or None and each of its problems noted: its unreadable
        cells, then what the card's checks find in the others."""
        for column, field_key, message in problems:
            progress.problem(row.line, column, field_key, message, ErrorCode.INVALID)
        unreadable = {field_key for _, field_key, _ in problems}
        try:
            card = await new_card(
                session, viewer=self.viewer, shape=shape, details=details, values=values
            )
        except UserFacingError as exc:
            kept = [p for p in exc.problems if imports.problem_field(p) not in unreadable]
            _problems(progress, self.reader, row.line, UserFacingError(kept) if kept else None)
            return None
        return card if not problems else None

    async def apply(
        self, session: AsyncSession, shape: CategoryShape, plan: _Plan, progress: Progress
    ) -> int:
        """Write a checked batch; how many rows landed (each that did not, its problem noted)."""
        landed = 0
        try:
            async with session.begin_nested():
                created = await insert_cards(
                    session, viewer=self.viewer, cards=[card for *_, card in plan.new]
                )
            progress.created += len(created)
            landed += len(created)
        except IntegrityError:
            # A card written meanwhile took one of their unique values: one at a time.
            for line, details, values, _ in plan.new:
                landed += await self._one(session, shape, line, None, details, values, progress)
        key = self.upsert_on
        assert key is not None or not plan.updates
        for line, value, details, values in plan.updates:
            # Looked up again: the card holding the value now (one may have changed since).
            existing = await imports.card_to_update(session, shape, key or "", value)
            landed += await self._one(session, shape, line, existing, details, values, progress)
        return landed

    async def _one(
        self,
        session: AsyncSession,
        shape: CategoryShape,
        line: int,
        existing: int | None,
        details: dict[str, Any],
        values: dict[str, Any],
        progress: Progress,
    ) -> bool:
        """Write one row in a savepoint: update `existing`, or add a card. Whether it landed."""
        try:
            async with session.begin_nested():
                if existing is not None:
                    await update_contact(
                        session,
                        actor_id=self.viewer.id,
                        contact_id=existing,
                        details=details,
                        values=values,
                        shape=shape,
                    )
                    progress.updated += 1
                else:
                    await create_contact(
                        session,
                        viewer=self.viewer,
                        category_id=self.category_id,
                        details=details,
                        values=values,
                        shape=shape,
                    )
                    progress.created += 1
        except UserFacingError as exc:
            _problems(progress, self.reader, line, exc)
            return False
        except IntegrityError:
            progress.problem(
                line, None, None, "The row conflicts with a card written meanwhile", "CONFLICT"
            )
            return False
        return True


def _next_plan(planned: IO[bytes]) -> _Plan | None:
    try:
        plan: _Plan = pickle.load(planned)  # noqa: S301 - a file this run wrote itself
    except EOFError:
        return None
    return plan


# Unique values met so far in the file, by field key: the line of each.
_Seen = dict[str, dict[Any, int]]


def _problems(
    progress: Progress, reader: RowReader, line: int, exc: UserFacingError | None
) -> None:
    for problem in exc.problems if exc is not None else ():
        where = imports.problem_field(problem)
        progress.problem(
            line, reader.columns.get(where or ""), where, problem.message, problem.code
        )


def _skip(rows: Iterator[SheetRow], count: int) -> None:
    for _ in islice(rows, count):
        pass


async def _next_batch(rows: Iterator[SheetRow]) -> list[SheetRow]:
    """The next rows (reading and parsing the file is blocking work)."""
    try:
        return await asyncio.to_thread(lambda: list(islice(rows, BATCH_ROWS)))
    except SheetReadError as exc:
        raise _EndedError(str(imports.unreadable(exc))) from None


# --- the worker --------------------------------------------------------------------------------


class ImportRunner:
    """Each process's worker: runs imports one at a time, as they are asked for (woken by the
    signal) or found (every few seconds: others' imports, and those whose worker died)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        storage: Storage,
        signals: Signals,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.session_factory = session_factory
        self.storage = storage
        self.signals = signals
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._runs: Counter[int] = Counter()
        self._finished = asyncio.Condition()
        signals.on(IMPORT_TOPIC, self.wake)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="import-runner")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_pending()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("The import worker failed; it tries again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()

    async def run_pending(self) -> int:
        """Run every import there is to claim; how many ran."""
        ran = 0
        while (claimed := await claim(self.session_factory, utcnow())) is not None:
            try:
                await ImportRun(self.session_factory, self.storage, self.signals, claimed).run()
            except Exception:
                logger.exception(
                    "Import %s broke off; its lease lets it be taken again", claimed.import_id
                )
            ran += 1
            async with self._finished:
                self._runs[claimed.import_id] += 1
                self._finished.notify_all()
        return ran

    async def ran(self, import_id: int, times: int = 1) -> None:
        """Return once this process has run the import `times` (each to its end, or until
        it broke off)."""
        async with self._finished:
            await self._finished.wait_for(lambda: self._runs[import_id] >= times)

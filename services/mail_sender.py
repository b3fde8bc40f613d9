"""The mail sender: a worker of each process that delivers what the outbox holds.

It wakes when a committed change wrote mail (the "mail" signal) and every few seconds besides,
for mail that other processes wrote and for retries that fell due. Each pass claims due mails
with a lease, so that several workers and hosts never deliver one mail twice:
- on PostgreSQL the claim picks rows `FOR UPDATE SKIP LOCKED` and sets their lease in one
  short transaction, so two senders never wait for each other nor take the same row;
- on SQLite it is one conditional UPDATE in a write transaction, which SQLite runs one at a
  time.
A lease outlives the work it covers: a sender starts a mail only while its lease has well
over the longest SMTP exchange left, and a crashed sender's mails come free when it ends.

A mail is marked SENT as soon as the server accepted it. A crash in between (after the
server's 250, before the mark) is the one way a mail goes out twice; every message carries a
Message-ID made from its row, so the receiving side can tell the copies apart.

Without CRM_SMTP_URL nothing is sent: each mail is logged once (a sensitive one without its
bodies) and stays PENDING, to go out once an SMTP server is configured.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models.db import WRITE_TRANSACTION, create_engine, create_session_factory
from models.mail import MailState, OutboundMail
from models.types import utcnow
from services.effects import Signals
from services.mail import MAIL_TOPIC
from services.mail_digest import digest_day, digests_due, write_digests
from services.mail_transport import (
    Delivery,
    OutgoingMail,
    SmtpConnection,
    SmtpTransport,
    Verdict,
)
from services.settings import Settings
from services.smtp_url import parse_smtp_url

logger = logging.getLogger("crm.mail")

POLL_SECONDS = 5.0
DIGEST_CHECK_SECONDS = 60.0
BATCH_SIZE = 20
LEASE = timedelta(minutes=10)
# Time a mail's exchange may take at most (a few socket timeouts): a mail is started only while
# its lease has more than this left.
LEASE_MARGIN = timedelta(minutes=3)
FIRST_RETRY_SECONDS = 30
LAST_RETRY_SECONDS = 3600
STOP_SECONDS = 60.0  # how long stopping waits for the mail in flight
# What a mail kept without an SMTP server shows as its last error (and how the sender knows
# it has logged it).
KEPT = "Not sent: CRM_SMTP_URL is not set; it goes out once an SMTP server is configured"


def retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter: about 30 s after the first failure, doubling, at most an
    hour; each delay is drawn between 80 % and 100 % of that so retries spread out."""
    base = min(LAST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=base * rng.uniform(0.8, 1.0))


@dataclass
class PassReport:
    """What one pass did, for tests, benchmarks and logs."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    kept: int = 0
    errors: list[str] = field(default_factory=list)


_COLUMNS = (
    col(OutboundMail.id),
    col(OutboundMail.to_address),
    col(OutboundMail.subject),
    col(OutboundMail.text_body),
    col(OutboundMail.html_body),
    col(OutboundMail.created_at),
    col(OutboundMail.attempts),
    col(OutboundMail.sensitive),
)


class MailSender:
    def __init__(
        self,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        poll_seconds: float = POLL_SECONDS,
        batch_size: int = BATCH_SIZE,
        rng: random.Random | None = None,
        engine: AsyncEngine | None = None,
    ) -> None:
        self.settings = settings
        self._sessions = session_factory
        self._engine = engine  # disposed by stop(), when the sender has its own
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self._rng = rng or random.Random()  # noqa: S311  (jitter, not secrets)
        self.transport: SmtpTransport | None = None
        if settings.smtp_url is not None:
            self.transport = SmtpTransport(
                parse_smtp_url(settings.smtp_url.get_secret_value()),
                mail_from=settings.mail_from,
                public_url=settings.public_url,
            )
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._last_digest_check: datetime | None = None
        self._digest_done_for: date | None = None  # the local day whose digests are written
        self._last_failure: str | None = None

    # --- life -----------------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for due mail now (a committed change wrote some)."""
        self._wake.set()

    def start(self) -> None:
        if self.transport is None:
            logger.info("CRM_SMTP_URL is not set: mails are kept in the outbox and logged")
        else:
            logger.info("Mail goes to %s", self.transport.target.describe())
        self._stopping = False
        # The first digest check comes a minute after start, as every later one.
        self._last_digest_check = utcnow()
        self._task = asyncio.create_task(self._run(), name="mail sender")

    async def stop(self) -> None:
        """Finish the mail in flight (at most STOP_SECONDS), then stop; the rest of a batch is
        left for the next sender."""
        try:
            await self.pause()
        finally:
            if self._engine is not None:
                await self._engine.dispose()

    async def pause(self) -> None:
        """Stop looking for mail by itself; `deliver_due()` and `queue_digests()` still work
        when called."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_SECONDS)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            self._stopping = False

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()
            if self._stopping:
                break
            try:
                await self.run_once()
                self._last_failure = None
            except Exception as exc:  # the database away, say: the next pass tries again
                # The whole story once; while the same trouble lasts, a line at debug level.
                failure = f"{exc.__class__.__name__}: {exc}"
                if failure != self._last_failure:
                    logger.warning("The mail sender's pass failed: %s", failure, exc_info=exc)
                else:
                    logger.debug("The mail sender's pass failed again: %s", failure)
                self._last_failure = failure

    async def run_once(self, now: datetime | None = None) -> PassReport:
        """Queue the digests if they are due, then deliver what is due."""
        at = now or utcnow()
        last = self._last_digest_check
        if last is None or at - last >= timedelta(seconds=DIGEST_CHECK_SECONDS):
            self._last_digest_check = at
            await self.queue_digests(at)
        return await self.deliver_due(now)

    # --- the digest -----------------------------------------------------------------------------

    async def queue_digests(self, now: datetime | None = None) -> int:
        """Write today's digests unless this sender already did (see services/mail_digest.py)."""
        now = now or utcnow()
        day = digest_day(self.settings, now)
        if day is None or day == self._digest_done_for:
            return 0
        # Read and render first, then write in a short transaction: on SQLite a write
        # transaction holds every other writer.
        async with self._sessions() as session:
            mails = await digests_due(session, self.settings, now=now)
        queued = 0
        if mails:
            async with self._sessions() as session:
                await session.connection(execution_options={WRITE_TRANSACTION: True})
                queued = await write_digests(session, mails)
                await session.commit()
        self._digest_done_for = day
        if queued:
            logger.info("Queued %d digest mails for %s", queued, day.isoformat())
        return queued

    # --- delivery -------------------------------------------------------------------------------

    async def deliver_due(self, now: datetime | None = None) -> PassReport:
        """Deliver every mail due at `now` (default: the present), batch by batch, until none
        is left or the server is in trouble. Safe to run beside other senders."""
        report = PassReport()
        if self.transport is None:
            await self._keep_and_log(now, report)
            return report
        while not self._stopping:
            at = now or utcnow()
            batch = await self._claim(at)
            if not batch:
                break
            broken = await self._deliver(self.transport, batch, at, report)
            if broken or len(batch) < self.batch_size:
                break
        return report

    def _due(self, at: datetime) -> list[ColumnElement[bool]]:
        return [
            col(OutboundMail.state) == MailState.PENDING,
            col(OutboundMail.next_attempt_at) <= at,
            or_(col(OutboundMail.lease_until).is_(None), col(OutboundMail.lease_until) <= at),
        ]

    async def _claim_rows(
        self, at: datetime, conditions: Sequence[ColumnElement[bool]], values: dict[str, Any]
    ) -> list[Any]:
        """Take up to a batch of mails meeting `conditions`, setting `values` on them, in one
        short write transaction: see the module's docstring."""
        async with self._sessions() as session:
            connection = await session.connection(execution_options={WRITE_TRANSACTION: True})
            chosen = (
                select(col(OutboundMail.id))
                .where(*conditions)
                .order_by(col(OutboundMail.next_attempt_at), col(OutboundMail.id))
                .limit(self.batch_size)
            )
            if connection.dialect.name == "postgresql":
                chosen = chosen.with_for_update(skip_locked=True)
            rows = (
                await session.execute(
                    update(OutboundMail)
                    .where(col(OutboundMail.id).in_(chosen.scalar_subquery()), *conditions)
                    .values(**values)
                    .returning(*_COLUMNS)
                )
            ).all()
            await session.commit()
        return sorted(rows, key=lambda row: row[0])

    async def _claim(self, at: datetime) -> list[OutgoingMail]:
        rows = await self._claim_rows(
            at,
            self._due(at),
            {"lease_until": at + LEASE, "attempts": col(OutboundMail.attempts) + 1},
        )
        return [OutgoingMail(*row) for row in rows]

    async def _deliver(
        self, transport: SmtpTransport, batch: list[OutgoingMail], at: datetime, report: PassReport
    ) -> bool:
        """Send a claimed batch over one connection, noting each outcome as it comes; whether
        the server was in trouble."""
        claimed = time.monotonic()
        connection = transport.open()
        try:
            for index, mail in enumerate(batch):
                lease_left = LEASE - timedelta(seconds=time.monotonic() - claimed)
                if self._stopping or lease_left < LEASE_MARGIN:
                    await self._release(batch[index:])
                    return False
                delivery = await asyncio.to_thread(connection.send, mail)
                if not delivery.broken:
                    await self._note(mail, delivery, at)
                    _count(report, delivery)
                    continue
                # Every mail left in the batch would meet the same server: all try again later.
                logger.warning(
                    "Mail cannot be delivered now, %d will be retried: %s",
                    len(batch) - index,
                    delivery.error,
                )
                for rest in batch[index:]:
                    await self._note(rest, delivery, at)
                    _count(report, delivery)
                report.errors.append(delivery.error or "")
                return True
            return False
        finally:
            await asyncio.to_thread(_close, connection)

    async def _note(self, mail: OutgoingMail, delivery: Delivery, at: datetime) -> None:
        """Record what became of a mail, at once (a SENT mark right after the server's 250)."""
        values: dict[str, Any] = {"lease_until": None}
        if delivery.verdict is Verdict.SENT:
            values.update(state=MailState.SENT, sent_at=utcnow(), last_error=None)
            if mail.sensitive:
                # A secret (an invitation, a reset) is kept no longer than needed.
                values.update(text_body="", html_body="")
        elif delivery.verdict is Verdict.FAILED:
            values.update(state=MailState.FAILED, last_error=delivery.error)
            logger.warning(
                "Mail %d to %s was refused for good: %s", mail.id, mail.to_address, delivery.error
            )
        else:
            delay = retry_delay(mail.attempts, self._rng)
            values.update(next_attempt_at=at + delay, last_error=delivery.error)
            if not delivery.broken:
                logger.info("Mail %d will be retried: %s", mail.id, delivery.error)
        async with self._sessions() as session:
            await session.connection(execution_options={WRITE_TRANSACTION: True})
            await session.execute(
                update(OutboundMail)
                .where(
                    col(OutboundMail.id) == mail.id, col(OutboundMail.state) == MailState.PENDING
                )
                .values(**values)
            )
            await session.commit()

    async def _release(self, mails: Sequence[OutgoingMail]) -> None:
        """Give back claimed mails not tried (this sender stops): the attempt is not counted."""
        if not mails:
            return
        async with self._sessions() as session:
            await session.connection(execution_options={WRITE_TRANSACTION: True})
            await session.execute(
                update(OutboundMail)
                .where(
                    col(OutboundMail.id).in_([mail.id for mail in mails]),
                    col(OutboundMail.state) == MailState.PENDING,
                )
                .values(lease_until=None, attempts=col(OutboundMail.attempts) - 1)
            )
            await session.commit()

    # --- without an SMTP server -----------------------------------------------------------------

    async def _keep_and_log(self, now: datetime | None, report: PassReport) -> None:
        """Log each due mail once, marking it so; it stays PENDING."""
        while True:
            at = now or utcnow()
            unlogged = or_(
                col(OutboundMail.last_error).is_(None), col(OutboundMail.last_error) != KEPT
            )
            rows = await self._claim_rows(at, [*self._due(at), unlogged], {"last_error": KEPT})
            for row in rows:
                _log_kept(OutgoingMail(*row))
            report.kept += len(rows)
            if len(rows) < self.batch_size:
                return


def _count(report: PassReport, delivery: Delivery) -> None:
    if delivery.verdict is Verdict.SENT:
        report.sent += 1
    elif delivery.verdict is Verdict.FAILED:
        report.failed += 1
    else:
        report.retried += 1


def _close(connection: SmtpConnection) -> None:
    with contextlib.suppress(Exception):  # QUIT to a server that left already
        connection.close()


def _log_kept(mail: OutgoingMail) -> None:
    if mail.sensitive:
        logger.info(
            "Mail kept, not sent (CRM_SMTP_URL is not set): #%d to %s, %r; its body holds a "
            "secret and is not logged",
            mail.id,
            mail.to_address,
            mail.subject,
        )
        return
    logger.info(
        "Mail kept, not sent (CRM_SMTP_URL is not set): #%d to %s, %r\n%s",
        mail.id,
        mail.to_address,
        mail.subject,
        mail.text_body,
    )


async def start_mail_sender(settings: Settings, signals: Signals) -> MailSender:
    """A started sender, woken by the "mail" signal, with a small engine of its own: it never
    waits for a connection that requests hold, nor holds one they wait for. `stop()` closes
    it."""
    engine = create_engine(settings.database_url, pool_size=2)
    sender = MailSender(settings, create_session_factory(engine), engine=engine)
    signals.on(MAIL_TOPIC, sender.wake)
    sender.start()
    return sender

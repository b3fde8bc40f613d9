"""Delivering mail: how many mails one sender hands to an SMTP server per second.

    python -m bench.mail [--mails N] [--runs R]
                         [--database-url postgresql+asyncpg://user@127.0.0.1:5432/NAME]

Queues N mails in a fresh SQLite database in a temporary directory (and, with --database-url,
in a PostgreSQL database it creates and drops), starts aiosmtpd on loopback in a process of its
own (its Sink handler accepts every message and drops it), and times one sender
(services/mail_sender.py) delivering them all, exactly as the service does: claims with a lease,
one SMTP connection per batch, each mail marked SENT as the server accepts it. It checks that
every mail ended SENT, and prints mails per second (the median of R runs) with the time per
mail. It also times a page of the admins' outbox (`outboundMails(first: 50)` with `totalCount`)
through the app in process, without the network, and counts its SQL statements.
"""

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import event, func, select, text
from sqlmodel import col

from bench.servers import (
    HOST,
    BenchError,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    migrate,
    sqlite_url,
)
from models.db import create_engine, create_session_factory
from models.mail import MailKind, MailState, OutboundMail
from server import create_app
from services.mail import queue_mail
from services.mail_sender import MailSender
from services.settings import Settings

OUTBOX_PAGE = (
    '{"query": "{ outboundMails(first: 50) { totalCount nodes { id kind to subject state '
    'attempts lastError createdAt sentAt nextAttemptAt } } }"}'
)
SIGN_UP = (
    '{"query": "mutation { signUp(input: {email: \\"bench@example.com\\", password: '
    '\\"a long bench passphrase\\", name: \\"Bench\\"}) { token } }"}'
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mail", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--mails", type=int, default=1000, help="mails to deliver (1000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per database (3)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to measure too, e.g. "
        "postgresql+asyncpg://postgres@127.0.0.1:5432/crm_bench (the database is created and "
        "dropped; without a name a fresh one is made up)",
    )
    args = parser.parse_args(argv)
    if args.mails < 1 or args.runs < 1:
        parser.error("--mails and --runs must be at least 1")
    if args.database_url and not args.database_url.startswith("postgresql+asyncpg://"):
        parser.error("--database-url must start with postgresql+asyncpg://")
    return args


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class SmtpSink:
    """aiosmtpd in a process of its own, so it does not share the sender's interpreter."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"{HOST}:{self.port}",
                "-c",
                "aiosmtpd.handlers.Sink",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError("aiosmtpd did not start (python -m aiosmtpd)")
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise BenchError("aiosmtpd did not answer within 30 s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


@dataclass
class Delivered:
    database: str
    seconds: list[float]
    mails: int

    @property
    def rate(self) -> float:
        return self.mails / statistics.median(self.seconds)


async def deliver_once(settings: Settings, mails: int) -> float:
    """Queue `mails` mails, then time one sender delivering them all."""
    engine = create_engine(settings.database_url, pool_size=2)
    sessions = create_session_factory(engine)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM outbound_mail"))
        async with sessions() as session:
            for n in range(mails):
                await queue_mail(
                    session,
                    kind=MailKind.TODO_ASSIGNED,
                    to_address=f"person{n}@example.com",
                    to_user_id=None,
                    subject=f"To-do for you: call customer {n}",
                    text=f"Hello,\n\nplease call customer {n} today.\n" * 5,
                    html=f"<p>Hello,</p><p>please call customer {n} today.</p>" * 5,
                )
            await session.commit()
        sender = MailSender(settings, sessions)
        started = time.perf_counter()
        sent = 0
        while sent < mails:
            report = await sender.deliver_due()
            if report.sent == 0:
                raise BenchError(f"The sender stopped after {sent} mails: {report.errors}")
            sent += report.sent
        elapsed = time.perf_counter() - started
        async with sessions() as session:
            done = (
                await session.execute(
                    select(func.count())
                    .select_from(OutboundMail)
                    .where(col(OutboundMail.state) == MailState.SENT)
                )
            ).scalar_one()
        if done != mails:
            raise BenchError(f"{done} of {mails} mails ended SENT")
        return elapsed
    finally:
        await engine.dispose()


@dataclass
class Listing:
    p50_ms: float
    p95_ms: float
    statements: int


async def time_outbox_page(settings: Settings, requests: int = 200) -> Listing:
    """A page of 50 mails of the outbox through the app, in process."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await app.state.resources.mail.pause()
        engine = app.state.resources.engine
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM auth_session"))
            await connection.execute(text("DELETE FROM password_reset"))
            await connection.execute(text("DELETE FROM invitation"))
            await connection.execute(text("DELETE FROM api_key"))
            await connection.execute(text("DELETE FROM user_account"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = {"Content-Type": "application/json"}
            signed_up = await client.post("/graphql", content=SIGN_UP, headers=headers)
            token = signed_up.json()["data"]["signUp"]["token"]
            headers["Authorization"] = f"Bearer {token}"
            statements = 0

            def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
                nonlocal statements
                if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
                    statements += 1

            timings = []
            for n in range(requests + 1):
                if n == 1:
                    event.listen(engine.sync_engine, "before_cursor_execute", count)
                started = time.perf_counter()
                response = await client.post("/graphql", content=OUTBOX_PAGE, headers=headers)
                timings.append(time.perf_counter() - started)
                if response.status_code != 200 or "errors" in response.json():
                    raise BenchError(f"outboundMails answered {response.text[:300]}")
                if n == 1:
                    event.remove(engine.sync_engine, "before_cursor_execute", count)
                    per_request = statements
            timings = sorted(timings[1:])  # the first one warms the caches up
    return Listing(
        p50_ms=statistics.median(timings) * 1000,
        p95_ms=timings[int(len(timings) * 0.95) - 1] * 1000,
        statements=per_request,
    )


async def measure(database: str, url: str, args: argparse.Namespace, smtp: SmtpSink) -> str:
    settings = Settings(database_url=url, smtp_url=f"smtp://{HOST}:{smtp.port}", graphiql=False)
    seconds = []
    for run in range(args.runs):
        progress(f"  {database}: run {run + 1} of {args.runs}, {args.mails} mails")
        seconds.append(await deliver_once(settings, args.mails))
    delivered = Delivered(database, seconds, args.mails)
    listing = await time_outbox_page(settings)
    median = statistics.median(seconds)
    return (
        f"| {database} | {args.mails:,} | {delivered.rate:,.0f} | {median * 1000 / args.mails:.2f} "
        f"| {listing.p50_ms:.1f} / {listing.p95_ms:.1f} | {listing.statements} |"
    )


async def run(args: argparse.Namespace, directory: Path, smtp: SmtpSink) -> list[str]:
    rows = []
    url = sqlite_url(directory)
    migrate(url)
    rows.append(await measure("SQLite", url, args, smtp))
    if args.database_url:
        created = await create_postgres_database(args.database_url)
        try:
            migrate(created)
            rows.append(await measure("PostgreSQL", created, args, smtp))
        finally:
            await drop_postgres_database(created)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    smtp: SmtpSink | None = None
    try:
        smtp = SmtpSink()
        with tempfile.TemporaryDirectory(prefix="crm-bench-") as directory:
            rows = asyncio.run(run(args, Path(directory), smtp))
    except BenchError as exc:
        print(f"bench.mail: {exc}", file=sys.stderr)
        return 1
    finally:
        if smtp is not None:
            smtp.stop()
    print(
        f"Mail delivery by one sender to aiosmtpd on loopback ({platform.python_version()}, "
        f"{os.cpu_count()} CPUs; median of {args.runs} runs)\n"
    )
    print(
        "| database | mails | mails/s | ms per mail | outboundMails(first: 50) p50 / p95 ms "
        "| SQL per page |"
    )
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

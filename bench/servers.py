"""Fresh databases, migrations, and uvicorn servers in subprocesses, on loopback only."""

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from server import PER_MESSAGE_DEFLATE, WEBSOCKETS

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
_DATABASE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class BenchError(RuntimeError):
    """A problem that stops the benchmark, with a message a person can act on."""


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'bench.db'}"


def _admin_url(url: str) -> tuple[str, str]:
    """(URL of the maintenance database, name of the benchmark database) for a PostgreSQL URL."""
    parsed = make_url(url)
    name = parsed.database or f"crm_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    if not _DATABASE_NAME_RE.match(name):
        raise BenchError(f"{name!r} is not a plain database name (letters, digits, underscores)")
    return parsed.set(database="postgres").render_as_string(hide_password=False), name


async def create_postgres_database(url: str) -> str:
    """Create the database the URL names (or a fresh one when it names none); its URL.

    An existing database is refused rather than dropped: it may hold somebody's data.
    """
    admin_url, name = _admin_url(url)
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if exists:
                raise BenchError(
                    f"The database {name!r} already exists; name a fresh one in --database-url "
                    f'(or drop it: DROP DATABASE "{name}")'
                )
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(url: str) -> None:
    admin_url, name = _admin_url(url)
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@contextmanager
def bench_database(database_url: str | None, directory: Path) -> Iterator[str]:
    """The URL of a migrated database for one run: SQLite in `directory`, or with a PostgreSQL
    server's URL a database of its own there, dropped afterwards."""
    created = None
    try:
        if database_url:
            url = created = asyncio.run(create_postgres_database(database_url))
        else:
            url = sqlite_url(directory)
        migrate(url)
        yield url
    finally:
        if created:
            asyncio.run(drop_postgres_database(created))


def migrate(url: str) -> None:
    """`alembic upgrade head` on the database, exactly as `make migrate` does."""
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env={**os.environ, "CRM_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"alembic upgrade head failed:\n{result.stderr[-4000:]}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A uvicorn process serving one app factory with one worker."""

    name: str
    process: "subprocess.Popen[bytes]"
    port: int
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/graphql"

    def peak_rss_mib(self) -> float | None:
        """The process's peak resident memory (VmHWM), while it is still running."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        return int(match.group(1)) / 1024 if match else None

    def reset_peak_rss_mib(self) -> float:
        """Make the peak resident memory the current one (Linux: clear_refs 5); the current one."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        return int(match.group(1)) / 1024 if match else 0.0

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self._log.close()


def start_server(
    name: str,
    factory: str,
    database_url: str,
    log_dir: Path,
    settings: Mapping[str, str] | None = None,
) -> Server:
    """Serve `module:factory` with uvicorn on a free loopback port and wait until it answers;
    `settings` are further CRM_* environment variables."""
    port = free_port()
    log_path = log_dir / f"{name}.log"
    log = log_path.open("wb")
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-access-log",
        "--ws",
        WEBSOCKETS,
        "--ws-per-message-deflate",
        str(PER_MESSAGE_DEFLATE).lower(),
    ]
    env = {
        **os.environ,
        "CRM_DATABASE_URL": database_url,
        "CRM_GRAPHIQL": "false",
        **(settings or {}),
    }
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(name=name, process=process, port=port, log_path=log_path, _log=log)
    try:
        _wait_until_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise BenchError(f"The {server.name} server exited:\n{server.log_tail()}")
            try:
                if client.get(f"http://{HOST}:{server.port}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise BenchError(f"The {server.name} server did not start in {timeout} s:\n{server.log_tail()}")

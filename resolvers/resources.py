"""What the service holds for its whole life and every operation draws on: opened when it starts,
closed when it stops, reaching resolvers through the Context. Nothing of it is module-global, so
a test builds the same set from its own settings (a loopback server, a database of its own)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from models.db import create_engine, create_session_factory
from services import activity
from services.broadcast import Broadcast
from services.effects import Signals
from services.feed import Feed
from services.health import schema_head
from services.import_jobs import ImportRunner
from services.mail_sender import MailSender, start_mail_sender
from services.passwords import PasswordHashing
from services.settings import Settings
from services.storage import Storage, connect_storage
from services.storage.links import DownloadLinks


@dataclass(frozen=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    passwords: PasswordHashing
    schema_head: str  # the migration this release needs, for readiness
    signals: Signals  # committed changes wake the workers listening here
    mail: MailSender  # delivers the mail outbox (services/mail_sender.py)
    storage: Storage  # the contents of files: a local folder or S3
    links: DownloadLinks  # signs and checks download links
    feed: Feed[Any]  # new activity events, for live subscriptions (services/feed.py)
    broadcast: Broadcast  # tells other processes of commits (services/broadcast.py)
    imports: ImportRunner  # runs contact imports (services/import_jobs.py)


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    storage = await connect_storage(settings)
    signals = Signals()
    mail = await start_mail_sender(settings, signals)
    session_factory = create_session_factory(engine)
    feed: Feed[Any] = Feed(session_factory, poll_seconds=settings.live_poll_seconds)
    broadcast = Broadcast(
        settings.broadcast_url.get_secret_value(),
        check_seconds=settings.broadcast_check_seconds,
        on_message=feed.wake,
        on_restored=feed.wake,
    )
    signals.on(activity.SIGNAL, feed.wake)
    signals.on(activity.SIGNAL, broadcast.publish)
    imports = ImportRunner(session_factory, storage, signals)
    try:
        await feed.start()
        await broadcast.start()
        imports.start()
        yield Resources(
            settings=settings,
            engine=engine,
            session_factory=session_factory,
            passwords=PasswordHashing(
                concurrency=settings.password_concurrency, queue=settings.password_queue
            ),
            schema_head=schema_head(),
            signals=signals,
            mail=mail,
            storage=storage,
            links=DownloadLinks(settings, engine),
            feed=feed,
            broadcast=broadcast,
            imports=imports,
        )
    finally:
        await imports.stop()
        await broadcast.stop()
        await feed.stop()
        await mail.stop()
        await storage.close()
        await engine.dispose()

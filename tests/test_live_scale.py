"""Live activity across processes: two server processes sharing the database and Redis, and a
Redis that goes away mid-stream and comes back. The feeds poll rarely here (a minute), so an
event arriving within seconds came through Redis, or through the catch-up that follows a
reconnect."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.servers import Server, start_server
from tests.live import REDIS_URL, RedisServer, client, live_server

if shutil.which("redis-server") is None and REDIS_URL is None:
    pytest.skip("needs redis-server (apt-get install redis-server)", allow_module_level=True)

RARE_POLL = {"live_poll_seconds": 60.0, "broadcast_check_seconds": 0.5}


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


def other_process(database_url: str, redis_url: str, directory: Path) -> Server:
    """The same service in a process of its own, on the same database and Redis."""
    return start_server(
        "writer",
        "server:create_app",
        database_url,
        directory,
        {
            "CRM_BROADCAST_URL": redis_url,
            "CRM_LIVE_POLL_SECONDS": "60",
            "CRM_BROADCAST_CHECK_SECONDS": "0.5",
        },
    )


async def test_a_note_written_through_one_process_reaches_a_subscriber_on_another(
    database_url: str, private_redis: RedisServer, tmp_path: Path
) -> None:
    redis_url = REDIS_URL or private_redis.url
    async with live_server(database_url, broadcast_url=redis_url, **RARE_POLL) as live:
        card = await live.card()
        writer = other_process(database_url, redis_url, tmp_path)
        try:
            async with client(live) as ws:
                await ws.follow("1", card)
                through_other = live.with_url(writer.url)
                for number in range(3):
                    await through_other.note(card, f"from the other process {number}")
                    event = await ws.event()
                    assert event["subject"]["body"] == f"from the other process {number}"
        finally:
            writer.stop()


async def test_nothing_is_lost_while_redis_restarts(
    database_url: str, private_redis: RedisServer, tmp_path: Path
) -> None:
    async with live_server(database_url, broadcast_url=private_redis.url, **RARE_POLL) as live:
        card = await live.card()
        writer = other_process(database_url, private_redis.url, tmp_path)
        try:
            through_other = live.with_url(writer.url)
            async with client(live) as ws:
                await ws.follow("1", card)
                await through_other.note(card, "before")
                assert (await ws.event())["subject"]["body"] == "before"
                private_redis.stop()
                # Writes go on while Redis is away: a mutation never fails for it.
                await through_other.note(card, "during 1")
                await through_other.note(card, "during 2")
                private_redis.start()
                # Once the subscriber's process is connected again it catches up.
                assert (await ws.event())["subject"]["body"] == "during 1"
                assert (await ws.event())["subject"]["body"] == "during 2"
                await through_other.note(card, "after")
                assert (await ws.event())["subject"]["body"] == "after"
        finally:
            writer.stop()

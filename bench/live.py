"""Live activity: latency and throughput of contactActivity subscriptions, and their memory.

    python -m bench.live [--subscribers 1,100,1000] [--events N] [--cycles N]
                         [--database-url postgresql+asyncpg://user@127.0.0.1:5432/NAME]

Serves the app with one uvicorn worker on loopback (SQLite in a temporary directory, or a
PostgreSQL database it creates and drops) and runs the subscribers in this process, one
WebSocket connection each. Prints:

- latency from a note's commit (its event's `at`, taken in the writing transaction) to its
  delivery, p50 and p99, with 1, 100 and 1,000 subscribers of the same card;
- events per second delivered to 100 subscribers while 8 writers add notes for a while;
- in a fresh server (bench/trimmed_server.py, which reports the memory it holds once garbage
  is collected and malloc has returned what it kept free): the memory held per idle
  subscription over its first 100 and over 1,000 more, and before and after 10,000
  subscribe/complete cycles on one connection.

This process's own garbage collector is held while it times deliveries (a full collection
over a thousand connections would count as the server's latency).
"""

import argparse
import asyncio
import contextlib
import gc
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.dataset import SIGN_UP
from bench.servers import (
    HOST,
    BenchError,
    Server,
    create_postgres_database,
    drop_postgres_database,
    migrate,
    sqlite_url,
    start_server,
)

PROTOCOL = [Subprotocol("graphql-transport-ws")]
FOLLOW = """subscription($c: ID!, $after: String) { contactActivity(contactId: $c, after: $after) {
  cursor kind at actor { name } subject { ... on Note { body } } } }"""
CATEGORY = (
    """mutation { categoryCreate(input: {key: "bench", name: "Bench"}) { category { id } } }"""
)
CARD = """mutation($c: ID!) { contactCreate(input: {categoryId: $c, name: "Acme"}) {
  contact { id } } }"""
NOTE = """mutation($c: ID!, $b: String!) { noteCreate(input: {contactId: $c, body: $b}) {
  note { id } userErrors { message } } }"""
SETTINGS = {
    "CRM_WS_MAX_CONNECTIONS_PER_USER": "5000",
    "CRM_WS_MAX_SUBSCRIPTIONS_PER_USER": "5000",
    "CRM_WS_MAX_SUBSCRIPTIONS": "100",
    "CRM_LIVE_POLL_SECONDS": "2",
    "CRM_WS_PING_SECONDS": "3600",  # idle subscribers here read nothing between events
}
NEWEST_EVENT = "query($c: ID!) { contact(id: $c) { activity(first: 1) { nodes { cursor } } } }"


async def graphql(
    http: httpx.AsyncClient, url: str, query: str, token: str, **variables: Any
) -> Any:
    response = await http.post(
        url,
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    body = response.json()
    if body.get("errors"):
        raise BenchError(f"{query.split('(')[0]}: {body['errors'][0]['message']}")
    return body["data"]


async def seed(http: httpx.AsyncClient, url: str) -> tuple[str, str]:
    """A token, and a card to follow."""
    variables = {
        "input": {"email": "bench@example.com", "password": "a long passphrase", "name": "Bench"}
    }
    token = (await graphql(http, url, SIGN_UP, "", **variables))["signUp"]["token"]
    category = (await graphql(http, url, CATEGORY, token))["categoryCreate"]["category"]["id"]
    card = (await graphql(http, url, CARD, token, c=category))["contactCreate"]["contact"]["id"]
    return token, card


@contextlib.asynccontextmanager
async def subscribers(
    http: httpx.AsyncClient, url: str, token: str, card: str, count: int
) -> AsyncIterator[list[ClientConnection]]:
    """`count` connections following the card from its newest event, so that the warm-up
    note reaches each whether its subscription started before or after it was written."""
    ws_url = url.replace("http", "ws", 1)
    newest = await graphql(http, url, NEWEST_EVENT, token, c=card)
    variables = {"c": card, "after": newest["contact"]["activity"]["nodes"][0]["cursor"]}
    async with contextlib.AsyncExitStack() as stack:
        connections = []
        for _ in range(count):
            ws = await stack.enter_async_context(
                connect(ws_url, subprotocols=PROTOCOL, max_size=None, ping_interval=None)
            )
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
                )
            )
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": FOLLOW, "variables": variables},
                    }
                )
            )
            connections.append(ws)
        yield connections


async def next_event(ws: ClientConnection) -> tuple[float, dict[str, Any]]:
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
        elif message["type"] == "next":
            return time.time(), message["payload"]["data"]["contactActivity"]
        else:
            raise BenchError(f"unexpected message {message}")


async def ready(
    http: httpx.AsyncClient, url: str, token: str, card: str, connections: list[ClientConnection]
) -> None:
    """One note that every subscriber receives: they follow from the card's first event, so
    it arrives whether a subscription started before it was written or after."""
    body = f"warm-up {uuid.uuid4()}"
    await graphql(http, url, NOTE, token, c=card, b=body)
    for ws in connections:  # what came before is skipped
        while (await next_event(ws))[1]["subject"] != {"body": body}:
            pass


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def latency(
    server: Server, token: str, card: str, count: int, events: int
) -> tuple[float, float]:
    async with (
        httpx.AsyncClient(trust_env=False, timeout=60) as http,
        subscribers(http, server.url, token, card, count) as connections,
    ):
        await ready(http, server.url, token, card, connections)
        samples: list[float] = []
        with client_collector_held():
            for number in range(events):
                await graphql(http, server.url, NOTE, token, c=card, b=f"n{number}")
                received = await asyncio.gather(*(next_event(ws) for ws in connections))
                for when, event in received:
                    at = datetime.fromisoformat(event["at"]).timestamp()
                    samples.append((when - at) * 1000)
        return statistics.median(samples), percentile(samples, 0.99)


@contextlib.contextmanager
def client_collector_held() -> Iterator[None]:
    """No garbage collection in this (the subscribers') process while it times deliveries: a
    full collection over its thousand connections pauses it for about 100 ms, which would
    count as the server's latency."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def throughput(server: Server, token: str, card: str, count: int, seconds: float) -> float:
    async with (
        httpx.AsyncClient(trust_env=False, timeout=60) as http,
        subscribers(http, server.url, token, card, count) as connections,
    ):
        await ready(http, server.url, token, card, connections)
        written = 0
        stop = time.monotonic() + seconds

        async def writer() -> None:
            nonlocal written
            while time.monotonic() < stop:
                await graphql(http, server.url, NOTE, token, c=card, b="load")
                written += 1

        start = time.monotonic()
        await asyncio.gather(*(writer() for _ in range(8)))
        await asyncio.gather(*(_take(ws, written) for ws in connections))
        return written / (time.monotonic() - start)


async def _take(ws: ClientConnection, count: int) -> None:
    for _ in range(count):
        await next_event(ws)


async def held_mib(server: Server) -> float:
    """What the server holds: its resident set once garbage is collected and malloc has given
    back what it kept free (bench/trimmed_server.py)."""
    async with httpx.AsyncClient(trust_env=False, timeout=60) as http:
        response = await http.get(f"http://{HOST}:{server.port}/bench/rss")
        response.raise_for_status()
        return int(response.text) / 1024


async def memory(
    server: Server, token: str, card: str, idle: int, cycles: int
) -> tuple[float, float, float, float]:
    """In a fresh server: memory held per subscription over the first 100 (with what a
    process allocates once, on its first connections) and over `idle` more, idle at once;
    then memory held before and after `cycles` subscribe/complete cycles on one connection."""
    ws_url = server.url.replace("http", "ws")
    per_kib = []
    for count in (100, idle):
        before = await held_mib(server)
        async with (
            httpx.AsyncClient(trust_env=False, timeout=60) as http,
            subscribers(http, server.url, token, card, count) as connections,
        ):
            await ready(http, server.url, token, card, connections)
            per_kib.append((await held_mib(server) - before) * 1024 / count)
    async with connect(ws_url, subprotocols=PROTOCOL) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        await ws.recv()
        start = await held_mib(server)
        for cycle in range(cycles):
            op = str(cycle)
            await ws.send(
                json.dumps(
                    {
                        "id": op,
                        "type": "subscribe",
                        "payload": {"query": FOLLOW, "variables": {"c": card}},
                    }
                )
            )
            await ws.send(json.dumps({"id": op, "type": "complete"}))
            if cycle % 100 == 99:  # a round trip now and then keeps the client in step
                await ws.send(json.dumps({"type": "ping"}))
                while json.loads(await ws.recv())["type"] != "pong":
                    pass
        end = await held_mib(server)
    return per_kib[0], per_kib[1], start, end


async def timings(
    server: Server, counts: list[int], events: int, seconds: float
) -> tuple[str, str]:
    """Latency and throughput; the token and card it seeded, for the memory server."""
    async with httpx.AsyncClient(trust_env=False, timeout=60) as http:
        token, card = await seed(http, server.url)
    print("latency from commit to delivery (ms):")
    for count in counts:
        p50, p99 = await latency(
            server, token, card, count, events if count < 1000 else max(events // 4, 5)
        )
        print(f"  {count:>5} subscribers  p50 {p50:7.1f}  p99 {p99:7.1f}")
    rate = await throughput(server, token, card, 100, seconds)
    print(f"events/s delivered to 100 subscribers (8 writers, {seconds:.0f} s): {rate:.0f}")
    return token, card


async def memory_use(server: Server, token: str, card: str, cycles: int) -> None:
    first, idle, start, end = await memory(server, token, card, 1000, cycles)
    print("memory held per idle subscription, in a fresh server:")
    print(f"  the first 100: {first:.1f} KiB each (what a process allocates once)")
    print(f"  1,000 more, idle at once: {idle:.1f} KiB each")
    print(f"held before/after {cycles:,} subscribe/complete cycles: {start:.1f} / {end:.1f} MiB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live")
    parser.add_argument("--subscribers", default="1,100,1000")
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    created = None
    try:
        with tempfile.TemporaryDirectory() as directory:
            if args.database_url:
                url = created = asyncio.run(create_postgres_database(args.database_url))
            else:
                url = sqlite_url(Path(directory))
            migrate(url)
            server = start_server("live", "server:create_app", url, Path(directory), SETTINGS)
            try:
                counts = [int(n) for n in args.subscribers.split(",")]
                token, card = asyncio.run(timings(server, counts, args.events, args.seconds))
            finally:
                server.stop()
            server = start_server(
                "memory", "bench.trimmed_server:create_app", url, Path(directory), SETTINGS
            )
            try:
                asyncio.run(memory_use(server, token, card, args.cycles))
            finally:
                server.stop()
    except BenchError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        if created:
            asyncio.run(drop_postgres_database(created))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

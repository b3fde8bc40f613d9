"""A card's history: the first page of a card with 10,000 events, over real HTTP on loopback.

    python -m bench.activity [--events N] [--duration SECONDS] [--connections C]
                             [--database-url postgresql+asyncpg://user@127.0.0.1:5432/NAME]

Seeds a card (SQLite in a temporary directory, or a PostgreSQL database it creates and drops)
with N history events from a few authors, half of them with field changes, serves the app with
uvicorn (one worker), and drives `contact(id:) { activity(first: 20) { ... } }` from a
separate process. Prints the statements one request costs (counted in process) and the
latency percentiles and requests per second.
"""

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from bench.dataset import SIGN_UP, _call
from bench.load import choose_tool, run_load
from bench.servers import (
    BenchError,
    bench_database,
    start_server,
)
from bench.sql_cost import statements_of
from models.activity import ActivityEvent, ActivityKind
from models.db import create_engine
from server import create_app
from services.ids import decode_id
from services.settings import Settings

CARD = """mutation($input: ContactCreateInput!) { contactCreate(input: $input) {
  contact { id } userErrors { message } } }"""
CATEGORY = """mutation { categoryCreate(input: {key: "customers", name: "Customers"}) {
  category { id } userErrors { message } } }"""
HISTORY = """query($id: ID!) { contact(id: $id) { activity(first: 20) { totalCount
  pageInfo { hasNextPage endCursor }
  nodes { kind at actor { name } changes { field label before after } details } } } }"""


async def seed(url: str, events: int) -> tuple[str, str]:
    """A signed-in admin's token and a card with `events` history events."""
    app = create_app(Settings(database_url=url, graphiql=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            signed_up = await _call(
                client,
                SIGN_UP,
                {"input": {"email": "b@example.com", "password": "benchmark pw", "name": "B"}},
            )
            token: str = signed_up["token"]
            category = await _call(client, CATEGORY, {}, token)
            card = await _call(
                client,
                CARD,
                {"input": {"categoryId": category["category"]["id"], "name": "Acme"}},
                token,
            )
    card_id: str = card["contact"]["id"]
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            rows = [_event(i, decode_id(card_id, "Contact")) for i in range(events)]
            for start in range(0, len(rows), 5000):
                await connection.execute(insert(ActivityEvent), rows[start : start + 5000])
    finally:
        await engine.dispose()
    return token, card_id


def _event(i: int, contact_id: int) -> dict[str, Any]:
    changed = i % 2 == 0
    return {
        "kind": ActivityKind.CONTACT_UPDATED if changed else ActivityKind.NOTE_ADDED,
        "actor_id": 1,
        "contact_id": contact_id,
        "subject_type": "Contact",
        "subject_id": contact_id,
        "tx": 0,
        "data": {
            "changes": [{"field": "name", "label": "Name", "before": f"A{i}", "after": f"A{i + 1}"}]
        }
        if changed
        else {},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.activity")
    parser.add_argument("--events", type=int, default=10_000, help="events on the card (10000)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of load (10)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (8)")
    parser.add_argument("--database-url", help="a PostgreSQL server instead of SQLite")
    parser.add_argument("--load-generator", default="auto", choices=("auto", "wrk", "httpx"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="crm-bench-activity-") as directory:
        try:
            with bench_database(args.database_url, Path(directory)) as url:
                token, card_id = asyncio.run(seed(url, args.events))
                statements = asyncio.run(statements_of(url, token, HISTORY, {"id": card_id}))
                server = start_server("graphql", "server:create_app", url, Path(directory))
                try:
                    body = json.dumps({"query": HISTORY, "variables": {"id": card_id}})
                    result = run_load(
                        choose_tool(args.load_generator),
                        server.url,
                        token,
                        [body],
                        duration=args.duration,
                        connections=args.connections,
                    )
                finally:
                    server.stop()
        except BenchError as exc:
            print(f"bench.activity: {exc}", file=sys.stderr)
            return 1
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"A card's history, first page of 20, {args.events:,} events, {database}, one worker")
    print(f"  statements per request: {statements}")
    print(
        f"  {result.rps:.0f} req/s, p50 {result.p50_ms:.1f} ms, p95 {result.p95_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms ({result.tool}, {args.connections} connections, "
        f"{result.bad} bad)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

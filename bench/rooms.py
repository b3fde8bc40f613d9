"""A project room over a large category: its to-do list and its overview, over real HTTP.

    python -m bench.rooms [--cards N] [--todos M] [--duration SECONDS] [--connections C]
                          [--database-url postgresql+asyncpg://user@127.0.0.1:5432/NAME]

Seeds N cards in one category (SQLite in a temporary directory, or a PostgreSQL database it
creates and drops), a room that gathers the category, M to-dos spread over the cards (a tenth
of them the room's own, a third done, due dates from last month to next), serves the app with
uvicorn (one worker) and drives, from a separate process, the room's first page of open to-dos
and then its overview. Prints the statements each request costs (counted in process) and the
latency percentiles and requests per second.
"""

import argparse
import asyncio
import json
import random
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text

from bench.dataset import _call, seed
from bench.load import LoadResult, choose_tool, run_load
from bench.servers import (
    BenchError,
    bench_database,
    start_server,
)
from bench.sql_cost import statements_of
from models.db import create_engine
from models.todos import Priority, Todo, TodoStatus
from server import create_app
from services.ids import decode_id, encode_id
from services.settings import Settings

ROOM = """mutation($input: RoomCreateInput!) { roomCreate(input: $input) {
  room { id } userErrors { message } } }"""
LINK = """mutation($input: RoomCategoryInput!) { roomCategoryLink(input: $input) {
  room { id } userErrors { message } } }"""
TODOS = """query($id: ID!) { node(id: $id) { ... on ProjectRoom {
  todos(status: OPEN, first: 20) { totalCount pageInfo { hasNextPage endCursor }
    nodes { title dueAt overdue priority assignee { name } contact { name } } } } } }"""
OVERVIEW = """query($id: ID!) { node(id: $id) { ... on ProjectRoom { overview {
  open overdue dueThisWeek doneThisWeek notesThisWeek load { open overdue assignee { name } }
  newestFiles(first: 5) { name } latestActivity(first: 10) { kind at } } } } }"""


@dataclass(frozen=True)
class Room:
    token: str
    room_id: str


async def seed_room(url: str, cards: int, todos: int) -> Room:
    seeded = await seed(url, cards)
    app = create_app(Settings(database_url=url, graphiql=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            room = await _call(client, ROOM, {"input": {"name": "Customers 2027"}}, seeded.token)
            room_id: str = room["room"]["id"]
            await _call(
                client,
                LINK,
                {
                    "input": {
                        "roomId": room_id,
                        "categoryId": encode_id("Category", seeded.category_id),
                    }
                },
                seeded.token,
            )
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            rows = list(_todos(todos, seeded.card_ids, decode_id(room_id, "ProjectRoom")))
            for start in range(0, len(rows), 5000):
                await connection.execute(insert(Todo), rows[start : start + 5000])
            if engine.dialect.name == "postgresql":
                await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return Room(seeded.token, room_id)


def _todos(count: int, card_ids: list[int], room_id: int) -> Any:
    rng = random.Random(20270101)
    now = datetime.now(UTC)
    for i in range(count):
        own = i % 10 == 0
        done = rng.random() < 1 / 3
        due = now + timedelta(hours=rng.randrange(-30 * 24, 30 * 24)) if i % 4 else None
        yield {
            "contact_id": None if own else rng.choice(card_ids),
            "room_id": room_id if own else None,
            "title": f"To-do {i}",
            "due_at": due,
            "priority": rng.choice(list(Priority)),
            "status": TodoStatus.DONE if done else TodoStatus.OPEN,
            "assignee_id": 1,
            "created_by_id": 1,
            "completed_at": now - timedelta(days=rng.randrange(14)) if done else None,
            "created_at": now,
            "updated_at": now,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rooms")
    parser.add_argument("--cards", type=int, default=10_000, help="cards in the room (10000)")
    parser.add_argument("--todos", type=int, default=50_000, help="to-dos in the room (50000)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of load each (10)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (8)")
    parser.add_argument("--database-url", help="a PostgreSQL server instead of SQLite")
    parser.add_argument("--load-generator", default="auto", choices=("auto", "wrk", "httpx"))
    args = parser.parse_args(argv)
    results: dict[str, tuple[int, LoadResult]] = {}
    with tempfile.TemporaryDirectory(prefix="crm-bench-rooms-") as directory:
        try:
            with bench_database(args.database_url, Path(directory)) as url:
                room = asyncio.run(seed_room(url, args.cards, args.todos))
                server = start_server("graphql", "server:create_app", url, Path(directory))
                try:
                    for name, query in (("open to-dos, first 20", TODOS), ("overview", OVERVIEW)):
                        statements = asyncio.run(
                            statements_of(url, room.token, query, {"id": room.room_id})
                        )
                        body = json.dumps({"query": query, "variables": {"id": room.room_id}})
                        results[name] = (
                            statements,
                            run_load(
                                choose_tool(args.load_generator),
                                server.url,
                                room.token,
                                [body],
                                duration=args.duration,
                                connections=args.connections,
                            ),
                        )
                finally:
                    server.stop()
        except BenchError as exc:
            print(f"bench.rooms: {exc}", file=sys.stderr)
            return 1
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"A project room over {args.cards:,} cards with {args.todos:,} to-dos, {database}, "
        "one worker"
    )
    for name, (statements, result) in results.items():
        print(
            f"  {name}: {statements} statements, {result.rps:.0f} req/s, "
            f"p50 {result.p50_ms:.1f} ms, p95 {result.p95_ms:.1f} ms, p99 {result.p99_ms:.1f} ms "
            f"({result.tool}, {args.connections} connections, {result.bad} bad)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

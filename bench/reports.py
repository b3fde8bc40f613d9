"""A report of five grouped statistics over a large category, over real HTTP.

    python -m bench.reports [--cards N] [--duration SECONDS] [--connections C]
                            [--database-url postgresql+asyncpg://user@127.0.0.1:5432/NAME]

Seeds N realistic cards (bench/dataset.py: SQLite in a temporary directory, or a PostgreSQL
database it creates and drops), defines five statistics through the API (cards per segment,
revenue per segment, average employees per newsletter choice, cards per founding year, average
churn risk per country), serves the app with uvicorn (one worker) and asks, from a separate
process, for the report of all five. Prints the statements a report costs (counted in process)
and the latency percentiles and requests per second.
"""

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

import httpx

from bench.dataset import _call, seed
from bench.load import choose_tool, run_load
from bench.servers import (
    BenchError,
    bench_database,
    start_server,
)
from bench.sql_cost import statements_of
from server import create_app
from services.ids import encode_id
from services.settings import Settings

DEFINE = """mutation($input: StatisticCreateInput!) { statisticCreate(input: $input) {
  statistic { id } userErrors { message } } }"""
REPORT = """query($c: ID!) { report(categoryId: $c) { statistics { statistic { name }
  rows { period { label } group { key label } value number cards } } } }"""
STATISTICS = (
    {"name": "Cards per segment", "kind": "COUNT", "groupBy": "segment"},
    {"name": "Revenue per segment", "kind": "SUM", "fieldKey": "revenue", "groupBy": "segment"},
    {
        "name": "Employees per newsletter choice",
        "kind": "AVG",
        "fieldKey": "employees",
        "groupBy": "newsletter",
    },
    {"name": "Founded per year", "kind": "COUNT", "bucket": "YEAR", "bucketOn": "founded"},
    {
        "name": "Churn risk per country",
        "kind": "AVG",
        "fieldKey": "churn_risk",
        "groupBy": "country",
    },
)


async def seed_statistics(url: str, cards: int) -> tuple[str, str]:
    """The token and the category's ID."""
    seeded = await seed(url, cards)
    category = encode_id("Category", seeded.category_id)
    app = create_app(Settings(database_url=url, graphiql=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for statistic in STATISTICS:
                await _call(
                    client, DEFINE, {"input": {"categoryId": category, **statistic}}, seeded.token
                )
    return seeded.token, category


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports")
    parser.add_argument("--cards", type=int, default=100_000, help="cards (100000)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of load (10)")
    parser.add_argument("--connections", type=int, default=1, help="concurrent connections (1)")
    parser.add_argument("--database-url", help="a PostgreSQL server instead of SQLite")
    parser.add_argument("--load-generator", default="auto", choices=("auto", "wrk", "httpx"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="crm-bench-reports-") as directory:
        try:
            with bench_database(args.database_url, Path(directory)) as url:
                token, category = asyncio.run(seed_statistics(url, args.cards))
                variables = {"c": category}
                statements = asyncio.run(statements_of(url, token, REPORT, variables))
                server = start_server("graphql", "server:create_app", url, Path(directory))
                try:
                    body = json.dumps({"query": REPORT, "variables": variables})
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
            print(f"bench.reports: {exc}", file=sys.stderr)
            return 1
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"A report of five grouped statistics over {args.cards:,} cards, {database}, one worker")
    print(
        f"  {statements} statements, {result.rps:.1f} req/s, p50 {result.p50_ms:.0f} ms, "
        f"p95 {result.p95_ms:.0f} ms, p99 {result.p99_ms:.0f} ms "
        f"({result.tool}, {args.connections} connections, {result.bad} bad)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

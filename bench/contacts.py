"""Reading contact cards: GraphQL against its floor, over real HTTP on loopback.

    python -m bench.contacts [--cards N] [--duration SECONDS] [--connections C]
                             [--database-url postgresql+asyncpg://user@127.0.0.1:5432/NAME]
                             [--load-generator auto|wrk|httpx]

Seeds a fresh database (SQLite in a temporary directory, or a PostgreSQL database it creates
and drops), serves the GraphQL app and the floor (bench/floor.py) with uvicorn (one worker
each), then for each scenario drives both from a separate process (wrk, or bench/loadgen.py)
and prints latency percentiles, requests/s, SQL statements per request and the GraphQL/floor
ratios. Progress goes to stderr, the report to stdout. It stops by itself: about
3 scenarios x 2 servers x (warm-up + duration), plus seeding.
"""

import argparse
import asyncio
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text

from bench.dataset import FIELDS, Seeded, seed
from bench.load import LoadResult, choose_tool, run_load
from bench.queries import PAGE_SIZE, Scenario, scenarios
from bench.servers import (
    BenchError,
    Server,
    create_postgres_database,
    drop_postgres_database,
    migrate,
    sqlite_url,
    start_server,
)
from bench.sql_cost import PAGE_SIZES, Inspection, inspect
from models.db import create_engine


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.contacts", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--cards", type=int, default=10_000, help="cards to seed (10000)")
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds of load per scenario and server (10)"
    )
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (8)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to use instead of SQLite, e.g. "
        "postgresql+asyncpg://postgres@127.0.0.1:5432/crm_bench (the database is created and "
        "dropped; without a name a fresh one is made up)",
    )
    parser.add_argument(
        "--load-generator",
        choices=("auto", "wrk", "httpx"),
        default="auto",
        help="wrk when installed (auto), or the asyncio httpx client",
    )
    args = parser.parse_args(argv)
    if args.cards < 100:
        parser.error("--cards must be at least 100")
    if args.duration < 1:
        parser.error("--duration must be at least 1 second")
    if args.connections < 1:
        parser.error("--connections must be at least 1")
    if args.database_url and not args.database_url.startswith("postgresql+asyncpg://"):
        parser.error("--database-url must start with postgresql+asyncpg://")
    return args


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Measured:
    scenario: Scenario
    graphql: LoadResult
    floor: LoadResult


@dataclass
class Run:
    database: str
    tool: str
    seeded: Seeded
    inspection: Inspection
    measured: list[Measured]
    peak_rss: dict[str, float | None]
    warm_up: int
    load_average: tuple[float, float]  # 1-minute load average before and after the load runs


def _check_server(server: Server, token: str, body: str) -> None:
    """One request over HTTP before the load: it must succeed without errors."""
    with httpx.Client(trust_env=False, timeout=30) as client:
        response = client.post(
            server.url,
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    if response.status_code != 200 or b'"errors"' in response.content:
        raise BenchError(f"{server.name} answered {response.status_code}: {response.text[:500]}")


def measure(
    url: str,
    seeded: Seeded,
    scenario_list: list[Scenario],
    *,
    tool: str,
    duration: int,
    connections: int,
    warm_up: int,
    log_dir: Path,
) -> tuple[list[Measured], dict[str, float | None]]:
    servers: list[Server] = []
    try:
        graphql = start_server("graphql", "server:create_app", url, log_dir)
        servers.append(graphql)
        floor = start_server("floor", "bench.floor:create_app", url, log_dir)
        servers.append(floor)
        measured = []
        for scenario in scenario_list:
            results: dict[str, LoadResult] = {}
            for server in (graphql, floor):
                _check_server(server, seeded.token, scenario.bodies[0])
                progress(f"  {scenario.label}: {server.name}, {warm_up} s warm-up + {duration} s")
                run_load(
                    tool,
                    server.url,
                    seeded.token,
                    scenario.bodies,
                    duration=warm_up,
                    connections=connections,
                )
                results[server.name] = run_load(
                    tool,
                    server.url,
                    seeded.token,
                    scenario.bodies,
                    duration=duration,
                    connections=connections,
                )
                if server.process.poll() is not None:
                    raise BenchError(f"The {server.name} server died:\n{server.log_tail()}")
            measured.append(Measured(scenario, results["graphql"], results["floor"]))
        peak_rss = {server.name: server.peak_rss_mib() for server in servers}
    finally:
        for server in servers:
            server.stop()
    return measured, peak_rss


async def database_version(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                version = await connection.scalar(text("SELECT sqlite_version()"))
                return f"SQLite {version} (a file in a temporary directory, WAL)"
            version = await connection.scalar(text("SHOW server_version"))
            return f"PostgreSQL {version} on {engine.url.host}:{engine.url.port or 5432}"
    finally:
        await engine.dispose()


def run(args: argparse.Namespace, directory: Path) -> Run:
    tool = choose_tool(args.load_generator)
    created: str | None = None
    try:
        if args.database_url:
            url = created = asyncio.run(create_postgres_database(args.database_url))
        else:
            url = sqlite_url(directory)
        progress(f"Database {re.sub(r'//[^@/]*@', '//', url)}: alembic upgrade head")
        migrate(url)
        database = asyncio.run(database_version(url))
        progress(f"Seeding {args.cards:,} cards")
        seeded = asyncio.run(seed(url, args.cards))
        scenario_list = scenarios(seeded.category_id, seeded.card_ids)
        progress("Counting statements and comparing responses in process")
        inspection = asyncio.run(inspect(url, seeded.token, seeded.category_id, scenario_list))
        warm_up = max(1, min(3, args.duration // 5))
        progress(f"Load with {tool}, {args.connections} connections")
        load_before = os.getloadavg()[0]
        measured, peak_rss = measure(
            url,
            seeded,
            scenario_list,
            tool=tool,
            duration=args.duration,
            connections=args.connections,
            warm_up=warm_up,
            log_dir=directory,
        )
    finally:
        if created:
            asyncio.run(drop_postgres_database(created))
    load_average = (load_before, os.getloadavg()[0])
    return Run(database, tool, seeded, inspection, measured, peak_rss, warm_up, load_average)


# --- the report --------------------------------------------------------------------------------


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
        if found:
            model = found.group(1).strip()
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def _tool_version(tool: str) -> str:
    if tool != "wrk":
        return "bench/loadgen.py (asyncio + httpx, one client per connection; wrk not installed)"
    wrk = shutil.which("wrk")
    assert wrk is not None
    output = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False).stdout
    first = output.splitlines()[0] if output else "wrk"
    return f"{first.split(' [')[0]} (1 thread)"


def _short_sql(statement: str) -> str:
    """The statement with its select list elided and whitespace collapsed."""
    statement = " ".join(statement.split())
    return re.sub(r"^SELECT .*? FROM contact", "SELECT contact.* … FROM contact", statement)


def _tables(statements: list[str]) -> str:
    """What each statement reads, e.g. "auth_session+user_account, contact"."""
    names = []
    for statement in statements:
        tables = re.findall(r"\b(?:FROM|JOIN)\s+\"?(\w+)", statement)
        names.append("+".join(dict.fromkeys(tables)) or statement.split()[0])
    return ", ".join(names)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def report(run: Run, args: argparse.Namespace) -> str:
    s = run.seeded
    cards = len(s.card_ids)
    indexed = sum(1 for f in FIELDS if f.indexed or f.unique)
    seeding = (
        f"admin, category and fields through GraphQL {s.setup_seconds:.2f} s; "
        f"{cards:,} cards + {s.persons:,} persons in {s.insert_seconds:.2f} s "
        f"({cards / s.insert_seconds:,.0f} cards/s, one transaction)"
    )
    if s.analyze_seconds >= 0.005:
        seeding += f"; ANALYZE {s.analyze_seconds:.2f} s"
    lines = [
        "CRM contacts benchmark",
        f"  machine   {_machine()}; load average {run.load_average[0]:.1f} before the load "
        f"runs, {run.load_average[1]:.1f} after (other work on the machine skews the figures; "
        "ratios skew less)",
        f"  database  {run.database}",
        f"  data      {cards:,} cards in one category, {len(FIELDS)} custom fields "
        f"({indexed} with expression indexes), {s.persons:,} persons",
        f"  seeding   {seeding}",
        f"  load      {_tool_version(run.tool)}, {args.connections} connections, {args.duration} s "
        f"per run after {run.warm_up} s warm-up; one uvicorn worker per server; loopback",
        "",
        "Query plans of the page statement (the GraphQL request's own SQL and parameters):",
    ]
    for key, (statement, plan) in run.inspection.plans.items():
        lines.append(f"  ({key}) {_short_sql(statement)}")
        lines += [f"        {line}" for line in plan]
    lines += [
        "",
        "SQL statements per request (in process, before_cursor_execute listener; BEGIN, ROLLBACK "
        "and pool pre-ping round trips not counted):",
    ]
    for key in ("a", "b"):
        sizes = run.inspection.by_page_size[key]
        graphql = " / ".join(str(sizes[n][0]) for n in PAGE_SIZES)
        floor = " / ".join(str(sizes[n][1]) for n in PAGE_SIZES)
        pages = " / ".join(str(n) for n in PAGE_SIZES)
        lines.append(f"  ({key}) pages of {pages}: GraphQL {graphql}; floor {floor}")
    card = run.inspection.costs["c"]
    lines.append(f"  (c) one card: GraphQL {card.statements}; floor {card.floor_statements}")
    for key, cost in run.inspection.costs.items():
        lines.append(f"  ({key}) GraphQL: {_tables(cost.sql)}; floor: {_tables(cost.floor_sql)}")
    same = ", ".join(f"({k}) {c.same_response}" for k, c in run.inspection.costs.items())
    lines.append(f"  floor answers exactly what GraphQL answers: {same}")

    header = (
        f"{'scenario':<44} {'server':<14} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'SQL/req':>7} {'KiB':>6} {'bad':>4}"
    )
    lines += ["", header, "-" * len(header)]
    for m in run.measured:
        cost = run.inspection.costs[m.scenario.key]
        rows = (
            ("GraphQL", m.graphql, cost.statements, cost.response_bytes),
            ("floor", m.floor, cost.floor_statements, cost.floor_response_bytes),
        )
        for i, (name, r, statements, size) in enumerate(rows):
            title = m.scenario.label if i == 0 else ""
            lines.append(
                f"{title:<44} {name:<14} {r.rps:>8.0f} {r.p50_ms:>8.1f} {r.p95_ms:>8.1f} "
                f"{r.p99_ms:>8.1f} {statements:>7} {size / 1024:>6.1f} {r.bad + r.errors:>4}"
            )
        g, f = m.graphql, m.floor
        lines.append(
            f"{'':<44} {'GraphQL/floor':<14} {_ratio(g.rps, f.rps):>8} "
            f"{_ratio(g.p50_ms, f.p50_ms):>8} {_ratio(g.p95_ms, f.p95_ms):>8} "
            f"{_ratio(g.p99_ms, f.p99_ms):>8} "
            f"{_ratio(cost.statements, cost.floor_statements):>7} "
            f"{_ratio(cost.response_bytes, cost.floor_response_bytes):>6}"
        )
    lines.append("")
    for m in run.measured:
        if m.scenario.min_rps is not None:
            met = "met" if m.graphql.rps >= m.scenario.min_rps else "MISSED"
            lines.append(
                f"Target ({m.scenario.key}) >= {m.scenario.min_rps:.0f} req/s: "
                f"{m.graphql.rps:,.0f} req/s, {met}"
            )
    independent = all(
        len({sizes[n][0] for n in PAGE_SIZES}) == 1
        for sizes in run.inspection.by_page_size.values()
    )
    lines.append(
        "Target: statements per request independent of the page size: "
        + ("met" if independent else "MISSED")
    )
    rss = ", ".join(
        f"{name} {mib:.0f} MiB" if mib is not None else f"{name} n/a"
        for name, mib in run.peak_rss.items()
    )
    lines.append(f"Peak RSS of the servers: {rss}")
    lines.append(
        f"(page size {PAGE_SIZE}; ratios are GraphQL divided by floor; bad = non-200, GraphQL "
        "errors, socket errors or timeouts)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="crm-bench-") as directory:
            result = run(args, Path(directory))
    except BenchError as exc:
        print(f"bench.contacts: {exc}", file=sys.stderr)
        return 1
    print(report(result, args))
    progress(f"Done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

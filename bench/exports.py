"""Exporting every card of a large category as CSV and as XLSX, over real HTTP.

    python -m bench.exports [--cards N]
                            [--database-url postgresql+asyncpg://user@127.0.0.1:5432/NAME]

Seeds N realistic cards (bench/dataset.py: SQLite in a temporary directory, or a PostgreSQL
database it creates and drops), then for each format starts a fresh server (uvicorn, one
worker), asks for the export through the API and downloads it from its link, reading the body
as it streams. Prints rows per second, the file's size, the time to the first byte, and how
much the server's peak resident memory grew during the download (the peak is reset to the
resident set just before it, so this is what the export made the process hold at its worst).
"""

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.dataset import _call, seed
from bench.servers import (
    BenchError,
    Server,
    bench_database,
    start_server,
)
from services.ids import encode_id

EXPORT = """mutation($input: ContactsExportInput!) { contactsExport(input: $input) {
  export { downloadUrl } userErrors { message } } }"""


@dataclass(frozen=True)
class Measured:
    seconds: float
    first_byte_seconds: float
    size: int
    peak_growth_mib: float


async def export_once(server: Server, token: str, category: str, sheet_format: str) -> Measured:
    base = server.url.removesuffix("/graphql")
    async with httpx.AsyncClient(base_url=base, timeout=600, trust_env=False) as client:
        payload = await _call(
            client, EXPORT, {"input": {"categoryId": category, "format": sheet_format}}, token
        )
        # The link names CRM_PUBLIC_URL; the bench server listens on a port of its own.
        link = urlsplit(payload["export"]["downloadUrl"])
        url = f"{link.path}?{link.query}"
        before = server.reset_peak_rss_mib()
        started = time.perf_counter()
        first_byte = None
        size = 0
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise BenchError(f"The download answered {response.status_code}")
            async for chunk in response.aiter_raw():
                if first_byte is None:
                    first_byte = time.perf_counter() - started
                size += len(chunk)
        seconds = time.perf_counter() - started
        after = server.peak_rss_mib() or 0.0
    return Measured(seconds, first_byte or seconds, size, after - before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.exports")
    parser.add_argument("--cards", type=int, default=100_000, help="cards (100000)")
    parser.add_argument("--database-url", help="a PostgreSQL server instead of SQLite")
    args = parser.parse_args(argv)
    results: dict[str, Measured] = {}
    with tempfile.TemporaryDirectory(prefix="crm-bench-exports-") as directory:
        try:
            with bench_database(args.database_url, Path(directory)) as url:
                seeded = asyncio.run(seed(url, args.cards))
                category = encode_id("Category", seeded.category_id)
                for sheet_format in ("CSV", "XLSX"):
                    server = start_server(
                        sheet_format.lower(), "server:create_app", url, Path(directory)
                    )
                    try:
                        results[sheet_format] = asyncio.run(
                            export_once(server, seeded.token, category, sheet_format)
                        )
                    finally:
                        server.stop()
        except BenchError as exc:
            print(f"bench.exports: {exc}", file=sys.stderr)
            return 1
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"Export of {args.cards:,} cards, every field, {database}, one worker")
    for sheet_format, measured in results.items():
        print(
            f"  {sheet_format:<4} {args.cards / measured.seconds:,.0f} rows/s "
            f"({measured.seconds:.1f} s, first byte after {measured.first_byte_seconds:.2f} s), "
            f"{measured.size / 2**20:.1f} MiB, peak RSS growth {measured.peak_growth_mib:.1f} MiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

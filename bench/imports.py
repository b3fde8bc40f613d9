"""Importing a large CSV file of cards, over real HTTP.

    python -m bench.imports [--rows N]
                            [--database-url postgresql+asyncpg://user@127.0.0.1:5432/NAME]

Creates the benchmark category (bench/dataset.py: twelve typed custom fields, one of them
unique) and writes a CSV file of N realistic rows (its name, e-mail, city, country and every
custom field). A fresh server (uvicorn, one worker) takes it twice: as an ALL_OR_NOTHING
import, then (the same rows, their unique numbers changed) as SKIP_INVALID. Prints rows per
second from the upload to the import's end, and how much the server's peak resident memory
grew meanwhile (the peak reset to the resident set just before).
"""

import argparse
import asyncio
import csv
import json
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.dataset import CITIES, FIELDS, NAME_FIRST, NAME_SECOND, NAME_SUFFIX, _raw_values
from bench.dataset import _create_schema as create_schema
from bench.servers import (
    BenchError,
    Server,
    bench_database,
    start_server,
)
from services.ids import encode_id

IMPORT = """mutation($input: ContactsImportInput!) { contactsImport(input: $input) {
  contactImport { id } userErrors { field message } } }"""
READ = """query($id: ID!) { contactImport(id: $id) { state rowsDone created errorCount failure
  errors { line column message } } }"""
DETAILS = (("Name", "name"), ("E-mail", "email"), ("City", "address.city"))
COUNTRY = ("Country", "address.country")


def write_file(path: Path, rows: int, seed: int, numbers_from: int) -> None:
    rng = random.Random(seed)
    labels = [plan.label for plan in FIELDS]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([label for label, _ in DETAILS] + [COUNTRY[0], *labels])
        for i in range(rows):
            name = f"{rng.choice(NAME_FIRST)} {rng.choice(NAME_SECOND)} {rng.choice(NAME_SUFFIX)}"
            domain = f"{name.split()[0].lower()}{i}.example"
            values = _raw_values(numbers_from + i, rng, domain)
            city, country = rng.choice(CITIES)
            cells = [name, f"info@{domain}", city, country]
            for plan in FIELDS:
                value = values.get(plan.key)
                if isinstance(value, bool):
                    value = "yes" if value else "no"
                elif plan.type == "SELECT" and value is not None:
                    value = str(value).replace("_", " ").title()  # by its label
                cells.append("" if value is None else str(value))
            writer.writerow(cells)


@dataclass(frozen=True)
class Measured:
    seconds: float
    rows: int
    peak_growth_mib: float


async def import_once(server: Server, token: str, category: str, path: Path, mode: str) -> Measured:
    mapping = [{"column": label, "field": target} for label, target in (*DETAILS, COUNTRY)]
    mapping += [{"column": plan.label, "field": plan.key} for plan in FIELDS]
    operations = {
        "query": IMPORT,
        "variables": {
            "input": {"categoryId": category, "mapping": mapping, "mode": mode, "file": None}
        },
    }
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        f"{json.dumps(operations)}\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="map"\r\n\r\n{"0": ["variables.input.file"]}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="cards.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    body = head + await asyncio.to_thread(path.read_bytes) + f"\r\n--{boundary}--\r\n".encode()
    headers = {
        "Authorization": f"Bearer {token}",
        "GraphQL-Require-Preflight": "1",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    async with httpx.AsyncClient(timeout=600, trust_env=False) as client:
        before = server.reset_peak_rss_mib()
        started = time.perf_counter()
        answer = (await client.post(server.url, content=body, headers=headers)).json()
        payload = answer["data"]["contactsImport"] if "data" in answer else None
        if payload is None or payload["userErrors"]:
            raise BenchError(f"The import was refused: {answer}")
        job_id = payload["contactImport"]["id"]
        while True:  # a benchmark polls; tests wait on the worker instead
            read = await client.post(
                server.url,
                json={"query": READ, "variables": {"id": job_id}},
                headers={"Authorization": f"Bearer {token}"},
            )
            answer = read.json()
            if "data" not in answer:
                raise BenchError(f"Reading the import failed: {answer}")
            job = answer["data"]["contactImport"]
            if job["state"] in ("SUCCEEDED", "FAILED"):
                break
            await asyncio.sleep(0.2)
        seconds = time.perf_counter() - started
        after = server.peak_rss_mib() or 0.0
    if job["state"] != "SUCCEEDED" or job["errorCount"]:
        raise BenchError(f"The import did not go through: {job}")
    return Measured(seconds, job["created"], after - before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.imports")
    parser.add_argument("--rows", type=int, default=50_000, help="rows (50000)")
    parser.add_argument("--database-url", help="a PostgreSQL server instead of SQLite")
    args = parser.parse_args(argv)
    results: dict[str, Measured] = {}
    with tempfile.TemporaryDirectory(prefix="crm-bench-imports-") as directory:
        folder = Path(directory)
        try:
            with bench_database(args.database_url, folder) as url:
                token, _, category_id = asyncio.run(create_schema(url))
                category = encode_id("Category", category_id)
                files = {
                    "ALL_OR_NOTHING": folder / "first.csv",
                    "SKIP_INVALID": folder / "second.csv",
                }
                for offset, path in enumerate(files.values()):
                    write_file(path, args.rows, seed=offset, numbers_from=offset * args.rows)
                settings = {"CRM_STORAGE_URL": f"file:{folder / 'files'}"}
                server = start_server("imports", "server:create_app", url, folder, settings)
                try:
                    for mode, path in files.items():
                        results[mode] = asyncio.run(
                            import_once(server, token, category, path, mode)
                        )
                finally:
                    server.stop()
        except BenchError as exc:
            print(f"bench.imports: {exc}", file=sys.stderr)
            return 1
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"Import of {args.rows:,} CSV rows (16 columns), {database}, one worker")
    for mode, measured in results.items():
        print(
            f"  {mode:<14} {measured.rows / measured.seconds:,.0f} rows/s "
            f"({measured.seconds:.1f} s from upload to end), "
            f"peak RSS growth {measured.peak_growth_mib:.1f} MiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

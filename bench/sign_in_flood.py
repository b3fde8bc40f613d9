"""A flood of anonymous sign-ins while a signed-in user works: does the user still get answers?

    python -m bench.sign_in_flood [--duration SECONDS] [--flood CONNECTIONS]

Serves the app with uvicorn (one worker, SQLite in a temporary directory), signs up a user,
and measures `{ me { id } }` from one connection: first alone, then while a separate process
keeps CONNECTIONS sign-ins with made-up addresses and wrong passwords in flight. Twice: from one
client (the per-client sign-in throttle soon refuses it without checking passwords), as if
from countless clients (that throttle set out of reach, so only the bound on password work
protects the user), and the same without that bound, for comparison. Prints latency
percentiles and what happened to the sign-ins ("refused": answered 429 or with errors).
"""

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.load import LoadResult, run_load
from bench.servers import BenchError, Server, migrate, sqlite_url, start_server

ME = json.dumps({"query": "{ me { id } }"})
SIGN_IN = (
    "mutation($i: SessionCreateInput!) { sessionCreate(input: $i) { token userErrors { code } } }"
)


def sign_in_bodies(count: int = 500) -> list[str]:
    return [
        json.dumps(
            {
                "query": SIGN_IN,
                "variables": {"i": {"email": f"guess{i}@example.com", "password": f"guess {i}"}},
            }
        )
        for i in range(count)
    ]


def sign_up(server: Server) -> str:
    body = {
        "query": "mutation($i: SignUpInput!) { signUp(input: $i) { token } }",
        "variables": {
            "i": {"email": "ada@example.com", "password": "a long passphrase", "name": "A"}
        },
    }
    response = httpx.post(server.url, json=body, trust_env=False, timeout=30)
    token: str = response.json()["data"]["signUp"]["token"]
    return token


def measure(
    server: Server, token: str, *, duration: int, flood: int
) -> tuple[LoadResult, LoadResult | None]:
    """`me` latency from one connection, with `flood` sign-in connections at the same time."""
    if flood == 0:
        return run_load("httpx", server.url, token, [ME], duration=duration, connections=1), None
    with ThreadPoolExecutor(max_workers=2) as pool:
        flooding = pool.submit(
            run_load,
            "httpx",
            server.url,
            "",
            sign_in_bodies(),
            duration=duration + 2,
            connections=flood,
        )
        time.sleep(1)  # let the flood build up before measuring
        me = pool.submit(
            run_load, "httpx", server.url, token, [ME], duration=duration, connections=1
        )
        return me.result(), flooding.result()


def row(label: str, me: LoadResult, flood: LoadResult | None) -> str:
    line = f"| {label} | {me.p50_ms:.1f} | {me.p95_ms:.1f} | {me.p99_ms:.1f} | {me.requests} |"
    if flood is None:
        return line + " - | - | - |"
    refused = flood.bad / flood.requests if flood.requests else 0.0
    return line + f" {flood.rps:.0f} | {flood.p50_ms:.1f} | {refused:.0%} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sign_in_flood")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement (10)")
    parser.add_argument("--flood", type=int, default=40, help="sign-ins in flight (40)")
    args = parser.parse_args(argv)
    rows: list[str] = []
    try:
        for label, settings in (
            ("one client", {}),
            ("countless clients", {"CRM_LOGIN_CLIENT_MAX_FAILURES": "100000000"}),
            (
                "countless clients, password work unbounded",
                {
                    "CRM_LOGIN_CLIENT_MAX_FAILURES": "100000000",
                    "CRM_PASSWORD_CONCURRENCY": "64",
                    "CRM_PASSWORD_QUEUE": "10000",
                },
            ),
        ):
            with tempfile.TemporaryDirectory(prefix="crm-bench-flood-") as directory:
                url = sqlite_url(Path(directory))
                migrate(url)
                server = start_server(
                    "graphql", "server:create_app", url, Path(directory), settings
                )
                try:
                    token = sign_up(server)
                    if not rows:
                        rows.append(
                            row("alone", *measure(server, token, duration=args.duration, flood=0))
                        )
                    me, flood = measure(server, token, duration=args.duration, flood=args.flood)
                    rows.append(row(f"{args.flood} sign-ins, {label}", me, flood))
                finally:
                    server.stop()
    except BenchError as exc:
        print(f"bench.sign_in_flood: {exc}", file=sys.stderr)
        return 1
    print(
        "| `me` while | p50 ms | p95 ms | p99 ms | answered | sign-ins/s | sign-in p50 ms |", end=""
    )
    print(" refused |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The fallback load generator when wrk is missing: C keep-alive HTTP/1.1 connections (one
httpx client each) POSTing request bodies in turn for a fixed time, in a process of its own.

Reads its configuration as JSON on stdin and writes its result as JSON on stdout:
`python -m bench.loadgen < config.json`. Slower than wrk (it is Python), so it is the right
tool only while the server is the bottleneck; bench.contacts says which generator it used.
"""

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Config:
    url: str
    headers: dict[str, str]
    bodies: list[str]
    duration: float
    connections: int


@dataclass
class Tally:
    latencies: list[float]
    bad: int = 0  # non-200 or a GraphQL error in the body
    errors: int = 0  # connection errors and timeouts


async def _connection(config: Config, offset: int, deadline: float, tally: Tally) -> None:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    headers = {"Content-Type": "application/json", **config.headers}
    bodies = [body.encode() for body in config.bodies]
    async with httpx.AsyncClient(limits=limits, timeout=10, trust_env=False) as client:
        i = offset
        while time.perf_counter() < deadline:
            body = bodies[i % len(bodies)]
            i += 1
            started = time.perf_counter()
            try:
                response = await client.post(config.url, content=body, headers=headers)
            except httpx.HTTPError:
                tally.errors += 1
                continue
            tally.latencies.append(time.perf_counter() - started)
            if response.status_code != 200 or b'"errors"' in response.content:
                tally.bad += 1


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def run(config: Config) -> dict[str, Any]:
    tally = Tally(latencies=[])
    started = time.perf_counter()
    deadline = started + config.duration
    await asyncio.gather(
        *(_connection(config, i, deadline, tally) for i in range(config.connections))
    )
    elapsed = time.perf_counter() - started
    latencies = sorted(tally.latencies)
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "bad": tally.bad,
        "errors": tally.errors,
    }


def main() -> None:
    config = Config(**json.load(sys.stdin))
    json.dump(asyncio.run(run(config)), sys.stdout)


if __name__ == "__main__":
    main()

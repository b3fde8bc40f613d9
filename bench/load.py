"""Driving load from a separate process: wrk when installed, else bench/loadgen.py."""

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.servers import ROOT, BenchError

# One body per line, cycled through; responses that are not 200 or carry GraphQL errors are
# counted as bad; done() prints the figures in one parseable line (wrk's --latency table has
# no p95).
WRK_SCRIPT = """
local bodies = {}
for line in io.lines([==[%(bodies)s]==]) do bodies[#bodies + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = [==[Bearer %(token)s]==]

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  next_body = 0
end

function request()
  next_body = next_body %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, thread in ipairs(threads) do total_bad = total_bad + thread:get("bad") end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%%d duration_us=%%d bad=%%d errors=%%d p50_us=%%d p95_us=%%d p99_us=%%d\\n",
    summary.requests, summary.duration, total_bad,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""
_BENCH_LINE = re.compile(r"^BENCH (.*)$", re.MULTILINE)


@dataclass
class LoadResult:
    tool: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    bad: int  # answered, but not 200 or with GraphQL errors
    errors: int  # socket errors and timeouts

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def choose_tool(requested: str) -> str:
    if requested == "auto":
        return "wrk" if shutil.which("wrk") else "httpx"
    if requested == "wrk" and not shutil.which("wrk"):
        raise BenchError("wrk is not installed (Debian: apt-get install wrk)")
    return requested


def run_load(
    tool: str, url: str, token: str, bodies: list[str], *, duration: int, connections: int
) -> LoadResult:
    if tool == "wrk":
        return _wrk(url, token, bodies, duration=duration, connections=connections)
    return _httpx(url, token, bodies, duration=duration, connections=connections)


def _wrk(url: str, token: str, bodies: list[str], *, duration: int, connections: int) -> LoadResult:
    wrk = shutil.which("wrk")
    assert wrk is not None
    with tempfile.TemporaryDirectory(prefix="crm-bench-wrk-") as directory:
        bodies_path = Path(directory) / "bodies.jsonl"
        bodies_path.write_text("".join(body + "\n" for body in bodies))
        script_path = Path(directory) / "post.lua"
        script_path.write_text(WRK_SCRIPT % {"bodies": bodies_path, "token": token})
        # One thread: wrk needs little CPU at these rates and the server needs the rest.
        command = [
            wrk,
            "--threads",
            "1",
            "--connections",
            str(connections),
            "--duration",
            f"{duration}s",
            "--timeout",
            "10s",
            "--latency",
            "--script",
            str(script_path),
            url,
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=duration + 60, check=False
        )
    match = _BENCH_LINE.search(result.stdout)
    if result.returncode != 0 or match is None:
        raise BenchError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    figures = {
        key: int(value) for key, value in (pair.split("=") for pair in match.group(1).split())
    }
    return LoadResult(
        tool="wrk",
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p95_ms=figures["p95_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        bad=figures["bad"],
        errors=figures["errors"],
    )


def _httpx(
    url: str, token: str, bodies: list[str], *, duration: int, connections: int
) -> LoadResult:
    config = {
        "url": url,
        "headers": {"Authorization": f"Bearer {token}"} if token else {},
        "bodies": bodies,
        "duration": duration,
        "connections": connections,
    }
    result = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"],
        cwd=ROOT,
        input=json.dumps(config),
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"bench.loadgen failed ({result.returncode}):\n{result.stderr[-4000:]}")
    figures = json.loads(result.stdout)
    return LoadResult(tool="httpx", **figures)

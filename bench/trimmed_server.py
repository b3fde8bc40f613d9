"""The app as served, plus one route for benchmarks: GET /bench/rss collects garbage, hands
the memory malloc keeps free back to the system (glibc's malloc_trim) and answers the
process's resident set in KiB. What remains is what the process holds, not what a burst of
work once made it allocate.

    uvicorn bench.trimmed_server:create_app --factory
"""

import ctypes
import ctypes.util
import gc
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from server import create_app as create_served_app

_LIBC = ctypes.CDLL(ctypes.util.find_library("c"))


def resident_kib(request: Request) -> PlainTextResponse:
    gc.collect()
    _LIBC.malloc_trim(0)
    status = Path("/proc/self/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return PlainTextResponse(line.split()[1])


def create_app() -> Starlette:
    app = create_served_app()
    app.router.routes.insert(0, Route("/bench/rss", resident_kib))
    return app

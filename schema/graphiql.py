"""GraphiQL, served by the service itself so that it works without internet access.

The page (GET /graphql from a browser) loads one script and one stylesheet built from pinned
npm packages by graphiql/build.sh into schema/static/. Their names carry a hash of their
content, so /graphiql/<name> may be cached for good; the page itself is revalidated, so an
upgrade shows at the next visit. Its Content-Security-Policy admits nothing but the service:
no inline script, no other origin, connections only back to this host, and no inline style
but the ones GraphiQL's dialogs add, which carry a nonce that is new with every page.
"""

import gzip
import json
import re
import secrets
from dataclasses import dataclass
from html import escape
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

STATIC = Path(__file__).resolve().parent / "static"
ASSET_PATH = "/graphiql"
IMMUTABLE = "public, max-age=31536000, immutable"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# A Host header that can be written into the policy as it is (name or address, port).
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CRM · GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{style}">
<script src="{script}" nonce="{nonce}" defer></script>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
</body>
</html>
"""


class GraphiQLAssetsMissingError(RuntimeError):
    """The built files are not where the package keeps them."""


@dataclass(frozen=True)
class Manifest:
    """The current names of the built files, relative to ASSET_PATH."""

    script: str
    style: str

    @classmethod
    def read(cls, directory: Path = STATIC) -> "Manifest":
        try:
            names = json.loads((directory / "manifest.json").read_text())
            manifest = cls(script=names["script"], style=names["style"])
        except (OSError, ValueError, KeyError, TypeError):
            raise GraphiQLAssetsMissingError(
                f"GraphiQL's built files are missing from {directory}: rebuild them with "
                "graphiql/build.sh, or set CRM_GRAPHIQL=false"
            ) from None
        for name in (manifest.script, manifest.style):
            if not (directory / name).is_file():
                raise GraphiQLAssetsMissingError(
                    f"GraphiQL's {name} is missing from {directory}: rebuild it with "
                    "graphiql/build.sh, or set CRM_GRAPHIQL=false"
                )
        return manifest


def content_security_policy(host: str | None, nonce: str) -> str:
    """Everything from this service only. WebSockets back to the same host are named
    explicitly (as ws and wss, since a TLS proxy may stand in front) because older browsers
    do not count them as 'self'. `nonce` admits the <style> elements the script adds."""
    connect = "'self'"
    if host and _HOST.match(host):
        connect += f" ws://{host} wss://{host}"
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            f"connect-src {connect}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


class GraphiQLPage:
    """The HTML page that starts GraphiQL."""

    def __init__(self, manifest: Manifest) -> None:
        # Relative links, so the page also works when the service sits under a path prefix.
        prefix = ASSET_PATH.lstrip("/")
        self.script = escape(f"{prefix}/{manifest.script}")
        self.style = escape(f"{prefix}/{manifest.style}")

    def response(self, request: Request) -> Response:
        nonce = secrets.token_urlsafe(18)
        return HTMLResponse(
            PAGE.format(script=self.script, style=self.style, nonce=nonce),
            headers={
                "Content-Security-Policy": content_security_policy(
                    request.headers.get("host"), nonce
                ),
                "Cache-Control": "no-cache",
                "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff",
                "Vary": "Accept",
            },
        )


@dataclass
class Asset:
    body: bytes
    media_type: str
    gzipped: bytes | None = None


class GraphiQLAssets:
    """The endpoint for ASSET_PATH/<name>: the built files, kept in memory, gzipped on the
    first request that accepts it."""

    def __init__(self, manifest: Manifest, directory: Path = STATIC) -> None:
        self.assets = {
            name: Asset((directory / name).read_bytes(), MEDIA_TYPES[Path(name).suffix])
            for name in (manifest.script, manifest.style)
        }

    async def respond(self, request: Request) -> Response:
        asset = self.assets.get(request.path_params["name"])
        if asset is None:
            return PlainTextResponse("Not Found", 404)
        headers = {
            "Cache-Control": IMMUTABLE,
            "X-Content-Type-Options": "nosniff",
            "Vary": "Accept-Encoding",
        }
        body = asset.body
        if accepts_gzip(request.headers.get("accept-encoding", "")):
            if asset.gzipped is None:
                asset.gzipped = await run_in_threadpool(gzip.compress, asset.body, 6, mtime=0)
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, headers=headers, media_type=asset.media_type)


def accepts_gzip(header: str) -> bool:
    """Whether Accept-Encoding lists gzip with a quality above zero."""
    for part in header.lower().split(","):
        coding, _, parameter = part.partition(";")
        if coding.strip() == "gzip":
            name, _, value = parameter.partition("=")
            if name.strip() != "q":
                return True
            try:
                return float(value) > 0
            except ValueError:
                return False
    return False


def graphiql_routes(enabled: bool) -> list[BaseRoute]:
    """The asset route, when GraphiQL is served at all."""
    if not enabled:
        return []
    return [
        Route(
            f"{ASSET_PATH}/{{name}}",
            GraphiQLAssets(Manifest.read()).respond,
            methods=["GET", "HEAD"],
        )
    ]

"""The application: Starlette routes for GraphQL over HTTP and health checks, and a
lifespan that owns the service's resources. `python server.py` serves it with uvicorn."""

import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict

import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resolvers.context import Context
from resolvers.resources import Resources, open_resources
from schema import build_schema
from schema.downloads import download_routes
from schema.graphiql import graphiql_routes
from schema.http import GraphQLHTTP
from schema.live.fanout import Fanout
from schema.live.transport import GraphQLWebSocket
from schema.requests import OperationIndex
from schema.uploads import is_multipart
from services.auth import token_from_authorization
from services.health import readiness
from services.listening import listen_problem
from services.network import client_address
from services.settings import Settings, SettingsError, get_settings

logger = logging.getLogger("crm")

MAX_REQUEST_BYTES = 1024 * 1024
# uvicorn's WebSocket implementation, and no per-message compression: a deflate context
# costs about 290 KiB per connection (most of an idle subscription's memory, measured with
# 1,000 of them) and a compression of every event for every subscriber, to save a few hundred
# bytes of JSON.
WEBSOCKETS = "wsproto"
PER_MESSAGE_DEFLATE = False
# A multipart request carries files of up to CRM_MAX_UPLOAD_BYTES, plus its operations.
MULTIPART_OVERHEAD_BYTES = 1024 * 1024


def settle_start_up_objects() -> None:
    """Take what start-up built (modules, the schema, SQLAlchemy's mappers: most objects the
    process will ever hold) out of the garbage collector's reach, once per process. Otherwise
    every full collection walks them all: a pause of about 100 ms, in the middle of whatever
    request or live delivery is running (bench/live.py showed it as the latency's tail)."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def graphql_endpoint(settings: Settings, schema: strawberry.Schema) -> GraphQLHTTP:
    def context(request: Request) -> Context:
        # Credentials come from the Authorization header only, never from cookies: another
        # site can make a browser send GET requests (or form POSTs) here, but not with this
        # header, so they run anonymously. GET never runs mutations and POST takes only JSON
        # bodies (schema/http.py).
        return Context(
            request.app.state.resources,
            token=token_from_authorization(request.headers.get("authorization")),
            client=client_address(
                request.client.host if request.client else None,
                request.headers.get("x-forwarded-for"),
                settings.trusted_proxies,
            ),
        )

    return GraphQLHTTP(
        schema,
        context=context,
        graphiql=settings.graphiql,
        max_tokens=settings.max_query_tokens,
    )


class BodySizeLimit:
    """Refuse request bodies over a limit (413) before they are read into memory. Multipart
    requests (files, streamed to storage) have a limit of their own."""

    def __init__(self, app: ASGIApp, max_bytes: int, multipart_max_bytes: int = 0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.multipart_max_bytes = max(multipart_max_bytes, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        multipart = is_multipart(headers.get(b"content-type", b"").decode("latin-1"))
        limit = self.multipart_max_bytes if multipart else self.max_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLargeError
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLargeError:
            await _too_large(limit)(scope, receive, send)


class _BodyTooLargeError(Exception):
    pass


def _too_large(limit: int) -> Response:
    return JSONResponse(
        {"errors": [{"message": f"The request body is larger than {limit} bytes"}]}, 413
    )


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """200 when the database answers, takes writes and has room, and its schema is at the
    release's migration head; 503 saying which part is wrong otherwise."""
    resources: Resources = request.app.state.resources
    state = await readiness(resources.engine, resources.schema_head)
    if not state.ready:
        logger.warning("Not ready: database %s, schema %s", state.database, state.schema)
    body = {"status": "ok" if state.ready else "unavailable", **asdict(state)}
    return JSONResponse(body, 200 if state.ready else 503)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    schema = build_schema(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_resources(settings) as resources:
            app.state.resources = resources
            # Live events go from the feed to the subscriptions through the fan-out.
            app.state.fanout = Fanout(schema, resources)
            resources.feed.deliver_to(app.state.fanout.deliver)
            settle_start_up_objects()
            yield

    app = Starlette(
        routes=[
            # Every method reaches the endpoint, which answers 405 with Allow itself.
            Route("/graphql", graphql_endpoint(settings, schema)),
            # Subscriptions (and queries and mutations) over graphql-transport-ws.
            WebSocketRoute(
                "/graphql", GraphQLWebSocket(schema, OperationIndex(settings.max_query_tokens))
            ),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *graphiql_routes(settings.graphiql),
            *download_routes(),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=MAX_REQUEST_BYTES,
        multipart_max_bytes=settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES,
    )
    return app


def main() -> int:
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    problem = listen_problem(settings.host, settings.port)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    print(f"CRM GraphQL API on http://{settings.host}:{settings.port}/graphql", file=sys.stderr)
    uvicorn.run(
        "server:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        # The client's address comes from CRM_TRUSTED_PROXIES (services/network.py) alone.
        proxy_headers=False,
        ws=WEBSOCKETS,
        ws_per_message_deflate=PER_MESSAGE_DEFLATE,
        ws_max_size=MAX_REQUEST_BYTES,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""GraphQL over WebSocket on /graphql, after the graphql-transport-ws protocol
(https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md). The older
subscriptions-transport-ws protocol is not served: a client offering only it is refused.

A connection authenticates in `connection_init`, whose payload carries what the HTTP header
would: `{"authorization": "Bearer <session token or API key>"}` (the key in any case, as
GraphiQL sends its headers). Queries and mutations run once, exactly as over HTTP (the same
limits, error masking and a fresh context each); subscriptions start in a context of their own
and then receive events from the fan-out (schema/live/fanout.py).

Everything a connection sends waits in one bounded queue; a client that does not read it in
time is closed with 4410, which tells it to resume from its last cursor.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

import strawberry
from graphql import OperationType
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.types.graphql import OperationType as AllowedOperation

from resolvers.context import Context
from resolvers.live import SubscriberContext
from resolvers.resources import Resources
from schema.live.fanout import FELL_BEHIND, Fanout, LiveSubscription, Operation
from schema.requests import (
    GraphQLRequest,
    MalformedRequestError,
    OperationIndex,
    RequestError,
    chosen_operation,
    did_not_run,
    formatted_errors,
    graphql_request,
    refuse_unstorable,
)
from services.auth import Viewer, token_from_authorization
from services.errors import AuthError, RetryableError
from services.network import client_address

SUBPROTOCOL = "graphql-transport-ws"
MAX_MESSAGE_CHARACTERS = 1024 * 1024
CLOSE_TIMEOUT_SECONDS = 5.0
logger = logging.getLogger("crm.live")

# Close codes: the protocol's, and ours (4410, 4411, 4504; README, "Live activity").
BAD_REQUEST = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
SUBPROTOCOL_NOT_ACCEPTABLE = 4406
INIT_TIMEOUT = 4408
DUPLICATE_ID = 4409
TOO_MANY_CONNECTIONS = 4411
TOO_MANY_INITIALISATIONS = 4429
NO_PONG = 4504


class GraphQLWebSocket:
    """The ASGI endpoint for WebSocket connections to /graphql."""

    def __init__(self, schema: strawberry.Schema, operations: OperationIndex) -> None:
        self.schema = schema
        self.operations = operations
        self.connections_per_user: dict[int, int] = {}
        self.subscriptions_per_user: dict[int, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        if SUBPROTOCOL not in scope.get("subprotocols", ()):
            await websocket.accept()
            await websocket.close(
                SUBPROTOCOL_NOT_ACCEPTABLE, f"Subprotocol not acceptable: use {SUBPROTOCOL}"
            )
            return
        await websocket.accept(subprotocol=SUBPROTOCOL)
        app_state = websocket.app.state
        await Connection(self, websocket, app_state.resources, app_state.fanout).serve()


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    encoded = text.encode()
    return text if len(encoded) <= 123 else encoded[:120].decode(errors="ignore") + "..."


def _authorization(payload: Mapping[str, Any]) -> Any:
    for key, value in payload.items():
        if key.lower() == "authorization":
            return value
    return None


class Connection:
    def __init__(
        self,
        endpoint: GraphQLWebSocket,
        websocket: WebSocket,
        resources: Resources,
        fanout: Fanout,
    ) -> None:
        self.endpoint = endpoint
        self.websocket = websocket
        self.resources = resources
        self.fanout = fanout
        self.settings = resources.settings
        self.outbox: asyncio.Queue[str] = asyncio.Queue(self.settings.live_queue_size)
        self.client = client_address(
            websocket.client.host if websocket.client else None,
            websocket.headers.get("x-forwarded-for"),
            self.settings.trusted_proxies,
        )
        self.token: str | None = None
        self.viewer: Viewer | None = None
        self.initialised = False
        self.acknowledged = False
        self.awaiting_pong = False
        # Operations by id, from `subscribe` until they end (a subscription: until the client
        # completes it or it fails), and the live subscriptions among them.
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.following: set[str] = set()
        self.subscriptions: dict[str, LiveSubscription] = {}
        self.closing = asyncio.Event()
        self.close_code = 1000
        self.close_reason = ""
        self._tasks: list[asyncio.Task[None]] = []

    # --- the connection's life ---------------------------------------------------------------

    async def serve(self) -> None:
        receiver = asyncio.create_task(self._receive())
        writer = asyncio.create_task(self._write())
        closing = asyncio.create_task(self._until_closing())
        self._tasks += [receiver, writer, closing, asyncio.create_task(self._await_init())]
        try:
            await asyncio.wait({receiver, writer, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self._end()

    async def _end(self) -> None:
        for task in [*self._tasks, *self.operations.values()]:
            task.cancel()
        for subscription in self.subscriptions.values():
            self._stop(subscription)
        for op_id in list(self.following):
            self._unfollow(op_id)
        if self.viewer is not None:
            counts = self.endpoint.connections_per_user
            counts[self.viewer.id] -= 1
            if not counts[self.viewer.id]:
                del counts[self.viewer.id]
        self.subscriptions.clear()
        while not self.outbox.empty():  # what a slow client did not take is dropped now
            self.outbox.get_nowait()
        if self.closing.is_set() and self.websocket.application_state == WebSocketState.CONNECTED:
            # The close frame waits behind what the client has not read yet; one that takes
            # nothing until the next ping would have been closed as dead anyway.
            wait = max(CLOSE_TIMEOUT_SECONDS, self.settings.ws_ping_seconds)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(wait):
                    await self.websocket.close(self.close_code, _reason(self.close_reason))
        await asyncio.gather(*self._tasks, *self.operations.values(), return_exceptions=True)

    async def _until_closing(self) -> None:
        await self.closing.wait()

    def refuse(self, code: int, reason: str) -> None:
        """Close the connection with `code` (the first reason given wins)."""
        if not self.closing.is_set():
            self.close_code, self.close_reason = code, reason
            self.closing.set()

    def end(self, subscription: LiveSubscription, code: str, message: str) -> None:
        """Stop one subscription with an error its client can read; the connection stays."""
        if self.subscriptions.pop(subscription.id, None) is None:
            return
        self._stop(subscription)
        self._unfollow(subscription.id)
        self.operations.pop(subscription.id, None)
        error = {"message": message, "extensions": {"code": code}}
        self._send({"id": subscription.id, "type": "error", "payload": [error]})

    def push(self, message: str) -> None:
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.refuse(*FELL_BEHIND)

    async def put(self, message: str) -> None:
        await self.outbox.put(message)

    def _send(self, message: dict[str, Any]) -> None:
        self.push(json.dumps(message, ensure_ascii=False, separators=(",", ":")))

    async def _write(self) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            while True:
                await self.websocket.send_text(await self.outbox.get())

    async def _await_init(self) -> None:
        await asyncio.sleep(self.settings.ws_init_timeout_seconds)
        if not self.initialised:
            self.refuse(INIT_TIMEOUT, "Connection initialisation timeout")

    async def _keep_alive(self) -> None:
        """Ping every CRM_WS_PING_SECONDS; a peer that has not answered by the next ping is
        gone or stuck, and is closed."""
        while True:
            await asyncio.sleep(self.settings.ws_ping_seconds)
            if self.awaiting_pong:
                self.refuse(NO_PONG, "No pong in answer to the last ping")
                return
            self.awaiting_pong = True
            self._send({"type": "ping"})

    # --- messages from the client ------------------------------------------------------------

    async def _receive(self) -> None:
        while not self.closing.is_set():
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self.refuse(BAD_REQUEST, "Messages must be JSON text, not binary")
                return
            if len(text) > MAX_MESSAGE_CHARACTERS:
                self.refuse(
                    BAD_REQUEST, f"Messages are at most {MAX_MESSAGE_CHARACTERS} characters"
                )
                return
            await self._handle(text)

    async def _handle(self, text: str) -> None:
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            self.refuse(BAD_REQUEST, "The message is not valid JSON")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "connection_init":
            await self._init(message.get("payload"))
        elif kind == "ping":
            self._send({"type": "pong"})
        elif kind == "pong":
            self.awaiting_pong = False
        elif kind == "subscribe":
            self._subscribe(message)
        elif kind == "complete":
            self._complete(message.get("id"))
        elif isinstance(kind, str):
            self.refuse(BAD_REQUEST, f"Unknown message type {kind[:40]!r}")
        else:
            self.refuse(BAD_REQUEST, "A message must be a JSON object with a string `type`")

    async def _init(self, payload: Any) -> None:
        if self.initialised:
            self.refuse(TOO_MANY_INITIALISATIONS, "Too many initialisation requests")
            return
        self.initialised = True
        if payload is not None and not isinstance(payload, dict):
            self.refuse(BAD_REQUEST, "The connection_init payload must be a JSON object")
            return
        authorization = _authorization(payload or {})
        if authorization is not None:
            if not isinstance(authorization, str):
                self.refuse(FORBIDDEN, "authorization must be a string: Bearer <token>")
                return
            self.token = token_from_authorization(authorization)
            if self.token is None:
                self.refuse(FORBIDDEN, "authorization must be Bearer <session token or API key>")
                return
            context = Context(self.resources, token=self.token, client=self.client)
            try:
                self.viewer = await context.viewer_or_none()
            except AuthError as exc:
                self.refuse(FORBIDDEN, str(exc))
                return
            except RetryableError as exc:
                self.refuse(1013, f"{exc} (try again in {exc.retry_after} s)")
                return
            finally:
                await context.close()
        if self.viewer is not None:
            counts = self.endpoint.connections_per_user
            if counts.get(self.viewer.id, 0) >= self.settings.ws_max_connections_per_user:
                limit = self.settings.ws_max_connections_per_user
                self.viewer = None
                self.refuse(
                    TOO_MANY_CONNECTIONS,
                    f"Too many connections: at most {limit} per user on one server process",
                )
                return
            counts[self.viewer.id] = counts.get(self.viewer.id, 0) + 1
        self.acknowledged = True
        self._send({"type": "connection_ack"})
        self._tasks.append(asyncio.create_task(self._keep_alive()))

    def _subscribe(self, message: dict[str, Any]) -> None:
        op_id, payload = message.get("id"), message.get("payload")
        if not isinstance(op_id, str) or not op_id:
            self.refuse(BAD_REQUEST, "A subscribe message needs a non-empty string `id`")
            return
        if not isinstance(payload, dict):
            self.refuse(BAD_REQUEST, "A subscribe message needs a `payload` object")
            return
        if not self.acknowledged:
            self.refuse(UNAUTHORIZED, "Unauthorized: send connection_init first")
            return
        if op_id in self.operations:
            self.refuse(DUPLICATE_ID, f"Subscriber for {op_id[:60]} already exists")
            return
        try:
            request = graphql_request(payload)
            refuse_unstorable(request)
            operation = chosen_operation(
                self.endpoint.operations.operations_in(request.query), request.operation_name
            )
        except MalformedRequestError as exc:
            self.refuse(BAD_REQUEST, str(exc))
            return
        except RequestError as error:
            self._send({"id": op_id, "type": "error", "payload": error.errors})
            return
        if operation == OperationType.SUBSCRIPTION:
            limit = self.settings.ws_max_subscriptions
            if len(self.following) >= limit:
                self._send(
                    {
                        "id": op_id,
                        "type": "error",
                        "payload": [
                            {
                                "message": f"At most {limit} subscriptions on one connection: "
                                "complete one first, or open another connection",
                                "extensions": {"code": "TOO_MANY_SUBSCRIPTIONS"},
                            }
                        ],
                    }
                )
                return
            if not self._may_follow(op_id):
                return
            work = self._follow(op_id, request)
        else:
            work = self._run_once(op_id, request)
        task = asyncio.create_task(work)
        self.operations[op_id] = task
        task.add_done_callback(lambda _task: self._finished(op_id, task))

    def _may_follow(self, op_id: str) -> bool:
        """Count a new subscription against its user's limit on this server process (the
        connection's own limit is checked before); refused with an error if it is reached."""
        if self.viewer is not None:
            counts = self.endpoint.subscriptions_per_user
            limit = self.settings.ws_max_subscriptions_per_user
            if counts.get(self.viewer.id, 0) >= limit:
                message = (
                    f"At most {limit} subscriptions per user on one server process: "
                    "complete one first"
                )
                error = {"message": message, "extensions": {"code": "TOO_MANY_SUBSCRIPTIONS"}}
                self._send({"id": op_id, "type": "error", "payload": [error]})
                return False
            counts[self.viewer.id] = counts.get(self.viewer.id, 0) + 1
        self.following.add(op_id)
        return True

    def _unfollow(self, op_id: str) -> None:
        if op_id not in self.following:
            return
        self.following.discard(op_id)
        if self.viewer is not None:
            counts = self.endpoint.subscriptions_per_user
            counts[self.viewer.id] -= 1
            if not counts[self.viewer.id]:
                del counts[self.viewer.id]

    def _finished(self, op_id: str, task: "asyncio.Task[None]") -> None:
        """A query or mutation has answered, or a subscription failed to start (one that
        started stays until the client completes it)."""
        if self.operations.get(op_id) is task and op_id not in self.subscriptions:
            del self.operations[op_id]
            self._unfollow(op_id)
        if not task.cancelled() and task.exception() is not None:
            logger.error("A WebSocket operation failed", exc_info=task.exception())

    def _complete(self, op_id: Any) -> None:
        """The client stops an operation: nothing more is sent for it."""
        if not isinstance(op_id, str):
            self.refuse(BAD_REQUEST, "A complete message needs a string `id`")
            return
        task = self.operations.pop(op_id, None)
        if task is not None:
            task.cancel()
        self._unfollow(op_id)
        subscription = self.subscriptions.pop(op_id, None)
        if subscription is not None:
            self._stop(subscription)

    def _stop(self, subscription: LiveSubscription) -> None:
        subscription.active = False
        self.resources.feed.leave(subscription.following.topic, subscription)

    # --- operations --------------------------------------------------------------------------

    async def _run_once(self, op_id: str, request: GraphQLRequest) -> None:
        """A query or mutation: the same path as over HTTP, one result, then complete."""
        context = Context(self.resources, token=self.token, client=self.client)
        try:
            result = await self.endpoint.schema.execute(
                request.query,
                variable_values=request.variables,
                context_value=context,
                operation_name=request.operation_name,
                allowed_operation_types=[AllowedOperation.QUERY, AllowedOperation.MUTATION],
            )
        finally:
            await context.close()
        errors = formatted_errors(result)
        if did_not_run(result.data, errors):
            await self.put(self._encode({"id": op_id, "type": "error", "payload": errors}))
            return
        body: dict[str, Any] = {"data": result.data}
        if errors:
            body["errors"] = errors
        await self.put(self._encode({"id": op_id, "type": "next", "payload": body}))
        await self.put(self._encode({"id": op_id, "type": "complete"}))

    async def _follow(self, op_id: str, request: GraphQLRequest) -> None:
        """A subscription: set up as any operation, then fed events until it completes."""
        context = SubscriberContext(self.resources, token=self.token, client=self.client)
        try:
            stream = await self.endpoint.schema.subscribe(
                request.query,
                variable_values=request.variables,
                context_value=context,
                operation_name=request.operation_name,
            )
            # Drained to its end, when the errors are masked; it yields none on success.
            results = [result async for result in stream]
        finally:
            await context.close()
        errors = [error for result in results for error in formatted_errors(result)]
        following = context.following
        if errors or following is None:
            payload = errors or [{"message": "The subscription could not start"}]
            await self.put(self._encode({"id": op_id, "type": "error", "payload": payload}))
            return
        subscription = LiveSubscription(
            id=op_id,
            connection=self,
            operation=Operation(
                request.query,
                request.operation_name,
                json.dumps(request.variables or {}, sort_keys=True),
            ),
            following=following,
            held_limit=self.settings.live_queue_size,
        )
        try:
            upto = await self.resources.feed.join(following.topic, subscription)
        except RetryableError as exc:
            message = {"message": str(exc), "extensions": {"code": exc.code}}
            await self.put(self._encode({"id": op_id, "type": "error", "payload": [message]}))
            return
        self.subscriptions[op_id] = subscription
        try:
            await self.fanout.replay(subscription, upto)
        except BaseException:
            self.subscriptions.pop(op_id, None)
            self._stop(subscription)
            raise

    @staticmethod
    def _encode(message: dict[str, Any]) -> str:
        return json.dumps(message, ensure_ascii=False, separators=(",", ":"))

"""A real server on loopback for the live tests, and a graphql-transport-ws client for it.

The server is uvicorn in this process (its own event loop task) or, for tests across
processes, in another one (bench.servers). Clients are `websockets` connections speaking the
protocol by hand, so every message the server sends can be looked at."""

import asyncio
import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from models.db import create_engine
from server import PER_MESSAGE_DEFLATE, WEBSOCKETS, create_app
from tests.conftest import PASSWORD, SIGN_UP, settings_for, wipe

HOST = "127.0.0.1"
REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL")
PROTOCOL = "graphql-transport-ws"
# Long enough for a loaded machine; a test that waits this long has failed.
WAIT_SECONDS = 20.0

CONTACT_CREATE = """mutation($input: ContactCreateInput!) { contactCreate(input: $input) {
  contact { id } userErrors { field message code } } }"""
CATEGORY_CREATE = """mutation($input: CategoryCreateInput!) { categoryCreate(input: $input) {
  category { id } userErrors { field message code } } }"""
NOTE_CREATE = """mutation($input: NoteCreateInput!) { noteCreate(input: $input) {
  note { id } userErrors { field message code } } }"""
INVITE = """mutation($input: UserInviteInput!) { userInvite(input: $input) {
  token userErrors { field message code } } }"""
FIRST_EVENT = "query($c: ID!) { contact(id: $c) { activity(first: 1) { nodes { cursor } } } }"
ACTIVITY = """subscription($c: ID!, $after: String) { contactActivity(contactId: $c, after: $after) {
  id cursor kind actor { name } contact { name } subject { id ... on Note { body visibility } } } }"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """A uvicorn server on loopback with one signed-up admin."""

    port: int
    http: httpx.AsyncClient
    database_url: str
    admin_token: str = ""
    engine: AsyncEngine | None = None  # the server's, when it runs in this process
    # The cursor of each card's first event: subscriptions follow from there, so that an
    # event written just after `subscribe` was sent arrives whether or not it started yet.
    origins: dict[str, str] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/graphql"

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        token = self.admin_token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body

    async def ok(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        body = await self.post(query, variables, token)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        for value in data.values():
            if isinstance(value, dict) and "userErrors" in value:
                assert value["userErrors"] == [], value["userErrors"]
        return data

    def with_url(self, url: str) -> "LiveServer":
        """The same helpers against another server (a process of its own) on this database."""
        return _OtherServer(self, url)

    async def sign_up_admin(self) -> None:
        variables = {"input": {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}}
        self.admin_token = (await self.ok(SIGN_UP, variables, token=""))["signUp"]["token"]

    async def add_user(self, email: str, role: str = "MEMBER", name: str = "Bo") -> str:
        invitation = await self.ok(INVITE, {"input": {"email": email, "role": role}})
        variables = {
            "input": {
                "email": email,
                "password": PASSWORD,
                "name": name,
                "invitationToken": invitation["userInvite"]["token"],
            }
        }
        token: str = (await self.ok(SIGN_UP, variables, token=""))["signUp"]["token"]
        return token

    async def card(self, name: str = "Acme AB", key: str = "customers") -> str:
        """A new card, in a new category with `key`."""
        category = await self.ok(CATEGORY_CREATE, {"input": {"key": key, "name": key}})
        category_id = category["categoryCreate"]["category"]["id"]
        data = await self.ok(CONTACT_CREATE, {"input": {"categoryId": category_id, "name": name}})
        card: str = data["contactCreate"]["contact"]["id"]
        history = await self.ok(FIRST_EVENT, {"c": card})
        self.origins[card] = history["contact"]["activity"]["nodes"][0]["cursor"]
        return card

    async def note(
        self, card: str, body: str, token: str | None = None, visibility: str = "TEAM"
    ) -> str:
        variables = {"input": {"contactId": card, "body": body, "visibility": visibility}}
        note_id: str = (await self.ok(NOTE_CREATE, variables, token))["noteCreate"]["note"]["id"]
        return note_id


class _OtherServer(LiveServer):
    def __init__(self, live: LiveServer, url: str) -> None:
        super().__init__(live.port, live.http, live.database_url, live.admin_token, None)
        self.origins = live.origins
        self.url = url

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        token = self.admin_token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(trust_env=False) as http:
            response = await http.post(
                self.url, json={"query": query, "variables": variables or {}}, headers=headers
            )
        body: dict[str, Any] = response.json()
        return body


@contextlib.asynccontextmanager
async def live_server(database_url: str, **overrides: Any) -> AsyncIterator[LiveServer]:
    """The app served by uvicorn in this process, on an emptied database."""
    engine = create_engine(database_url)
    await wipe(engine)  # before the app starts, as a real one would
    await engine.dispose()
    settings = settings_for(database_url, **overrides)
    port = free_port()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=HOST,
        port=port,
        log_level="warning",
        lifespan="on",
        ws=WEBSOCKETS,
        ws_per_message_deflate=PER_MESSAGE_DEFLATE,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", trust_env=False) as http:
            live = LiveServer(port, http, database_url, engine=app.state.resources.engine)
            await live.sign_up_admin()
            yield live
    finally:
        server.should_exit = True
        await task


@dataclass
class Client:
    """One graphql-transport-ws connection, answering the server's pings."""

    ws: ClientConnection
    live: LiveServer
    answer_pings: bool = True
    pings: int = 0
    waiting: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, seconds: float = WAIT_SECONDS) -> dict[str, Any]:
        """The next message other than a ping."""
        async with asyncio.timeout(seconds):
            while True:
                message: dict[str, Any] = json.loads(await self.ws.recv())
                if message["type"] != "ping":
                    return message
                self.pings += 1
                if self.answer_pings:
                    await self.send({"type": "pong"})

    async def subscribe(
        self, op_id: str, query: str, variables: dict[str, Any] | None = None
    ) -> None:
        payload = {"query": query, "variables": variables or {}}
        await self.send({"id": op_id, "type": "subscribe", "payload": payload})

    async def follow(self, op_id: str, card: str, after: str | None = None) -> None:
        """Follow a card's activity after `after`, by default after its creation."""
        after = after or self.live.origins.get(card)
        await self.subscribe(op_id, ACTIVITY, {"c": card, "after": after})

    async def event(self, op_id: str = "1", seconds: float = WAIT_SECONDS) -> dict[str, Any]:
        """The next event of a subscription (messages of others are kept for later)."""
        for index, message in enumerate(self.waiting):
            if message.get("id") == op_id:
                del self.waiting[index]
                return _event(message)
        while True:
            message = await self.receive(seconds)
            if message.get("id") == op_id:
                return _event(message)
            self.waiting.append(message)

    async def closed(self, seconds: float = WAIT_SECONDS) -> tuple[int, str]:
        """The close code and reason, once the server closes (messages before are dropped);
        (1006, "") when the connection ended without a close frame."""
        try:
            async with asyncio.timeout(seconds):
                while True:
                    await self.ws.recv()
        except ConnectionClosed as closed:
            received = closed.rcvd
        return (received.code, received.reason) if received is not None else (1006, "")


def _event(message: dict[str, Any]) -> dict[str, Any]:
    assert message["type"] == "next", message
    payload: dict[str, Any] = message["payload"]
    assert "errors" not in payload, payload
    event: dict[str, Any] = next(iter(payload["data"].values()))
    return event


@contextlib.asynccontextmanager
async def client(
    live: LiveServer,
    token: str | None = None,
    *,
    init: bool = True,
    subprotocols: list[str] | None = None,
    **options: Any,
) -> AsyncIterator[Client]:
    """A connection, acknowledged (with `token`, the admin's by default, "" for none)."""
    token = live.admin_token if token is None else token
    offered = [Subprotocol(name) for name in subprotocols or [PROTOCOL]]
    async with connect(live.ws_url, subprotocols=offered, **options) as ws:
        connection = Client(ws, live)
        if init:
            payload = {"Authorization": f"Bearer {token}"} if token else {}
            await connection.send({"type": "connection_init", "payload": payload})
            assert await connection.receive() == {"type": "connection_ack"}
        yield connection


class RedisServer:
    """A private redis-server on a free loopback port, which a test may stop and start."""

    def __init__(self, directory: Path) -> None:
        executable = shutil.which("redis-server")
        assert executable is not None
        self.executable = executable
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--bind",
                HOST,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            with socket.socket() as sock:
                if sock.connect_ex((HOST, self.port)) == 0:
                    return
            time.sleep(0.02)  # until it listens
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class StuckClient:
    """A graphql-transport-ws client over a plain socket that reads nothing until asked to:
    what the server sends piles up in the buffers on the way."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(WAIT_SECONDS)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {PROTOCOL}\r\n\r\n"
            ).encode()
        )
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(1)
        assert response.startswith(b"HTTP/1.1 101"), response

    def send(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = bytes([0x81, 0x80 | length])
        else:
            header = bytes([0x81, 0x80 | 126]) + length.to_bytes(2, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("the server closed the connection without a close frame")
            data += chunk
        return data

    def read_all(self) -> tuple[list[dict[str, Any]], tuple[int, str]]:
        """Every message the server sent, then its close code and reason."""
        messages: list[dict[str, Any]] = []
        while True:
            first, second = self._exactly(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(self._exactly(2), "big")
            elif length == 127:
                length = int.from_bytes(self._exactly(8), "big")
            payload = self._exactly(length)
            opcode = first & 0x0F
            if opcode == 0x8:
                return messages, (int.from_bytes(payload[:2], "big"), payload[2:].decode())
            if opcode == 0x1:
                messages.append(json.loads(payload))

    def close(self) -> None:
        self.sock.close()

"""What a request costs in SQL, measured in process: statements per request (GraphQL and
floor), whether the floor answers exactly what GraphQL answers, and the query plans.

Each app runs against the benchmark database through httpx's ASGI transport while a
before_cursor_execute listener records the statements, as tests/conftest.py counts them.
"""

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from bench import floor
from bench.queries import Scenario, filtered_body, page_body
from server import create_app
from services.settings import Settings

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
PAGE_SIZES = (10, 50, 100)


@dataclass
class Recorder:
    """Statements (and their parameters) executed while active, transaction control aside."""

    statements: list[tuple[str, Any]] = field(default_factory=list)
    active: bool = False

    def __call__(
        self,
        _conn: Any,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        if self.active and not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            self.statements.append((statement, parameters))


@dataclass
class Client:
    http: httpx.AsyncClient
    engine: AsyncEngine
    recorder: Recorder
    token: str

    async def post(self, body: str) -> tuple[list[tuple[str, Any]], bytes]:
        """The statements one request ran, and its response body (which must be clean)."""
        self.recorder.statements.clear()
        self.recorder.active = True
        try:
            response = await self.http.post(
                "/graphql",
                content=body,
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Content-Type": "application/json",
                },
            )
        finally:
            self.recorder.active = False
        if response.status_code != 200 or b'"errors"' in response.content:
            raise AssertionError(f"{response.status_code}: {response.text[:2000]}")
        return list(self.recorder.statements), response.content


@asynccontextmanager
async def _client(
    app: Starlette, engine_of: Callable[[Starlette], AsyncEngine], token: str
) -> AsyncIterator[Client]:
    async with app.router.lifespan_context(app):
        engine: AsyncEngine = engine_of(app)
        recorder = Recorder()
        event.listen(engine.sync_engine, "before_cursor_execute", recorder)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            yield Client(http, engine, recorder, token)


async def statements_of(url: str, token: str, query: str, variables: dict[str, Any]) -> int:
    """How many statements one GraphQL request runs against the database at `url`."""
    app = create_app(Settings(database_url=url, graphiql=False))
    async with _client(app, lambda app: app.state.resources.engine, token) as client:
        statements, _ = await client.post(json.dumps({"query": query, "variables": variables}))
    return len(statements)


@dataclass
class ScenarioCost:
    statements: int
    floor_statements: int
    response_bytes: int
    floor_response_bytes: int
    same_response: str  # "yes", or where the floor's answer differs
    sql: list[str]  # the GraphQL request's statements
    floor_sql: list[str]


@dataclass
class Inspection:
    costs: dict[str, ScenarioCost]
    # scenario key -> page size -> statements (GraphQL, floor)
    by_page_size: dict[str, dict[int, tuple[int, int]]]
    plans: dict[str, tuple[str, list[str]]]  # scenario key -> (main SQL, plan lines)


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}: only in {'GraphQL' if key in a else 'floor'}"
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    if a != b or type(a) is not type(b):
        return f"{path}: {a!r} vs {b!r}"
    return None


def _main_statement(statements: list[tuple[str, Any]]) -> tuple[str, Any]:
    for statement, parameters in statements:
        if "FROM contact" in statement and "ORDER BY" in statement:
            return statement, parameters
    raise AssertionError("no page statement among\n" + "\n".join(s for s, _ in statements))


async def _plan(engine: AsyncEngine, statement: str, parameters: Any) -> list[str]:
    async with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            result = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            depth: dict[int, int] = {0: -1}
            lines = []
            for row in result.all():
                values: tuple[Any, ...] = tuple(row)
                node_id, parent, detail = values[0], values[1], values[3]
                depth[node_id] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node_id] + detail)
            return lines
        result = await connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters
        )
        return [row[0] for row in result.all()]


async def inspect(url: str, token: str, category_id: int, scenarios: list[Scenario]) -> Inspection:
    settings = Settings(database_url=url, graphiql=False)
    graphql_app = create_app(settings)
    floor_app = floor.create_app(url)
    costs: dict[str, ScenarioCost] = {}
    by_page_size: dict[str, dict[int, tuple[int, int]]] = {"a": {}, "b": {}}
    plans: dict[str, tuple[str, list[str]]] = {}
    async with (
        _client(graphql_app, lambda app: app.state.resources.engine, token) as graphql,
        _client(floor_app, lambda app: app.state.engine, token) as bare,
    ):
        for scenario in scenarios:
            body = scenario.bodies[0]
            await graphql.post(body)  # warm the caches first; count the second run
            statements, content = await graphql.post(body)
            await bare.post(body)
            floor_statements, floor_content = await bare.post(body)
            difference = first_difference(json.loads(content), json.loads(floor_content))
            costs[scenario.key] = ScenarioCost(
                statements=len(statements),
                floor_statements=len(floor_statements),
                response_bytes=len(content),
                floor_response_bytes=len(floor_content),
                same_response=difference or "yes",
                sql=[s for s, _ in statements],
                floor_sql=[s for s, _ in floor_statements],
            )
            if scenario.key in ("a", "b"):
                statement, parameters = _main_statement(statements)
                plans[scenario.key] = (
                    statement,
                    await _plan(graphql.engine, statement, parameters),
                )
        for key, make in (("a", page_body), ("b", filtered_body)):
            for size in PAGE_SIZES:
                statements, _ = await graphql.post(make(category_id, size))
                floor_statements, _ = await bare.post(make(category_id, size))
                by_page_size[key][size] = (len(statements), len(floor_statements))
    return Inspection(costs=costs, by_page_size=by_page_size, plans=plans)

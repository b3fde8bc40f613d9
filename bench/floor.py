"""The floor: a hand-written Starlette endpoint that answers the benchmark's three operations
with the same SQL the GraphQL service runs and the same JSON, and nothing else.

It takes the same request bodies on the same path (dispatching on `operationName`), checks the
bearer token with the same lookup, reads the field definitions, the contacts and their persons
with one statement each on one connection, and writes the response with Starlette's
JSONResponse. What GraphQL costs on top of this shows as a ratio.

Serve it like the service: `uvicorn bench.floor:create_app --factory` with CRM_DATABASE_URL.
"""

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Numeric, bindparam, text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.queries import FILTER_KEY, SORT_KEY
from models.categories import FieldType
from models.db import create_engine
from models.types import JSONType, UTCDateTime, utcnow
from services.field_index import value_sql
from services.ids import decode_id, encode_id
from services.pagination import encode_cursor, fingerprint
from services.settings import get_settings

CONTACT_COLUMNS = (
    "contact.id, contact.category_id, contact.name, contact.org_number, contact.email, "
    "contact.phone, contact.website, contact.address_street, contact.address_postal_code, "
    "contact.address_city, contact.address_region, contact.address_country, "
    "contact.custom_values, contact.search_text, contact.created_by_id, contact.created_at, "
    "contact.updated_at, contact.deleted_at"
)
CONTACT_TYPES: dict[str, Any] = {
    "custom_values": JSONType,
    "created_at": UTCDateTime(),
    "updated_at": UTCDateTime(),
    "deleted_at": UTCDateTime(),
}

AUTH = text(
    "SELECT auth_session.expires_at, auth_session.revoked_at, user_account.active "
    "FROM auth_session JOIN user_account ON user_account.id = auth_session.user_id "
    "WHERE auth_session.token_hash = :token_hash"
).columns(expires_at=UTCDateTime(), revoked_at=UTCDateTime())
FIELDS = text(
    "SELECT field_definition.key, field_definition.type, field_definition.archived_at "
    "FROM field_definition WHERE field_definition.category_id = :category_id "
    "ORDER BY field_definition.position, field_definition.id"
).columns(archived_at=UTCDateTime())
PERSONS = text(
    "SELECT person.id, person.contact_id, person.first_name, person.last_name, person.title, "
    "person.email, person.phone, person.mobile FROM person "
    "WHERE person.contact_id IN :ids ORDER BY person.contact_id, person.position, person.id"
).bindparams(bindparam("ids", expanding=True))
CARD = text(f"SELECT {CONTACT_COLUMNS} FROM contact WHERE contact.id = :id").columns(
    **CONTACT_TYPES
)


class ClientError(Exception):
    pass


def _page_sql(category_id: int, dialect: str, *, filtered: bool) -> Any:
    """The page query: built-in name order, or the filter and sort of scenario (b).

    The category is written as a literal and the expressions come from services.field_index,
    as in the service, so the partial expression indexes match.
    """
    where = f"contact.category_id = {int(category_id)} AND contact.deleted_at IS NULL"
    if not filtered:
        sql = (
            f"SELECT {CONTACT_COLUMNS}, contact.name AS sort_value FROM contact WHERE {where} "
            "ORDER BY contact.name ASC, contact.id ASC LIMIT :limit"
        )
        return text(sql).columns(**CONTACT_TYPES)
    segment = value_sql(dialect, FILTER_KEY, FieldType.SELECT, "contact.custom_values")
    revenue = value_sql(dialect, SORT_KEY, FieldType.MONEY, "contact.custom_values")
    nulls = " NULLS LAST" if dialect == "postgresql" else ""
    sql = (
        f"SELECT {CONTACT_COLUMNS}, {revenue} AS sort_value FROM contact "
        f"WHERE {where} AND {segment} = :segment "
        f"ORDER BY {revenue} DESC{nulls}, contact.id DESC LIMIT :limit"
    )
    return text(sql).columns(**CONTACT_TYPES, sort_value=Numeric(asdecimal=False))


async def _authenticate(connection: AsyncConnection, token: str | None) -> None:
    if not token:
        raise ClientError("Sign in first: send Authorization: Bearer <token>")
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    row = (await connection.execute(AUTH, {"token_hash": token_hash})).first()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow() or not row.active:
        raise ClientError("The session token is not valid; sign in again")


async def _fields(connection: AsyncConnection, category_id: int) -> list[Row[Any]]:
    rows = await connection.execute(FIELDS, {"category_id": category_id})
    return [row for row in rows if row.archived_at is None]


async def _persons(
    connection: AsyncConnection, contact_ids: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {contact_id: [] for contact_id in contact_ids}
    if not contact_ids:
        return grouped
    for p in await connection.execute(PERSONS, {"ids": list(contact_ids)}):
        grouped[p.contact_id].append(
            {
                "id": encode_id("Person", p.id),
                "firstName": p.first_name,
                "lastName": p.last_name,
                "title": p.title,
                "email": p.email,
                "phone": p.phone,
                "mobile": p.mobile,
                "fullName": " ".join(n for n in (p.first_name, p.last_name) if n),
            }
        )
    return grouped


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _contact(row: Row[Any], fields: Sequence[Row[Any]], persons: list[dict[str, Any]]) -> Any:
    address = (
        row.address_street,
        row.address_postal_code,
        row.address_city,
        row.address_region,
        row.address_country,
    )
    stored = row.custom_values
    values = {}
    for f in fields:
        value = stored.get(f.key)
        if value is not None and f.type == FieldType.USER:
            value = encode_id("User", int(value))
        values[f.key] = value
    return {
        "id": encode_id("Contact", row.id),
        "name": row.name,
        "orgNumber": row.org_number,
        "email": row.email,
        "phone": row.phone,
        "website": row.website,
        "createdAt": _iso(row.created_at),
        "updatedAt": _iso(row.updated_at),
        "deletedAt": _iso(row.deleted_at),
        "address": (
            dict(zip(("street", "postalCode", "city", "region", "country"), address, strict=True))
            if any(address)
            else None
        ),
        "values": values,
        "persons": persons,
    }


async def _page(
    connection: AsyncConnection, variables: dict[str, Any], *, filtered: bool
) -> dict[str, Any]:
    category_id = decode_id(variables["categoryId"], "Category")
    first = int(variables["first"])
    fields = await _fields(connection, category_id)
    keys = {f.key for f in fields}
    if filtered and not {FILTER_KEY, SORT_KEY} <= keys:
        raise ClientError(f"The category has no field {FILTER_KEY!r} or {SORT_KEY!r}")
    query = _page_sql(category_id, connection.dialect.name, filtered=filtered)
    parameters: dict[str, Any] = {"limit": first + 1}
    if filtered:
        parameters["segment"] = variables["segment"]
    rows = list(await connection.execute(query, parameters))
    more = len(rows) > first
    rows = rows[:first]
    persons = await _persons(connection, [row.id for row in rows])
    # As services/contact_query.py: the sort keys with their field types.
    sort_type = next(f.type for f in fields if f.key == SORT_KEY) if filtered else None
    fp = fingerprint(category_id, [(SORT_KEY, True, sort_type)] if filtered else [])
    cursors = [encode_cursor(fp, [row.sort_value, row.id]) for row in rows]
    return {
        "contacts": {
            "edges": [
                {"cursor": cursor, "node": _contact(row, fields, persons[row.id])}
                for row, cursor in zip(rows, cursors, strict=True)
            ],
            "pageInfo": {
                "hasNextPage": more,
                "hasPreviousPage": False,
                "startCursor": cursors[0] if cursors else None,
                "endCursor": cursors[-1] if cursors else None,
            },
        }
    }


async def _card(connection: AsyncConnection, variables: dict[str, Any]) -> dict[str, Any]:
    contact_id = decode_id(variables["id"], "Contact")
    row = (await connection.execute(CARD, {"id": contact_id})).first()
    if row is None:
        return {"contact": None}
    fields = await _fields(connection, row.category_id)
    persons = await _persons(connection, [contact_id])
    return {"contact": _contact(row, fields, persons[contact_id])}


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _graphql(request: Request) -> Response:
    engine: AsyncEngine = request.app.state.engine
    body = await request.json()
    operation = body.get("operationName")
    variables = body.get("variables") or {}
    async with engine.connect() as connection:
        try:
            await _authenticate(connection, _bearer_token(request))
            if operation == "Page":
                data = await _page(connection, variables, filtered=False)
            elif operation == "FilteredPage":
                data = await _page(connection, variables, filtered=True)
            elif operation == "Card":
                data = await _card(connection, variables)
            else:
                return JSONResponse({"errors": [{"message": f"unknown {operation!r}"}]}, 400)
        except ClientError as exc:
            return JSONResponse({"data": None, "errors": [{"message": str(exc)}]})
    return JSONResponse({"data": data})


async def _healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(database_url: str | None = None) -> Starlette:
    settings = get_settings()
    url = database_url or settings.database_url

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.engine = create_engine(url, pool_size=settings.database_pool_size)
        try:
            yield
        finally:
            await app.state.engine.dispose()

    return Starlette(
        routes=[Route("/graphql", _graphql, methods=["POST"]), Route("/healthz", _healthz)],
        lifespan=lifespan,
    )

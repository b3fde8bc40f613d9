"""Realistic cards: one category with twelve custom fields and two persons per card.

The admin, the category and its fields are created through the real GraphQL API (in process,
over httpx's ASGI transport), so the expression indexes are exactly the ones production creates
(services/categories.py create_field). The cards and persons are then bulk-inserted with
SQLAlchemy Core executemany, in batches inside one transaction, with custom values stored the
way the services store them (services.values.coerce) and the search text computed by the
services' own function (services.search.search_text).
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from time import perf_counter
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import SQLModel

from models.categories import FieldDefinition
from models.db import create_engine
from server import create_app
from services.categories import fields_of
from services.ids import decode_id
from services.search import search_text
from services.settings import Settings
from services.values import coerce

CATEGORY_KEY = "customers"
BATCH = 2000
SEGMENTS = (
    "enterprise",
    "mid_market",
    "smb",
    "startup",
    "public_sector",
    "non_profit",
    "partner",
    "reseller",
)
INDUSTRIES = (
    "Software",
    "Logistics",
    "Retail",
    "Manufacturing",
    "Healthcare",
    "Energy",
    "Finance",
    "Construction",
    "Media",
    "Agriculture",
    "Education",
    "Hospitality",
)
NAME_FIRST = (
    "Nordic",
    "Baltic",
    "Alpine",
    "Coastal",
    "Northern",
    "United",
    "Green",
    "Blue",
    "Silver",
    "Golden",
    "Bright",
    "Polar",
    "Royal",
    "Swift",
    "Urban",
    "Rapid",
    "Solid",
    "Clear",
    "Prime",
    "Pioneer",
)
NAME_SECOND = (
    "Timber",
    "Harbor",
    "Bridge",
    "Valley",
    "Forge",
    "Signal",
    "Anchor",
    "Summit",
    "River",
    "Stone",
    "Field",
    "Spark",
    "Cloud",
    "Garden",
    "Motion",
    "Circuit",
    "Compass",
    "Beacon",
    "Falcon",
    "Meadow",
)
NAME_SUFFIX = ("AB", "Oy", "AS", "GmbH", "Ltd", "Group", "Systems", "Partners")
FIRST_NAMES = (
    "Anna",
    "Erik",
    "Maria",
    "Lars",
    "Karin",
    "Johan",
    "Sofia",
    "Mikael",
    "Elin",
    "Anders",
    "Ida",
    "Per",
    "Emma",
    "Nils",
    "Linnea",
    "Olof",
)
LAST_NAMES = (
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Lindqvist",
    "Berg",
)
TITLES = ("CEO", "CFO", "Head of Sales", "Buyer", "Office Manager", "CTO", "Account Manager")
CITIES = (
    ("Stockholm", "SE"),
    ("Göteborg", "SE"),
    ("Malmö", "SE"),
    ("Oslo", "NO"),
    ("Helsinki", "FI"),
    ("København", "DK"),
    ("Uppsala", "SE"),
    ("Tampere", "FI"),
)
BASE_TIME = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FieldPlan:
    key: str
    label: str
    type: str
    indexed: bool = False
    unique: bool = False
    options: tuple[str, ...] = ()
    currency: str | None = None

    def create_input(self, category_gid: str, position: int) -> dict[str, Any]:
        data: dict[str, Any] = {
            "categoryId": category_gid,
            "key": self.key,
            "label": self.label,
            "type": self.type,
            "indexed": self.indexed,
            "unique": self.unique,
            "position": position,
        }
        if self.options:
            data["options"] = [
                {"value": v, "label": v.replace("_", " ").title()} for v in self.options
            ]
        if self.currency:
            data["currency"] = self.currency
        return data


FIELDS = (
    FieldPlan("segment", "Segment", "SELECT", indexed=True, options=SEGMENTS),
    FieldPlan("revenue", "Annual revenue", "MONEY", indexed=True, currency="EUR"),
    FieldPlan("founded", "Founded", "DATE"),
    FieldPlan("employees", "Employees", "INTEGER"),
    FieldPlan("rating", "Rating", "RATING"),
    FieldPlan("industry", "Industry", "TEXT"),
    FieldPlan("billing_email", "Billing e-mail", "EMAIL"),
    FieldPlan("newsletter", "Newsletter", "BOOLEAN"),
    FieldPlan("churn_risk", "Churn risk", "NUMBER"),
    FieldPlan("homepage", "Homepage", "URL"),
    FieldPlan("switchboard", "Switchboard", "PHONE"),
    FieldPlan("org_no", "Org. number", "TEXT", unique=True),
)

SIGN_UP = """mutation($input: SignUpInput!) { signUp(input: $input) {
  token user { id } userErrors { field message code } } }"""
CATEGORY_CREATE = """mutation($input: CategoryCreateInput!) { categoryCreate(input: $input) {
  category { id } userErrors { field message code } } }"""
FIELD_CREATE = """mutation($input: FieldDefinitionCreateInput!) {
  fieldDefinitionCreate(input: $input) {
    fieldDefinition { id key indexed unique } userErrors { field message code } } }"""


class SeedError(RuntimeError):
    pass


@dataclass
class Seeded:
    token: str
    category_id: int
    card_ids: list[int]
    persons: int
    setup_seconds: float  # admin, category and fields through GraphQL
    insert_seconds: float  # generating and inserting the cards and persons
    analyze_seconds: float  # ANALYZE on PostgreSQL (what autovacuum would do)


async def _call(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str = ""
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise SeedError(f"GraphQL set-up failed ({response.status_code}): {body}")
    (payload,) = body["data"].values()
    if payload.get("userErrors"):
        raise SeedError(f"GraphQL set-up refused: {payload['userErrors']}")
    result: dict[str, Any] = payload
    return result


async def _create_schema(url: str) -> tuple[str, int, int]:
    """Sign up the admin and create the category and its fields; (token, user, category)."""
    app = create_app(Settings(database_url=url, graphiql=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            signed_up = await _call(
                client,
                SIGN_UP,
                {
                    "input": {
                        "email": "bench@example.com",
                        "password": "benchmark password",
                        "name": "Bench Admin",
                    }
                },
            )
            token: str = signed_up["token"]
            user_id = decode_id(signed_up["user"]["id"], "User")
            created = await _call(
                client,
                CATEGORY_CREATE,
                {"input": {"key": CATEGORY_KEY, "name": "Customers"}},
                token,
            )
            category_gid: str = created["category"]["id"]
            for position, plan in enumerate(FIELDS):
                await _call(
                    client,
                    FIELD_CREATE,
                    {"input": plan.create_input(category_gid, position)},
                    token,
                )
    return token, user_id, decode_id(category_gid, "Category")


def _raw_values(i: int, rng: random.Random, domain: str) -> dict[str, Any]:
    """Custom values as a client would send them; some are left empty, as in real data."""
    values: dict[str, Any] = {
        "segment": rng.choice(SEGMENTS),
        "revenue": round(rng.lognormvariate(14, 1.6), 2) if rng.random() > 0.03 else None,
        "founded": (date(1950, 1, 1) + timedelta(days=rng.randrange(27_000))).isoformat(),
        "employees": int(rng.lognormvariate(3.5, 1.4)),
        "rating": rng.randint(1, 5) if rng.random() > 0.2 else None,
        "industry": rng.choice(INDUSTRIES),
        "billing_email": f"invoices@{domain}",
        "newsletter": rng.random() < 0.4,
        "churn_risk": round(rng.random(), 4),
        "homepage": f"https://www.{domain}/",
        "switchboard": f"+46 8 {rng.randrange(100, 999)} {rng.randrange(10, 99)} 00",
        "org_no": f"556{i:07d}",
    }
    return {k: v for k, v in values.items() if v is not None}


def _cards(
    count: int, rng: random.Random, category_id: int, fields: list[FieldDefinition], user_id: int
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(contact row, person rows without contact_id) for every card."""
    definitions = {f.key: f for f in fields}
    for i in range(count):
        name = f"{rng.choice(NAME_FIRST)} {rng.choice(NAME_SECOND)} {rng.choice(NAME_SUFFIX)}"
        domain = f"{name.split()[0].lower()}{name.split()[1].lower()}{i}.example"
        stored = {
            key: coerce(definitions[key], raw) for key, raw in _raw_values(i, rng, domain).items()
        }
        city, country = rng.choice(CITIES)
        created = BASE_TIME - timedelta(seconds=rng.randrange(3 * 365 * 86400))
        updated = created + timedelta(seconds=rng.randrange(90 * 86400))
        org_number, email = stored["org_no"], f"info@{domain}"
        row = {
            "category_id": category_id,
            "name": name,
            "org_number": org_number,
            "email": email,
            "phone": f"+46 8 {rng.randrange(100, 999)} {rng.randrange(10, 99)} 00",
            "website": f"https://www.{domain}",
            "address_street": f"Storgatan {rng.randrange(1, 120)}",
            "address_postal_code": f"{rng.randrange(10000, 99999)}",
            "address_city": city,
            "address_region": None,
            "address_country": country,
            "custom_values": stored,
            "search_text": search_text(name, org_number, email, stored, fields),
            "created_by_id": user_id,
            "created_at": created,
            "updated_at": updated,
            "deleted_at": None,
        }
        persons = []
        for position in (1, 2):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            persons.append(
                {
                    "first_name": first,
                    "last_name": last,
                    "title": rng.choice(TITLES),
                    "email": f"{first}.{last}@{domain}".lower(),
                    "phone": f"+46 8 {rng.randrange(100, 999)} {rng.randrange(10, 99)} 1{position}",
                    "mobile": f"+46 70 {rng.randrange(100, 999)} {rng.randrange(10, 99)} 00",
                    "position": position,
                    "created_at": created,
                    "updated_at": created,
                }
            )
        yield row, persons


async def _insert(
    connection: AsyncConnection,
    count: int,
    category_id: int,
    fields: list[FieldDefinition],
    user_id: int,
) -> tuple[list[int], int]:
    contact_table = SQLModel.metadata.tables["contact"]
    person_table = SQLModel.metadata.tables["person"]
    insert_contacts = insert(contact_table).returning(
        contact_table.c.id, sort_by_parameter_order=True
    )
    rng = random.Random(20250601)
    ids: list[int] = []
    persons_total = 0
    cards = _cards(count, rng, category_id, fields, user_id)
    while True:
        batch = [card for _, card in zip(range(BATCH), cards, strict=False)]
        if not batch:
            break
        result = await connection.execute(insert_contacts, [row for row, _ in batch])
        batch_ids = [contact_id for (contact_id,) in result.all()]
        person_rows = [
            {**person, "contact_id": contact_id}
            for contact_id, (_, persons) in zip(batch_ids, batch, strict=True)
            for person in persons
        ]
        await connection.execute(insert(person_table), person_rows)
        ids += batch_ids
        persons_total += len(person_rows)
    return ids, persons_total


async def seed(url: str, cards: int) -> Seeded:
    started = perf_counter()
    token, user_id, category_id = await _create_schema(url)
    setup_seconds = perf_counter() - started

    engine = create_engine(url)
    try:
        async with AsyncSession(engine) as session:
            fields = await fields_of(session, [category_id])
        started = perf_counter()
        async with engine.begin() as connection:
            ids, persons = await _insert(connection, cards, category_id, fields, user_id)
        insert_seconds = perf_counter() - started
        started = perf_counter()
        if engine.dialect.name == "postgresql":
            async with engine.begin() as connection:
                await connection.execute(text("ANALYZE"))
        analyze_seconds = perf_counter() - started
    finally:
        await engine.dispose()
    return Seeded(
        token=token,
        category_id=category_id,
        card_ids=ids,
        persons=persons,
        setup_seconds=setup_seconds,
        insert_seconds=insert_seconds,
        analyze_seconds=analyze_seconds,
    )

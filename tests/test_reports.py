"""Reports: each statistic kind, grouping and period computed in SQL, checked against the same
figures worked out here in Python from the cards themselves, on SQLite and PostgreSQL."""

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text, update
from sqlmodel import col

from models.contacts import Contact
from tests.conftest import Api
from tests.helpers import (
    CONTACT_DELETE,
    CONTACT_LINK,
    CONTACT_UPDATE,
    RELATION_CREATE,
    create_category,
    create_field,
)
from tests.helpers import create_contact as new_card
from tests.test_statistics import define

REPORT = """query($c: ID!, $s: [ID!], $from: Date, $to: Date, $tz: String) {
  report(categoryId: $c, statisticIds: $s, from: $from, to: $to, timeZone: $tz) {
    from to timeZone
    statistics { statistic { name } rows {
      period { start end label } group { key label color } value number cards } } } }"""
INDUSTRIES = [
    {"value": "it", "label": "IT", "color": "#1f77b4"},
    {"value": "retail", "label": "Retail", "color": "#ff7f0e"},
    {"value": "energy", "label": "Energy", "color": "#2ca02c"},
]
TAGS = [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}, {"value": "c", "label": "C"}]
# Amounts whose floating-point sum is not exact, the largest a MONEY field takes, numbers of
# every size.
CARDS: list[dict[str, Any]] = [
    {
        "name": "Acme",
        "country": "NO",
        "values": {
            "industry": "it",
            "tags": ["a", "b"],
            "active": True,
            "revenue": 0.1,
            "employees": 9007199254740991,
            "score": 0.1,
            "contract_end": "2026-03-31",
            "signed_at": "2026-01-01T00:30:00Z",
        },
    },
    {
        "name": "Bolt",
        "country": "SE",
        "values": {
            "industry": "it",
            "tags": ["b"],
            "active": False,
            "revenue": 0.2,
            "employees": 9007199254740991,
            "score": 0.2,
            "contract_end": "2026-04-01",
        },
    },
    {
        "name": "Cog",
        "country": "NO",
        "values": {
            "industry": "retail",
            "tags": [],
            "revenue": 9999999999999.99,
            "employees": 3,
            "score": 1e-7,
            "contract_end": "2026-12-31",
            "signed_at": "2025-12-31T23:30:00Z",
        },
    },
    {
        "name": "Dyn",
        "values": {"industry": "retail", "revenue": 12.34, "employees": -5, "score": 123456.789},
    },
    {"name": "Eon", "country": "DK", "values": {"tags": ["c", "a"], "active": True}},
    {"name": "Fix", "country": "NO", "values": {"industry": "it", "revenue": 0.7, "score": 2.5}},
]


async def seed(admin: Api) -> tuple[str, dict[str, str], dict[str, str]]:
    """The category, its cards' IDs by name, and user IDs by name (Lea owns two cards)."""
    category_id: str = (await create_category(admin, "customers"))["id"]
    await create_field(admin, category_id, "industry", "SELECT", options=INDUSTRIES)
    await create_field(admin, category_id, "tags", "MULTI_SELECT", options=TAGS)
    await create_field(admin, category_id, "active", "BOOLEAN")
    await create_field(admin, category_id, "owner", "USER")
    await create_field(admin, category_id, "revenue", "MONEY", currency="NOK")
    await create_field(admin, category_id, "employees", "INTEGER")
    await create_field(admin, category_id, "score", "NUMBER")
    await create_field(admin, category_id, "contract_end", "DATE")
    await create_field(admin, category_id, "signed_at", "DATETIME")
    lea = await admin.add_user("lea@example.com", "MEMBER", "Lea")
    users = {"Lea": (await admin.ok("{ me { id } }", token=lea))["me"]["id"]}
    cards = {}
    for card in CARDS:
        values = dict(card["values"])
        if card["name"] in ("Acme", "Cog"):
            values["owner"] = users["Lea"]
        address = {"country": card["country"]} if "country" in card else None
        created = await new_card(admin, category_id, card["name"], values, address=address)
        cards[card["name"]] = created["id"]
    relation = {
        "key": "subsidiaries",
        "name": "Subsidiaries",
        "inverseKey": "parent",
        "inverseName": "Parent",
        "fromCategoryId": category_id,
        "toCategoryId": category_id,
        "cardinality": "ONE_TO_MANY",
    }
    await admin.ok(RELATION_CREATE, {"input": relation})
    for parent, child in (("Acme", "Bolt"), ("Acme", "Cog"), ("Dyn", "Eon")):
        link = {"relation": "subsidiaries", "fromId": cards[parent], "toId": cards[child]}
        await admin.ok(CONTACT_LINK, {"input": link})
    return category_id, cards, users


async def report(
    api: Api, category_id: str, token: str | None = None, **arguments: Any
) -> list[dict[str, Any]]:
    variables = {"c": category_id, **arguments}
    data = await api.ok(REPORT, variables, token)
    found: list[dict[str, Any]] = data["report"]["statistics"]
    return found


def values_of(key: str) -> list[Any]:
    return [card["values"][key] for card in CARDS if key in card["values"]]


def cents(amount: float) -> Decimal:
    return Decimal(repr(amount)).quantize(Decimal("0.01"))


async def test_every_kind_over_money_integers_and_numbers_is_exact(admin: Api) -> None:
    category_id, _, _ = await seed(admin)
    expected: dict[str, str | None] = {}
    revenue = [cents(v) for v in values_of("revenue")]
    employees = [Decimal(v) for v in values_of("employees")]
    scores = [Decimal(repr(v)) for v in values_of("score")]
    for key, numbers in (("revenue", revenue), ("employees", employees), ("score", scores)):
        for kind in (
            "SUM",
            "AVG",
            "MIN",
            "MAX",
            "COUNT_DISTINCT",
            "COUNT_EMPTY",
            "COUNT_NOT_EMPTY",
        ):
            await define(admin, category_id, name=f"{kind} {key}", kind=kind, fieldKey=key)
        total = sum(numbers, Decimal(0))
        average = total / len(numbers)
        if key in ("revenue", "employees"):
            shown = {
                "SUM": str(total),
                "AVG": str(average.quantize(Decimal("0.01"), ROUND_HALF_UP)),
            }
            shown |= {"MIN": str(min(numbers)), "MAX": str(max(numbers))}
        else:  # NUMBER: the nearest double
            shown = {"SUM": repr(float(total)), "AVG": repr(float(average))}
            shown |= {"MIN": repr(float(min(numbers))), "MAX": repr(float(max(numbers)))}
        shown |= {
            "COUNT_DISTINCT": str(len(set(numbers))),
            "COUNT_EMPTY": str(len(CARDS) - len(numbers)),
            "COUNT_NOT_EMPTY": str(len(numbers)),
        }
        expected |= {f"{kind} {key}": value for kind, value in shown.items()}
    await define(admin, category_id, name="COUNT", kind="COUNT")
    expected["COUNT"] = str(len(CARDS))
    found = {part["statistic"]["name"]: part["rows"] for part in await report(admin, category_id)}
    assert {name: rows[0]["value"] for name, rows in found.items()} == expected
    assert all(len(rows) == 1 and rows[0]["cards"] == len(CARDS) for rows in found.values())
    # 0.1 + 0.2 + 9999999999999.99 + 12.34 + 0.7: exact, where floating point is not.
    assert expected["SUM revenue"] == "10000000000013.33"
    assert found["SUM revenue"][0]["number"] == pytest.approx(10000000000013.33)


async def test_groups_are_labelled_complete_and_in_order(admin: Api) -> None:
    category_id, cards, users = await seed(admin)
    groupings = ("industry", "tags", "active", "owner", "country", "parent")
    for key in groupings:
        await define(admin, category_id, name=f"by {key}", kind="COUNT", groupBy=key)
    await define(
        admin,
        category_id,
        name="revenue by industry",
        kind="SUM",
        fieldKey="revenue",
        groupBy="industry",
    )
    found = {
        part["statistic"]["name"]: [
            (row["group"]["key"], row["group"]["label"], row["value"]) for row in part["rows"]
        ]
        for part in await report(admin, category_id)
    }
    industry = Counter(card["values"].get("industry") for card in CARDS)
    assert found["by industry"] == [
        ("it", "IT", str(industry["it"])),
        ("retail", "Retail", str(industry["retail"])),
        ("energy", "Energy", "0"),  # an option no card has
        (None, "No value", str(industry[None])),
    ]
    tags = Counter(tag for card in CARDS for tag in card["values"].get("tags", []))
    untagged = sum(not card["values"].get("tags") for card in CARDS)
    assert found["by tags"] == [
        ("a", "A", str(tags["a"])),
        ("b", "B", str(tags["b"])),
        ("c", "C", str(tags["c"])),
        (None, "No value", str(untagged)),
    ]
    active = Counter(card["values"].get("active") for card in CARDS)
    assert found["by active"] == [
        ("true", "Yes", str(active[True])),
        ("false", "No", str(active[False])),
        (None, "No value", str(active[None])),
    ]
    assert found["by owner"] == [(users["Lea"], "Lea", "2"), (None, "No value", "4")]
    countries = Counter(card.get("country") for card in CARDS)
    assert found["by country"] == [
        *((code, code, str(countries[code])) for code in sorted(c for c in countries if c)),
        (None, "No value", str(countries[None])),
    ]
    # Grouped by its parent: the parent card names the group.
    assert found["by parent"] == [
        (cards["Acme"], "Acme", "2"),
        (cards["Dyn"], "Dyn", "1"),
        (None, "No value", "3"),
    ]
    by_industry: dict[str | None, Decimal] = defaultdict(Decimal)
    for card in CARDS:
        if "revenue" in card["values"]:
            by_industry[card["values"].get("industry")] += cents(card["values"]["revenue"])
    assert found["revenue by industry"] == [
        ("it", "IT", str(by_industry["it"])),
        ("retail", "Retail", str(by_industry["retail"])),
        ("energy", "Energy", None),  # no card: no sum
        (None, "No value", None),  # a card without an industry, nor a revenue
    ]
    colors = {
        row["group"]["key"]: row["group"]["color"]
        for part in await report(admin, category_id)
        if part["statistic"]["name"] == "by industry"
        for row in part["rows"]
    }
    assert colors == {"it": "#1f77b4", "retail": "#ff7f0e", "energy": "#2ca02c", None: None}


# Creation times around Oslo's change to summer time (2024-03-31 02:00 local) and the turn of
# a quarter and a year, as UTC.
CREATED = [
    "2023-12-31T22:59:59.999900",  # the last instant of 31 December in Oslo
    "2023-12-31T23:00:00",  # midnight: the new year in Oslo
    "2024-03-30T23:30:00",  # Sunday 31 March, 00:30
    "2024-03-31T21:59:00",  # Sunday 31 March, 23:59 (summer time)
    "2024-03-31T22:00:00",  # Monday 1 April, 00:00: a new day, week, month and quarter
    "2024-04-14T12:00:00",
]


async def set_created(admin: Api, cards: dict[str, str]) -> dict[str, datetime]:
    """Give the cards the creation times above (through the database: the API sets them)."""
    moments = {}
    async with admin.engine.begin() as connection:
        for name, moment in zip(cards, CREATED, strict=True):
            instant = datetime.fromisoformat(moment).replace(tzinfo=UTC)
            moments[name] = instant
            parameter = (
                instant
                if connection.dialect.name == "postgresql"
                else instant.strftime("%Y-%m-%d %H:%M:%S.%f")
            )
            await connection.execute(
                text("UPDATE contact SET created_at = :at WHERE name = :name"),
                {"at": parameter, "name": name},
            )
    return moments


def period_start(bucket: str, day: date) -> date:
    if bucket == "DAY":
        return day
    if bucket == "WEEK":
        return day - timedelta(days=day.weekday())
    if bucket == "MONTH":
        return day.replace(day=1)
    if bucket == "QUARTER":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


@pytest.mark.parametrize("zone", ["Europe/Oslo", "America/St_Johns", "UTC"])
async def test_periods_of_the_creation_time_follow_the_time_zone(admin: Api, zone: str) -> None:
    category_id, cards, _ = await seed(admin)
    moments = await set_created(admin, cards)
    buckets = ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR")
    for bucket in buckets:
        await define(admin, category_id, name=bucket, kind="COUNT", bucket=bucket)
    found = {
        part["statistic"]["name"]: part["rows"]
        for part in await report(admin, category_id, tz=zone)
    }
    tz = ZoneInfo(zone)
    for bucket in buckets:
        counted = Counter(period_start(bucket, m.astimezone(tz).date()) for m in moments.values())
        rows = found[bucket]
        got = {date.fromisoformat(row["period"]["start"]): int(row["value"]) for row in rows}
        assert {start: n for start, n in got.items() if n} == dict(counted), bucket
        # Every period from the first to the last is there, empty ones too, in order.
        starts = [date.fromisoformat(row["period"]["label"]) for row in rows]
        assert starts == sorted(starts)
        assert starts[0] == min(counted)
        assert starts[-1] == max(counted)
        assert len(starts) == len(set(starts))
        for row in rows:
            start, end = (date.fromisoformat(row["period"][k]) for k in ("start", "end"))
            assert period_start(bucket, end) == start
            assert period_start(bucket, end + timedelta(days=1)) != start


async def test_from_and_to_keep_the_cards_of_those_days_in_the_time_zone(admin: Api) -> None:
    category_id, cards, _ = await seed(admin)
    await set_created(admin, cards)
    await define(admin, category_id, name="per month", kind="COUNT", bucket="MONTH")
    await define(admin, category_id, name="all", kind="COUNT")
    found = {
        part["statistic"]["name"]: part["rows"]
        for part in await report(
            admin, category_id, tz="Europe/Oslo", **{"from": "2024-01-01", "to": "2024-03-31"}
        )
    }
    # 1 January 00:00 Oslo to 31 March 23:59 Oslo: three cards; the months in between are there.
    assert [(r["period"]["label"], r["value"]) for r in found["per month"]] == [
        ("2024-01-01", "1"),
        ("2024-02-01", "0"),
        ("2024-03-01", "2"),
    ]
    assert found["all"][0]["value"] == "3"


async def test_periods_of_date_and_date_time_fields(admin: Api) -> None:
    category_id, _, _ = await seed(admin)
    await define(
        admin,
        category_id,
        name="contracts ending",
        kind="COUNT",
        bucket="QUARTER",
        bucketOn="contract_end",
    )
    await define(
        admin, category_id, name="signed", kind="COUNT", bucket="YEAR", bucketOn="signed_at"
    )
    await define(
        admin,
        category_id,
        name="latest end per quarter",
        kind="MAX",
        fieldKey="contract_end",
        bucket="QUARTER",
        bucketOn="contract_end",
    )
    found = {
        part["statistic"]["name"]: [(r["period"]["label"], r["value"]) for r in part["rows"]]
        for part in await report(admin, category_id, tz="Europe/Oslo")
    }
    ends = Counter(
        period_start("QUARTER", date.fromisoformat(v)) for v in values_of("contract_end")
    )
    assert found["contracts ending"] == [
        (start.isoformat(), str(ends[start]))
        for start in (date(2026, 1, 1), date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1))
    ]
    assert found["latest end per quarter"] == [
        ("2026-01-01", "2026-03-31"),
        ("2026-04-01", "2026-04-01"),
        ("2026-07-01", None),
        ("2026-10-01", "2026-12-31"),
    ]
    # 2025-12-31T23:30Z is already 2026 in Oslo.
    assert found["signed"] == [("2026-01-01", "2")]


async def test_anyone_signed_in_runs_a_report_and_bad_requests_are_named(admin: Api) -> None:
    category_id, _, _ = await seed(admin)
    statistic = await define(admin, category_id, name="all", kind="COUNT")
    viewer = await admin.add_user("vic@example.com", "VIEWER")
    assert (await report(admin, category_id, viewer))[0]["rows"][0]["value"] == str(len(CARDS))
    anonymous = await admin.post(REPORT, {"c": category_id}, token="")
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    other = (await create_category(admin, "suppliers"))["id"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"tz": "Mars/Olympus"}, "INVALID_TIME_ZONE"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "INVALID_PERIOD"),
        ({"c": other, "s": [statistic["id"]]}, "NOT_FOUND"),
    ]
    for arguments, code in cases:
        errors = await admin.errors(REPORT, {"c": category_id, **arguments})
        assert errors[0]["extensions"]["code"] == code, errors
    await define(admin, category_id, name="daily", kind="COUNT", bucket="DAY")
    admin.counter.reset()
    admin.counter.active = True
    try:
        errors = await admin.errors(
            REPORT, {"c": category_id, "from": "1990-01-01", "to": "2026-01-01"}
        )
    finally:
        admin.counter.active = False
    assert errors[0]["extensions"]["code"] == "TOO_MANY_ROWS"
    assert "more than 10,000 rows" in errors[0]["message"]
    # Refused before the cards are read.
    assert not [s for s in admin.counter.statements if "GROUP BY" in str(s)]


async def test_a_report_costs_one_statement_per_statistic(admin: Api) -> None:
    category_id, _, _ = await seed(admin)
    await define(admin, category_id, name="by industry", kind="COUNT", groupBy="industry")
    one = await admin.count_statements(
        REPORT.replace("$s: [ID!], ", "").replace("statisticIds: $s, ", ""), {"c": category_id}
    )
    await define(admin, category_id, name="revenue", kind="SUM", fieldKey="revenue")
    await define(admin, category_id, name="per tag", kind="AVG", fieldKey="score", groupBy="tags")
    three = await admin.count_statements(
        REPORT.replace("$s: [ID!], ", "").replace("statisticIds: $s, ", ""), {"c": category_id}
    )
    assert three == one + 2


async def test_statistics_of_one_grouping_share_a_statement_and_keep_their_figures(
    admin: Api,
) -> None:
    category_id, _, _ = await seed(admin)
    query = REPORT.replace("$s: [ID!], ", "").replace("statisticIds: $s, ", "")
    first = await define(admin, category_id, name="cards", kind="COUNT", groupBy="industry")
    one = await admin.count_statements(query, {"c": category_id})
    shared = [
        first,
        await define(
            admin, category_id, name="revenue", kind="SUM", fieldKey="revenue", groupBy="industry"
        ),
        await define(
            admin, category_id, name="largest", kind="MAX", fieldKey="employees", groupBy="industry"
        ),
    ]
    assert await admin.count_statements(query, {"c": category_id}) == one
    together = await report(admin, category_id)
    alone = [(await report(admin, category_id, s=[s["id"]]))[0] for s in shared]
    assert together == alone
    # A filter makes another statement.
    await define(
        admin,
        category_id,
        name="active cards",
        kind="COUNT",
        groupBy="industry",
        filter={"fields": [{"key": "active", "eq": True}]},
    )
    assert await admin.count_statements(query, {"c": category_id}) == one + 1


async def test_min_and_max_compare_numbers_as_numbers(admin: Api) -> None:
    """9 < 10 < 100, whatever their text says; keys that differ only in case are two fields."""
    category_id: str = (await create_category(admin, "partners"))["id"]
    await create_field(admin, category_id, "seats", "INTEGER")
    await create_field(admin, category_id, "fee", "MONEY", currency="EUR")
    await create_field(admin, category_id, "feeX", "INTEGER")
    for seats, fee in ((9, 5), (10, 10), (100, 100.5)):
        values = {"seats": seats, "fee": fee, "feeX": seats * 2}
        await new_card(admin, category_id, f"P{seats}", values)
    for kind in ("MIN", "MAX"):
        for key in ("seats", "fee", "feeX"):
            await define(admin, category_id, name=f"{kind} {key}", kind=kind, fieldKey=key)
    found = {
        part["statistic"]["name"]: part["rows"][0]["value"]
        for part in await report(admin, category_id)
    }
    assert found == {
        "MIN seats": "9",
        "MIN fee": "5.00",
        "MIN feeX": "18",
        "MAX seats": "100",
        "MAX fee": "100.50",
        "MAX feeX": "200",
    }


async def test_money_sums_beyond_64_bits_of_cents_stay_exact(admin: Api) -> None:
    category_id: str = (await create_category(admin, "giants"))["id"]
    await create_field(admin, category_id, "revenue", "MONEY", currency="EUR")
    await define(admin, category_id, name="total", kind="SUM", fieldKey="revenue")
    cards = 10_000  # 10,000 x 999,999,999,999,999 cents is past 2**63
    async with admin.engine.begin() as connection:
        category_pk = (
            await connection.execute(text("SELECT id FROM category WHERE key = 'giants'"))
        ).scalar_one()
        cast = "CAST(:v AS JSONB)" if connection.dialect.name == "postgresql" else ":v"
        await connection.execute(
            text(
                "INSERT INTO contact (category_id, name, custom_values, search_text, version, "
                f"created_at, updated_at) VALUES ({category_pk}, :name, {cast}, '', 1, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            [{"name": f"G{i}", "v": '{"revenue": 9999999999999.99}'} for i in range(cards)],
        )
    (part,) = await report(admin, category_id)
    assert part["rows"][0]["value"] == str(Decimal("9999999999999.99") * cards)


async def test_a_report_with_only_from_or_far_dates_answers_quickly(admin: Api) -> None:
    category_id, cards, _ = await seed(admin)
    await define(admin, category_id, name="per month", kind="COUNT", bucket="MONTH")
    await define(
        admin,
        category_id,
        name="signed per year",
        kind="COUNT",
        bucket="YEAR",
        bucketOn="signed_at",
    )
    far = {"input": {"id": cards["Fix"], "values": {"signed_at": "9999-06-30T12:00:00Z"}}}
    await admin.ok(CONTACT_UPDATE, far)
    found = {
        part["statistic"]["name"]: part["rows"]
        for part in await report(admin, category_id, tz="Europe/Oslo", **{"from": "2020-01-01"})
    }
    assert sum(int(row["value"]) for row in found["per month"]) == len(CARDS)
    years = [row["period"]["label"] for row in found["signed per year"] if row["value"] != "0"]
    assert years == ["2026-01-01", "9999-01-01"]
    for arguments in ({"to": "9999-12-31"}, {"from": "0001-01-01"}):
        errors = await admin.errors(REPORT, {"c": category_id, "tz": "Europe/Oslo", **arguments})
        assert errors[0]["extensions"]["code"] == "INVALID_PERIOD"


async def test_a_related_card_in_the_bin_names_no_group(admin: Api) -> None:
    """Eon's parent Dyn goes to the bin: Eon shows no parent, and counts under "No value"."""
    category_id, cards, _ = await seed(admin)
    await define(admin, category_id, name="by parent", kind="COUNT", groupBy="parent")
    await admin.ok(CONTACT_DELETE, {"input": {"id": cards["Dyn"]}})
    (part,) = await report(admin, category_id)
    assert [(row["group"]["label"], row["value"]) for row in part["rows"]] == [
        ("Acme", "2"),
        ("No value", "3"),  # Acme, Eon and Fix
    ]


async def test_a_sum_of_numbers_is_the_nearest_double_of_the_exact_sum(admin: Api) -> None:
    category_id = (await create_category(admin, "customers"))["id"]
    await create_field(admin, category_id, "score", "NUMBER")
    for n, score in enumerate((9007199254740992.0, 1, 1e-7)):
        await new_card(admin, category_id, f"Card {n}", {"score": score})
    await define(admin, category_id, name="sum", kind="SUM", fieldKey="score")
    (part,) = await report(admin, category_id)
    exact = Decimal(9007199254740992) + 1 + Decimal("1e-7")
    assert float(exact) == 9007199254740994.0  # rounding to 17 digits first gave ...992
    assert part["rows"][0]["value"] == "9007199254740994.0"
    assert part["rows"][0]["number"] == float(exact)


@pytest.mark.parametrize(
    ("stored", "zone"),
    [("9999-12-31T23:30:00Z", "Europe/Oslo"), ("0001-01-01T00:30:00Z", "America/New_York")],
)
async def test_a_moment_stored_beyond_what_a_zone_can_show_breaks_no_report(
    admin: Api, stored: str, zone: str
) -> None:
    """Such values are refused now; one stored before (in year 10000 or 0 in the report's
    zone) is in no period, and the rest of the report stands."""
    category_id = (await create_category(admin, "customers"))["id"]
    await create_field(admin, category_id, "signed_at", "DATETIME")
    await new_card(admin, category_id, "Ok", {"signed_at": "2026-01-01T12:00:00Z"})
    await new_card(admin, category_id, "Far")
    async with admin.engine.begin() as connection:
        await connection.execute(
            update(Contact)
            .where(col(Contact.name) == "Far")
            .values(custom_values={"signed_at": stored})
        )
    await define(
        admin, category_id, name="per year", kind="COUNT", bucket="YEAR", bucketOn="signed_at"
    )
    await define(admin, category_id, name="all", kind="COUNT")
    per_year, everything = await report(admin, category_id, tz=zone)
    assert [(r["period"]["label"], r["value"]) for r in per_year["rows"]] == [("2026-01-01", "1")]
    assert everything["rows"][0]["value"] == "2"


async def test_figures_are_the_same_whether_the_category_holds_most_cards_or_few(
    admin: Api,
) -> None:
    """SQLite reads a category holding most of the cards by scanning the table, and one
    holding few through its index: the figures must not depend on it."""
    category_id, _, _ = await seed(admin)
    await define(admin, category_id, name="count", kind="COUNT", groupBy="industry")
    await define(admin, category_id, name="sum", kind="SUM", fieldKey="revenue", groupBy="tags")
    await define(
        admin,
        category_id,
        name="filtered",
        kind="AVG",
        fieldKey="score",
        filter={"fields": [{"key": "active", "eq": True}]},
    )
    await define(admin, category_id, name="per year", kind="COUNT", bucket="YEAR")
    most = await report(admin, category_id)
    others = (await create_category(admin, "suppliers"))["id"]
    for n in range(2 * len(CARDS)):
        await new_card(admin, others, f"Supplier {n}")
    assert await report(admin, category_id) == most

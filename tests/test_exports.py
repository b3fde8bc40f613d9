"""Exports: a category's cards and its reports as CSV and XLSX, downloaded from a signed link
and read back with the csv module and openpyxl, on SQLite and PostgreSQL."""

import asyncio
import csv
import io
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import openpyxl
import pytest
from sqlalchemy import text, update
from starlette.responses import StreamingResponse
from starlette.types import Message

from models.contacts import Contact
from schema.downloads import _export_body
from services import exports
from services.contact_query import ordered_contact_ids
from services.ids import decode_id
from services.spreadsheets.writing import sheet_writer
from tests.conftest import Api
from tests.helpers import (
    CONTACT_DELETE,
    CONTACT_UPDATE,
    FIELD_ARCHIVE,
    FIELD_UPDATE,
    count_rows,
    create_category,
    create_contact,
    create_field,
    my_id,
)
from tests.test_files import route_of
from tests.test_statistics import define

EXPORT_FIELDS = (
    "export { id kind format fileName downloadUrl expiresAt } userErrors { field message code }"
)
CONTACTS_EXPORT = f"""mutation($input: ContactsExportInput!) {{
  contactsExport(input: $input) {{ {EXPORT_FIELDS} }} }}"""
REPORT_EXPORT = f"""mutation($input: ReportExportInput!) {{
  reportExport(input: $input) {{ {EXPORT_FIELDS} }} }}"""
REPORT = """query($c: ID!, $tz: String) { report(categoryId: $c, timeZone: $tz) {
  statistics { statistic { name } rows { period { start end } group { label } value cards } } } }"""
INDUSTRIES = [{"value": "it", "label": "IT"}, {"value": "retail", "label": "Retail"}]
TAGS = [{"value": "a", "label": "Alpha"}, {"value": "b", "label": "Beta"}]


async def seed(admin: Api) -> dict[str, Any]:
    """A category with a field of every kind and cards whose names try formulas on the
    spreadsheet; a card in the bin and another category's card, which are never exported."""
    category_id = (await create_category(admin, "customers"))["id"]
    for key, kind, extra in (
        ("industry", "SELECT", {"options": INDUSTRIES}),
        ("tags", "MULTI_SELECT", {"options": TAGS}),
        ("revenue", "MONEY", {"currency": "EUR"}),
        ("employees", "INTEGER", {}),
        ("score", "NUMBER", {}),
        ("active", "BOOLEAN", {}),
        ("renewal", "DATE", {}),
        ("signed_at", "DATETIME", {}),
        ("owner", "USER", {}),
        ("notes", "TEXT", {}),
    ):
        await create_field(admin, category_id, key, kind, **extra)
    lea = await admin.add_user("lea@example.com", "MEMBER", "Lea Lund")
    lea_id = await my_id(admin, lea)
    cards: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (
            "Acme",
            {
                "industry": "it",
                "tags": ["a", "b"],
                "revenue": 1234.5,
                "employees": 42,
                "score": 0.1,
                "active": True,
                "renewal": "2026-03-31",
                "signed_at": "2026-01-01T23:30:00Z",
                "owner": lea_id,
                "notes": '=HYPERLINK("http://evil")',
            },
            {"email": "hi@acme.example", "address": {"city": "Oslo", "country": "NO"}},
        ),
        ("-Bolt", {"industry": "retail", "employees": -5, "active": False}, {}),
        ("@Cog", {"notes": "+1 555", "tags": []}, {}),
    ]
    ids = {}
    for name, values, details in cards:
        ids[name] = (await create_contact(admin, category_id, name, values, **details))["id"]
    binned = await create_contact(admin, category_id, "Binned")
    await admin.ok(CONTACT_DELETE, {"input": {"id": binned["id"]}})
    other = (await create_category(admin, "suppliers"))["id"]
    await create_contact(admin, other, "Supplier")
    return {"category": category_id, "ids": ids, "lea": lea}


async def ask(api: Api, operation: str, token: str | None = None, **fields: Any) -> dict[str, Any]:
    data = await api.ok(operation, {"input": fields}, token)
    payload: dict[str, Any] = next(iter(data.values()))
    assert payload["userErrors"] == [], payload
    export: dict[str, Any] = payload["export"]
    return export


async def download(api: Api, export: dict[str, Any]) -> httpx.Response:
    response = await api.client.get(route_of(export["downloadUrl"]))
    assert response.status_code == 200, response.text
    return response


def csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert response.content.count(b"\xef\xbb\xbf") == 1
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def sheet_rows(response: httpx.Response) -> list[list[Any]]:
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


async def test_cards_export_as_csv_with_every_field_excel_safe(admin: Api) -> None:
    seeded = await seed(admin)
    export = await ask(
        admin, CONTACTS_EXPORT, categoryId=seeded["category"], timeZone="Europe/Oslo"
    )
    assert export["kind"] == "CONTACTS"
    assert export["fileName"].startswith("customers-")
    assert export["fileName"].endswith(".csv")
    response = await download(admin, export)
    assert export["fileName"] in response.headers["content-disposition"]
    header, *rows = csv_rows(response)
    assert header[:10] == [
        "Name",
        "Org number",
        "Email",
        "Phone",
        "Website",
        "Street",
        "Postal code",
        "City",
        "Region",
        "Country",
    ]
    assert header[10:] == [
        "industry",
        "tags",
        "revenue (EUR)",
        "employees",
        "score",
        "active",
        "renewal",
        "signed_at (Europe/Oslo)",
        "owner",
        "notes",
        "Created (Europe/Oslo)",
        "Updated (Europe/Oslo)",
    ]
    # By name, without the card in the bin or the other category's; text that a spreadsheet
    # would run as a formula starts with a quote.
    assert [row[0] for row in rows] == ["'-Bolt", "'@Cog", "Acme"]
    acme = dict(zip(header, rows[2], strict=True))
    assert acme["Email"] == "hi@acme.example"
    assert (acme["City"], acme["Country"]) == ("Oslo", "NO")
    assert acme["industry"] == "IT"
    assert acme["tags"] == "Alpha, Beta"
    assert acme["revenue (EUR)"] == "1234.50"
    assert (acme["employees"], acme["score"], acme["active"]) == ("42", "0.1", "TRUE")
    assert acme["renewal"] == "2026-03-31"
    assert acme["signed_at (Europe/Oslo)"] == "2026-01-02 00:30:00"  # local time
    assert acme["owner"] == "Lea Lund"
    assert acme["notes"] == '\'=HYPERLINK("http://evil")'
    bolt = dict(zip(header, rows[0], strict=True))
    assert (bolt["employees"], bolt["active"], bolt["tags"]) == ("-5", "FALSE", "")
    assert dict(zip(header, rows[1], strict=True))["notes"] == "'+1 555"


async def test_cards_export_as_xlsx_typed_for_spreadsheets(admin: Api) -> None:
    seeded = await seed(admin)
    export = await ask(
        admin,
        CONTACTS_EXPORT,
        categoryId=seeded["category"],
        format="XLSX",
        timeZone="UTC",
        filter={"fields": [{"key": "industry", "in": ["it", "retail"]}]},
        orderBy=[{"field": "NAME", "direction": "DESC"}],
    )
    response = await download(admin, export)
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    header, *rows = sheet_rows(response)
    assert [row[0] for row in rows] == ["Acme", "-Bolt"]  # the filter, in the order asked
    acme = dict(zip(header, rows[0], strict=True))
    assert acme["revenue (EUR)"] == pytest.approx(1234.5)
    assert acme["employees"] == 42
    assert acme["active"] is True
    assert acme["renewal"] == datetime(2026, 3, 31)  # a date cell
    assert acme["signed_at (UTC)"] == datetime(2026, 1, 1, 23, 30)
    assert isinstance(acme["Created (UTC)"], datetime)
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    notes = book.worksheets[0].cell(row=2, column=header.index("notes") + 1)
    assert notes.data_type == "s"  # text, never a formula
    assert notes.value == '=HYPERLINK("http://evil")'
    assert book.worksheets[0].title == "Customers"  # the category's name


async def test_cards_export_pages_through_every_card_at_a_constant_cost(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    category_id = (await create_category(admin, "customers"))["id"]
    names = [f"Card {n:02}" for n in range(23)]
    for name in names:
        await create_contact(admin, category_id, name)
    monkeypatch.setattr(exports, "PAGE_SIZE", 5)
    export = await ask(admin, CONTACTS_EXPORT, categoryId=category_id)
    admin.counter.reset()
    admin.counter.active = True
    try:
        response = await download(admin, export)
    finally:
        admin.counter.active = False
    assert [row[0] for row in csv_rows(response)[1:]] == names
    statements = len(admin.counter.statements)
    # A few to start with, then the same few for each of the five pages.
    monkeypatch.setattr(exports, "PAGE_SIZE", 1)
    admin.counter.reset()
    admin.counter.active = True
    try:
        await download(admin, export)
    finally:
        admin.counter.active = False
    per_page = (len(admin.counter.statements) - statements) / (23 - 5)
    assert per_page <= 2, admin.counter.statements[-6:]


async def test_report_export_holds_the_reports_rows(admin: Api) -> None:
    seeded = await seed(admin)
    category_id = seeded["category"]
    await define(admin, category_id, name="Per industry", kind="COUNT", groupBy="industry")
    await define(admin, category_id, name="Revenue", kind="SUM", fieldKey="revenue")
    await define(admin, category_id, name="Last renewal", kind="MAX", fieldKey="renewal")
    report = await admin.ok(REPORT, {"c": category_id, "tz": "UTC"})
    expected = [
        (part["statistic"]["name"], row["group"]["label"] if row["group"] else "", row)
        for part in report["report"]["statistics"]
        for row in part["rows"]
    ]
    export = await ask(admin, REPORT_EXPORT, categoryId=category_id, timeZone="UTC")
    assert export["fileName"].startswith("customers-report-")
    header, *rows = csv_rows(await download(admin, export))
    assert header == [
        "Statistic",
        "Period start",
        "Period end",
        "Group",
        "Value",
        "Count",
        "Date",
    ]
    assert [(row[0], row[3]) for row in rows] == [(name, group) for name, group, _ in expected]
    for row, (name, _, source) in zip(rows, expected, strict=True):
        assert row[5] == str(source["cards"]), name
        if name == "Last renewal":
            assert (row[4], row[6]) == ("", source["value"])
        else:
            assert Decimal(row[4]) == Decimal(source["value"]), name
    xlsx = await ask(admin, REPORT_EXPORT, categoryId=category_id, format="XLSX", timeZone="UTC")
    sheet_header, *sheet = sheet_rows(await download(admin, xlsx))
    assert sheet_header == header
    revenue = next(row for row in sheet if row[0] == "Revenue")
    assert revenue[4] == pytest.approx(1234.5)
    renewal = next(row for row in sheet if row[0] == "Last renewal")
    assert renewal[6] == datetime(2026, 3, 31)


def _with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    return f"{parts.path}?{urlencode({**query, **changes})}"


async def test_an_export_is_downloaded_by_its_asker_only(admin: Api) -> None:
    seeded = await seed(admin)
    export = await ask(admin, CONTACTS_EXPORT, categoryId=seeded["category"])
    route = route_of(export["downloadUrl"])
    path = urlsplit(export["downloadUrl"]).path
    # With a token instead of the link, the asker downloads it; someone else does not find it.
    mine = await admin.client.get(path, headers={"Authorization": f"Bearer {admin.admin_token}"})
    assert mine.status_code == 200
    theirs = await admin.client.get(path, headers={"Authorization": f"Bearer {seeded['lea']}"})
    assert theirs.status_code == 404
    assert (await admin.client.get(path)).status_code == 401
    signature = parse_qs(urlsplit(route).query)["signature"][0]
    altered = _with(route, signature=signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB"))
    assert (await admin.client.get(altered)).status_code == 403
    expired = _with(route, expires=str(int(time.time()) - 1))
    assert (await admin.client.get(expired)).status_code == 403
    # A file's link of the same number does not open the export: the kind is signed.
    file_link = await admin.resources.links.url(
        global_id=path.rsplit("/", 1)[1], file_id=_number(path), user_id=_asker(route)
    )
    assert (await admin.client.get(route_of(file_link))).status_code == 403
    head = await admin.client.head(route)
    assert head.status_code == 200
    assert head.content == b""
    assert "attachment" in head.headers["content-disposition"]
    # Past its time, the token does not download it either.
    async with admin.engine.begin() as connection:
        past: Any = datetime(2000, 1, 1, tzinfo=UTC)
        if connection.dialect.name != "postgresql":
            past = past.strftime("%Y-%m-%d %H:%M:%S.%f")
        await connection.execute(text("UPDATE export SET expires_at = :past"), {"past": past})
    late = await admin.client.get(path, headers={"Authorization": f"Bearer {admin.admin_token}"})
    assert late.status_code == 404
    assert "expired" in late.json()["errors"][0]["message"]


def _number(path: str) -> int:
    from services.ids import decode_global_id

    return decode_global_id(path.rsplit("/", 1)[1])[1]


def _asker(route: str) -> int:
    return int(parse_qs(urlsplit(route).query)["user"][0])


async def test_bad_export_requests_are_refused_naming_the_input(admin: Api) -> None:
    seeded = await seed(admin)
    category_id = seeded["category"]
    suppliers = (await create_category(admin, "vendors"))["id"]
    statistic = await define(admin, suppliers, name="Theirs", kind="COUNT")
    before = await count_rows(admin, "export")
    cases: list[tuple[str, dict[str, Any], list[str] | None, str]] = [
        (CONTACTS_EXPORT, {"timeZone": "Mars/Olympus"}, ["timeZone"], "Mars/Olympus"),
        (
            CONTACTS_EXPORT,
            {"filter": {"fields": [{"key": "nope", "eq": "x"}]}},
            ["filter", "fields", "0", "key"],
            "nope",
        ),
        (
            CONTACTS_EXPORT,
            {"orderBy": [{"key": "nope"}]},
            ["orderBy", "0", "key"],
            "nope",
        ),
        (REPORT_EXPORT, {"statisticIds": [statistic["id"]]}, ["statisticIds"], "not one of"),
        (REPORT_EXPORT, {"from": "2026-02-01", "to": "2026-01-01"}, ["from"], "before"),
    ]
    for operation, fields, where, message in cases:
        body = await admin.post(
            operation, {"input": {"categoryId": category_id, **fields}}, admin.admin_token
        )
        assert "errors" not in body, body
        payload = next(iter(body["data"].values()))
        assert payload["export"] is None, fields
        (error,) = payload["userErrors"]
        assert error["field"] == where, (fields, error)
        assert message in error["message"], (fields, error)
    assert await count_rows(admin, "export") == before


async def test_an_export_that_no_longer_holds_answers_conflict(admin: Api) -> None:
    seeded = await seed(admin)
    export = await ask(
        admin,
        CONTACTS_EXPORT,
        categoryId=seeded["category"],
        filter={"fields": [{"key": "employees", "gt": 0}]},
    )
    fields = await admin.ok(
        """query($id: ID!) { node(id: $id) { ... on Category { fields { id key } } } }""",
        {"id": seeded["category"]},
    )
    employees = next(f for f in fields["node"]["fields"] if f["key"] == "employees")
    await admin.ok(FIELD_ARCHIVE, {"input": {"id": employees["id"]}})
    response = await admin.client.get(route_of(export["downloadUrl"]))
    assert response.status_code == 409
    assert "employees" in response.json()["errors"][0]["message"]


async def test_an_empty_category_exports_its_header(admin: Api) -> None:
    category_id = (await create_category(admin, "customers"))["id"]
    export = await ask(admin, CONTACTS_EXPORT, categoryId=category_id, format="XLSX")
    (header,) = sheet_rows(await download(admin, export))
    assert header[0] == "Name"
    assert date.today().isoformat()[:4] in export["fileName"]


async def _opened(admin: Api, export: dict[str, Any]) -> exports.ExportFile:
    return await exports.open_export(
        admin.resources.session_factory,
        export_id=decode_id(export["id"], "Export"),
        viewer_id=decode_id(await my_id(admin, admin.admin_token), "User"),
    )


@pytest.mark.parametrize(
    ("renamed", "to"), [("Card 01", "Zed"), ("Card 08", "Aardvark"), ("Card 03", "Card 07b")]
)
async def test_a_card_renamed_while_the_file_downloads_is_in_it_once(
    admin: Api, monkeypatch: pytest.MonkeyPatch, renamed: str, to: str
) -> None:
    """Pages are read one after the other: a card moving across the page being read (forward,
    back, or within what is left) is written once, in its place when the download began,
    with its name when its page was read."""
    category_id = (await create_category(admin, "customers"))["id"]
    ids = {}
    for n in range(10):
        name = f"Card {n:02}"
        ids[name] = (await create_contact(admin, category_id, name))["id"]
    monkeypatch.setattr(exports, "PAGE_SIZE", 4)
    file = await _opened(admin, await ask(admin, CONTACTS_EXPORT, categoryId=category_id))
    chunks = [await anext(file.chunks)]  # the header and the first page
    await admin.ok(CONTACT_UPDATE, {"input": {"id": ids[renamed], "name": to}})
    chunks += [chunk async for chunk in file.chunks]
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"), newline="")))
    names = [row[0] for row in rows[1:]]
    before = sorted(ids)
    expected = [to if name == renamed and before.index(name) >= 4 else name for name in before]
    assert names == expected


async def test_a_card_deleted_while_the_file_downloads_is_left_out(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    category_id = (await create_category(admin, "customers"))["id"]
    ids = [(await create_contact(admin, category_id, f"Card {n}"))["id"] for n in range(6)]
    monkeypatch.setattr(exports, "PAGE_SIZE", 2)
    file = await _opened(admin, await ask(admin, CONTACTS_EXPORT, categoryId=category_id))
    chunks = [await anext(file.chunks)]
    await admin.ok(CONTACT_DELETE, {"input": {"id": ids[4]}})
    chunks += [chunk async for chunk in file.chunks]
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"), newline="")))
    assert [row[0] for row in rows[1:]] == ["Card 0", "Card 1", "Card 2", "Card 3", "Card 5"]


async def test_a_field_whose_type_changes_while_the_file_downloads_breaks_it_off(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its header and first rows were written for the old type: the download stops rather
    than go on with values the header does not describe (TEXT "false" written as TRUE)."""
    category_id = (await create_category(admin, "customers"))["id"]
    field = await create_field(admin, category_id, "active", "BOOLEAN")
    for n in range(15):
        await create_contact(admin, category_id, f"Card {n:02}", {"active": False})
    note = await create_field(admin, category_id, "note", "TEXT")
    monkeypatch.setattr(exports, "PAGE_SIZE", 5)
    file = await _opened(admin, await ask(admin, CONTACTS_EXPORT, categoryId=category_id))
    await anext(file.chunks)
    # A change that writes its values alike (TEXT to LONG_TEXT) lets the download go on.
    await admin.ok(FIELD_UPDATE, {"input": {"id": note["id"], "type": "LONG_TEXT"}})
    await anext(file.chunks)
    await admin.ok(FIELD_UPDATE, {"input": {"id": field["id"], "type": "TEXT"}})
    with pytest.raises(exports.ExportOutdatedError, match="active"):
        async for _ in file.chunks:
            pass
    # Asked again, it holds the values as text.
    response = await download(admin, await ask(admin, CONTACTS_EXPORT, categoryId=category_id))
    rows = csv_rows(response)
    column = rows[0].index("active")
    assert {row[column] for row in rows[1:]} == {"false"}


async def test_a_download_cancelled_while_a_page_is_written_closes_the_writer_after_it(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client leaves while a thread writes a page: the writer (and its temporary files)
    is closed only once that thread is done with it."""
    category_id = (await create_category(admin, "customers"))["id"]
    for n in range(4):
        await create_contact(admin, category_id, f"Card {n}")
    monkeypatch.setattr(exports, "PAGE_SIZE", 2)
    writing, release = threading.Event(), threading.Event()
    events: list[str] = []

    def held_writer(*args: Any, **kwargs: Any) -> Any:
        writer = sheet_writer(*args, **kwargs)
        write_rows, close = writer.write_rows, writer.close

        def write_held(rows: Any) -> bytes:
            if events:  # the second page waits for the test
                writing.set()
                release.wait(30)
            events.append("page written")
            return write_rows(rows)

        def close_recorded() -> None:
            events.append("closed")
            close()

        monkeypatch.setattr(writer, "write_rows", write_held)
        monkeypatch.setattr(writer, "close", close_recorded)
        return writer

    monkeypatch.setattr(exports, "sheet_writer", held_writer)
    file = await _opened(
        admin, await ask(admin, CONTACTS_EXPORT, categoryId=category_id, format="XLSX")
    )
    # Served as the download route serves it; the client leaves while the second page is
    # written (Starlette then cancels the response through anyio, again at every turn).
    response = StreamingResponse(_export_body(file.chunks, 1))

    async def receive() -> Message:
        await asyncio.to_thread(writing.wait, 30)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}}
    serving = asyncio.ensure_future(response(scope, receive, send))
    await asyncio.to_thread(writing.wait, 30)
    for _ in range(20):  # let the cancellation reach the export (no time passes)
        await asyncio.sleep(0)
    assert events == ["page written"]  # the writer is still open
    release.set()
    await serving
    assert events == ["page written", "page written", "closed"]


async def test_a_moment_stored_beyond_what_the_zone_can_show_is_exported_in_utc(
    admin: Api,
) -> None:
    """Such values are refused now; one stored before (year 10000 in Oslo) does not break the
    download, and is written as the UTC time it is."""
    category_id = (await create_category(admin, "customers"))["id"]
    await create_field(admin, category_id, "signed_at", "DATETIME")
    await create_contact(admin, category_id, "Far")
    async with admin.engine.begin() as connection:
        await connection.execute(
            update(Contact).values(custom_values={"signed_at": "9999-12-31T23:30:00Z"})
        )
    export = await ask(admin, CONTACTS_EXPORT, categoryId=category_id, timeZone="Europe/Oslo")
    header, far = csv_rows(await download(admin, export))
    assert far[header.index("signed_at (Europe/Oslo)")] == "9999-12-31 23:30:00"


async def test_a_type_change_before_the_first_page_never_mixes_header_and_values(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header is made from the fields as the download starts; a change that lands before
    the first page is read is found then (PostgreSQL) and answered with a conflict before the
    first byte, or is not seen at all (SQLite reads one snapshot until then)."""
    category_id = (await create_category(admin, "customers"))["id"]
    field = await create_field(admin, category_id, "active", "BOOLEAN")
    await create_contact(admin, category_id, "Acme", {"active": False})
    export = await ask(admin, CONTACTS_EXPORT, categoryId=category_id)

    async def changed_meanwhile(*args: Any, **kwargs: Any) -> Any:
        await admin.ok(FIELD_UPDATE, {"input": {"id": field["id"], "type": "TEXT"}})
        return await ordered_contact_ids(*args, **kwargs)

    monkeypatch.setattr(exports, "ordered_contact_ids", changed_meanwhile)
    response = await admin.client.get(route_of(export["downloadUrl"]))
    if admin.engine.dialect.name == "sqlite":
        # The download reads from one snapshot until its first byte: the values as they
        # were, under the header as it was.
        rows = csv_rows(response)
        assert rows[1][rows[0].index("active")] == "FALSE"
    else:
        assert response.status_code == 409
        assert "The type of active changed" in response.text

"""Imports of cards from CSV and XLSX files: previews, both modes, upserts, every bad row by
line and column, a worker that dies midway, on SQLite and PostgreSQL."""

import asyncio
import io
from datetime import UTC, date, datetime
from typing import Any

import openpyxl
import pytest
from sqlalchemy import text

from services import contacts, import_jobs, imports
from services.ids import decode_id
from services.import_jobs import ImportRun, claim
from services.storage import ObjectMissingError
from tests.conftest import Api
from tests.helpers import (
    CATEGORY_DELETE,
    CONTACT_UPDATE,
    count_rows,
    create_category,
    create_contact,
    create_field,
)
from tests.test_exports import CONTACTS_EXPORT, ask, download
from tests.test_files import PREFLIGHT, multipart

ERRORS = "userErrors { field message code }"
PREVIEW = f"""mutation($input: ContactsImportPreviewInput!) {{ contactsImportPreview(input: $input) {{
  preview {{ format encoding delimiter sheetName sheetNames columns rows {{ line cells }}
    suggestedMapping {{ column field }} }} {ERRORS} }} }}"""
IMPORT_FIELDS = """id state mode fileName rowsDone created updated skipped errorCount
  errors { line column field message code } failure category { key }"""
IMPORT = f"""mutation($input: ContactsImportInput!) {{ contactsImport(input: $input) {{
  contactImport {{ {IMPORT_FIELDS} }} {ERRORS} }} }}"""
READ = f"query($id: ID!) {{ contactImport(id: $id) {{ {IMPORT_FIELDS} }} }}"
CARDS = """query($c: ID!) { contacts(categoryId: $c, first: 100) { nodes {
  name email address { city country } values } } }"""
INDUSTRIES = [{"value": "it", "label": "IT"}, {"value": "retail", "label": "Retail"}]
MAPPING = [
    {"column": "Name", "field": "name"},
    {"column": "E-mail", "field": "email"},
    {"column": "City", "field": "address.city"},
    {"column": "Code", "field": "code"},
    {"column": "Industry", "field": "industry"},
    {"column": "Employees", "field": "employees"},
    {"column": "Revenue (EUR)", "field": "revenue"},
    {"column": "Active", "field": "active"},
    {"column": "Renewal", "field": "renewal"},
]
HEADER = "Name;E-mail;City;Code;Industry;Employees;Revenue (EUR);Active;Renewal;Ignored"


async def customers(admin: Api) -> str:
    category_id: str = (await create_category(admin, "customers"))["id"]
    await create_field(admin, category_id, "code", "TEXT", unique=True)
    await create_field(
        admin, category_id, "industry", "SELECT", options=INDUSTRIES, label="Industry"
    )
    await create_field(admin, category_id, "employees", "INTEGER", label="Employees")
    await create_field(admin, category_id, "revenue", "MONEY", currency="EUR", label="Revenue")
    await create_field(admin, category_id, "active", "BOOLEAN", label="Active")
    await create_field(admin, category_id, "renewal", "DATE", label="Renewal")
    return category_id


async def send(
    api: Api,
    query: str,
    fields: dict[str, Any],
    data: bytes,
    filename: str = "cards.csv",
    token: str | None = None,
) -> dict[str, Any]:
    """Send an operation with the file as its input's `file`; the payload."""
    body, media_type = multipart(
        {"query": query, "variables": {"input": {**fields, "file": None}}},
        {"0": ["variables.input.file"]},
        {"0": (filename, data, "text/csv")},
    )
    headers = {"Content-Type": media_type, **PREFLIGHT}
    headers["Authorization"] = f"Bearer {token if token is not None else api.admin_token}"
    response = await api.client.post("/graphql", content=body, headers=headers)
    answer = response.json()
    assert "errors" not in answer, answer
    payload: dict[str, Any] = next(iter(answer["data"].values()))
    return payload


async def run_import(api: Api, data: bytes, **fields: Any) -> dict[str, Any]:
    """Start an import and wait until the worker has run it; its final state."""
    payload = await send(api, IMPORT, fields, data, fields.pop("filename", "cards.csv"))
    assert payload["userErrors"] == [], payload
    job = payload["contactImport"]
    assert job["state"] in ("PENDING", "RUNNING", "SUCCEEDED", "FAILED")
    await asyncio.wait_for(api.resources.imports.ran(decode_id(job["id"], "ContactImport")), 60)
    found: dict[str, Any] = (await api.ok(READ, {"id": job["id"]}))["contactImport"]
    return found


async def cards_of(api: Api, category_id: str) -> dict[str, dict[str, Any]]:
    data = await api.ok(CARDS, {"c": category_id})
    cards = {card["name"]: card for card in data["contacts"]["nodes"]}
    for card in cards.values():  # the values a card has
        card["values"] = {key: value for key, value in card["values"].items() if value is not None}
    return cards


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return "\r\n".join(lines).encode(encoding)


async def test_a_preview_reads_the_file_and_suggests_a_mapping(admin: Api) -> None:
    category_id = await customers(admin)
    data = csv_bytes(
        HEADER, "Bjørn AS;b@x.no;Tromsø;B1;IT;12;1,5;yes;2026-01-31;x", encoding="cp1252"
    )
    payload = await send(admin, PREVIEW, {"categoryId": category_id}, data)
    assert payload["userErrors"] == []
    preview = payload["preview"]
    assert (preview["format"], preview["delimiter"]) == ("CSV", ";")
    assert preview["encoding"].replace("-", "").lower() in ("cp1252", "windows1252")
    assert preview["columns"] == HEADER.split(";")
    assert preview["rows"] == [
        {
            "line": 2,
            "cells": [
                "Bjørn AS",
                "b@x.no",
                "Tromsø",
                "B1",
                "IT",
                "12",
                "1,5",
                "yes",
                "2026-01-31",
                "x",
            ],
        }
    ]
    suggested = {m["column"]: m["field"] for m in preview["suggestedMapping"]}
    assert suggested == {
        "Name": "name",
        "E-mail": "email",
        "City": "address.city",
        "Code": "code",
        "Industry": "industry",
        "Employees": "employees",
        "Revenue (EUR)": "revenue",
        "Active": "active",
        "Renewal": "renewal",
    }
    assert await count_rows(admin, "contact") == 0


async def test_an_import_adds_every_card_with_typed_values(admin: Api) -> None:
    category_id = await customers(admin)
    data = csv_bytes(
        HEADER,
        "Acme;hi@acme.example;Oslo;A1;it;42;1234,50;yes;2026-03-31;",
        '"Bolt; and sons";;Bergen;B2;Retail;;;no;;',
        "Cog;;;C3;;;;;;",
        "",  # an empty line is no row
    )
    job = await run_import(admin, data, categoryId=category_id, mapping=MAPPING)
    assert job["state"] == "SUCCEEDED", (job["failure"], job["errors"])
    assert (job["rowsDone"], job["created"], job["errorCount"]) == (3, 3, 0)
    cards = await cards_of(admin, category_id)
    assert set(cards) == {"Acme", "Bolt; and sons", "Cog"}
    acme = cards["Acme"]
    assert acme["email"] == "hi@acme.example"
    assert acme["address"]["city"] == "Oslo"
    assert acme["values"] == {
        "code": "A1",
        "industry": "it",
        "employees": 42,
        "revenue": 1234.5,
        "active": True,
        "renewal": "2026-03-31",
    }
    assert cards["Bolt; and sons"]["values"] == {
        "code": "B2",
        "industry": "retail",
        "active": False,
    }
    # The import's file is gone from storage once it ended.
    async with admin.engine.connect() as connection:
        key = (
            await connection.execute(text("SELECT storage_key FROM contact_import"))
        ).scalar_one()
    with pytest.raises(ObjectMissingError):
        await admin.resources.storage.open(key)


async def test_all_or_nothing_reports_every_bad_row_and_imports_none(admin: Api) -> None:
    category_id = await customers(admin)
    await create_contact(admin, category_id, "Existing", {"code": "TAKEN"})
    data = csv_bytes(
        HEADER,
        "Good;;;G1;;;;;;",
        "Bad number;;;G2;;many;;;;",
        "Bad option;;;G3;Mining;;;;;",
        ";;;G4;;;;;;",  # no name
        "Twice;;;G1;;;;;;",  # the code of line 2
        "Taken;;;TAKEN;;;;;;",  # the code of a card already there
        "Bad day;;;G7;;;;maybe;31.12.2026;",
        "Bad mail;not-a-mail;;G8;;;;;;",
    )
    job = await run_import(admin, data, categoryId=category_id, mapping=MAPPING)
    assert job["state"] == "FAILED"
    assert "nothing was imported" in job["failure"]
    assert job["created"] == 0
    found = {(e["line"], e["column"], e["code"]) for e in job["errors"]}
    assert found == {
        (3, "Employees", "INVALID"),
        (4, "Industry", "INVALID"),
        (5, "Name", "REQUIRED"),
        (6, "Code", "DUPLICATE"),
        (7, "Code", "DUPLICATE"),
        (8, "Active", "INVALID"),
        (8, "Renewal", "INVALID"),
        (9, "E-mail", "INVALID"),
    }, job["errors"]
    assert job["errorCount"] == len(found)
    lines = [e["line"] for e in job["errors"]]
    assert lines == sorted(lines)  # clashes, found last, come in the file's order too
    messages = {(e["line"], e["column"]): e["message"] for e in job["errors"]}
    assert "many" in messages[(3, "Employees")]
    assert "Mining" in messages[(4, "Industry")]
    assert "YYYY-MM-DD" in messages[(8, "Renewal")]
    assert set(await cards_of(admin, category_id)) == {"Existing"}


async def test_skip_invalid_imports_the_good_rows(admin: Api) -> None:
    category_id = await customers(admin)
    data = csv_bytes(HEADER, "Good;;;G1;;;;;;", "Bad;;;G2;;1.5;;;;", "Also good;;;G3;;;;;;")
    job = await run_import(
        admin, data, categoryId=category_id, mapping=MAPPING, mode="SKIP_INVALID"
    )
    assert job["state"] == "SUCCEEDED"
    assert (job["created"], job["skipped"], job["errorCount"]) == (2, 1, 1)
    assert job["errors"][0]["line"] == 3
    assert job["errors"][0]["field"] == "employees"
    assert set(await cards_of(admin, category_id)) == {"Good", "Also good"}


async def test_upsert_on_a_unique_field_updates_cards_instead_of_duplicating(admin: Api) -> None:
    category_id = await customers(admin)
    await create_contact(admin, category_id, "Acme", {"code": "A1", "employees": 5, "active": True})
    data = csv_bytes(HEADER, "Acme Group;;Oslo;A1;;50;;;;", "Newco;;;N1;;;;;;")
    job = await run_import(admin, data, categoryId=category_id, mapping=MAPPING, upsertOn="code")
    assert job["state"] == "SUCCEEDED", (job["failure"], job["errors"])
    assert (job["created"], job["updated"]) == (1, 1)
    cards = await cards_of(admin, category_id)
    assert set(cards) == {"Acme Group", "Newco"}
    # What the row gives changes; its empty cells leave the card's values as they were.
    assert cards["Acme Group"]["values"] == {"code": "A1", "employees": 50, "active": True}
    assert cards["Acme Group"]["address"]["city"] == "Oslo"


async def test_an_xlsx_file_imports_its_typed_cells(admin: Api) -> None:
    category_id = await customers(admin)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Name", "Code", "Employees", "Revenue (EUR)", "Active", "Renewal", "Industry"])
    sheet.append(["Acme", "A1", 42, 1234.5, True, datetime(2026, 3, 31), "Retail"])
    sheet.append(["Dyn", 7, 7.0, None, False, date(2026, 1, 1), None])
    out = io.BytesIO()
    book.save(out)
    mapping = [
        {"column": c, "field": f}
        for c, f in (
            ("Name", "name"),
            ("Code", "code"),
            ("Employees", "employees"),
            ("Revenue (EUR)", "revenue"),
            ("Active", "active"),
            ("Renewal", "renewal"),
            ("Industry", "industry"),
        )
    ]
    job = await run_import(
        admin, out.getvalue(), categoryId=category_id, mapping=mapping, filename="cards.xlsx"
    )
    assert job["state"] == "SUCCEEDED", (job["failure"], job["errors"])
    cards = await cards_of(admin, category_id)
    assert cards["Acme"]["values"] == {
        "code": "A1",
        "employees": 42,
        "revenue": 1234.5,
        "active": True,
        "renewal": "2026-03-31",
        "industry": "retail",
    }
    other = next(card for name, card in cards.items() if name != "Acme")
    assert other["values"]["code"] == "7"
    assert other["values"]["employees"] == 7


async def test_bad_import_requests_are_refused_naming_the_input(admin: Api) -> None:
    category_id = await customers(admin)
    good = csv_bytes(HEADER, "Acme;;;A1;;;;;;")
    cases: list[tuple[dict[str, Any], bytes, list[str], str]] = [
        (
            {"mapping": [{"column": "Nope", "field": "name"}]},
            good,
            ["mapping", "0", "column"],
            "Nope",
        ),
        (
            {"mapping": [{"column": "Name", "field": "name"}, {"column": "Code", "field": "nope"}]},
            good,
            ["mapping", "1", "field"],
            "nope",
        ),
        ({"mapping": [{"column": "Code", "field": "code"}]}, good, ["mapping"], "name"),
        (
            {"mapping": MAPPING, "upsertOn": "industry"},
            good,
            ["upsertOn"],
            "unique",
        ),
        ({"mapping": MAPPING}, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), ["file"], "XLSX"),
        ({"mapping": MAPPING}, b"", ["file"], ""),
        ({"mapping": MAPPING, "reading": {"encoding": "klingon"}}, good, ["encoding"], "klingon"),
        ({"mapping": MAPPING, "timeZone": "Mars/Olympus"}, good, ["timeZone"], "Mars"),
    ]
    for fields, data, where, message in cases:
        payload = await send(admin, IMPORT, {"categoryId": category_id, **fields}, data)
        assert payload["contactImport"] is None, fields
        error = payload["userErrors"][0]
        assert error["field"] == where, (fields, payload["userErrors"])
        assert message in error["message"], (fields, error)
    assert await count_rows(admin, "contact_import") == 0
    viewer = await admin.add_user("vic@example.com", "VIEWER")
    body, media_type = multipart(
        {
            "query": IMPORT,
            "variables": {"input": {"categoryId": category_id, "mapping": MAPPING, "file": None}},
        },
        {"0": ["variables.input.file"]},
        {"0": ("cards.csv", good, "text/csv")},
    )
    response = await admin.client.post(
        "/graphql",
        content=body,
        headers={"Content-Type": media_type, **PREFLIGHT, "Authorization": f"Bearer {viewer}"},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_import_is_read_by_its_asker_and_admins_only(admin: Api) -> None:
    category_id = await customers(admin)
    mia = await admin.add_user("mia@example.com", "MEMBER")
    max_ = await admin.add_user("max@example.com", "MEMBER")
    data = csv_bytes(HEADER, "Acme;;;A1;;;;;;")
    payload = await send(
        admin, IMPORT, {"categoryId": category_id, "mapping": MAPPING}, data, token=mia
    )
    job_id = payload["contactImport"]["id"]
    await asyncio.wait_for(admin.resources.imports.ran(decode_id(job_id, "ContactImport")), 60)
    assert (await admin.ok(READ, {"id": job_id}, mia))["contactImport"]["state"] == "SUCCEEDED"
    assert (await admin.ok(READ, {"id": job_id}))["contactImport"] is not None
    assert (await admin.ok(READ, {"id": job_id}, max_))["contactImport"] is None


async def test_a_worker_that_dies_midway_is_taken_over_where_it_left_off(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    category_id = await customers(admin)
    monkeypatch.setattr(import_jobs, "BATCH_ROWS", 2)
    rows = [f"Card {n};;;C{n};;;;;;" for n in range(7)]
    original = contacts.insert_cards
    batches = 0

    async def dying(*args: Any, **kwargs: Any) -> list[int]:
        nonlocal batches
        batches += 1
        if batches == 2:  # the second batch is under way: the process dies
            raise RuntimeError("the process died")
        return await original(*args, **kwargs)

    monkeypatch.setattr(import_jobs, "insert_cards", dying)
    payload = await send(
        admin,
        IMPORT,
        {"categoryId": category_id, "mapping": MAPPING, "mode": "SKIP_INVALID"},
        csv_bytes(HEADER, *rows),
    )
    job_id = payload["contactImport"]["id"]
    pk = decode_id(job_id, "ContactImport")
    await asyncio.wait_for(admin.resources.imports.ran(pk), 60)
    broken = (await admin.ok(READ, {"id": job_id}))["contactImport"]
    assert (broken["state"], broken["rowsDone"], broken["created"]) == ("RUNNING", 2, 2)
    # Its lease runs out; a worker takes it over and goes on after the batch that landed.
    monkeypatch.setattr(import_jobs, "insert_cards", original)
    async with admin.engine.begin() as connection:
        past: Any = datetime(2000, 1, 1, tzinfo=UTC)
        if connection.dialect.name != "postgresql":
            past = past.strftime("%Y-%m-%d %H:%M:%S.%f")
        await connection.execute(
            text("UPDATE contact_import SET lease_until = :past"), {"past": past}
        )
    admin.resources.imports.wake()
    await asyncio.wait_for(admin.resources.imports.ran(pk, times=2), 60)
    done = (await admin.ok(READ, {"id": job_id}))["contactImport"]
    assert (done["state"], done["rowsDone"], done["created"]) == ("SUCCEEDED", 7, 7)
    names = sorted(await cards_of(admin, category_id))
    assert names == sorted(f"Card {n}" for n in range(7))  # none twice, none missing


async def test_only_one_worker_claims_an_import(admin: Api) -> None:
    category_id = await customers(admin)
    await admin.resources.imports.stop()  # this process's worker stays out of it
    try:
        payload = await send(
            admin, IMPORT, {"categoryId": category_id, "mapping": MAPPING}, csv_bytes(HEADER)
        )
        pk = decode_id(payload["contactImport"]["id"], "ContactImport")
        factory = admin.resources.session_factory
        claimed = await asyncio.gather(*(claim(factory, datetime.now(UTC)) for _ in range(8)))
        assert [c.import_id for c in claimed if c is not None] == [pk]
    finally:
        admin.resources.imports.start()


async def test_a_unique_value_taken_meanwhile_is_still_refused_by_line(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check before a batch's insert can be overtaken by a card written meanwhile: the
    unique index refuses the batch, and its rows go in one at a time."""
    category_id = await customers(admin)
    await create_contact(admin, category_id, "Existing", {"code": "TAKEN"})

    async def nothing_taken(*_args: Any) -> set[Any]:
        return set()

    monkeypatch.setattr(imports, "taken_values", nothing_taken)
    data = csv_bytes(HEADER, "Good;;;G1;;;;;;", "Taken;;;TAKEN;;;;;;", "Also good;;;G3;;;;;;")
    job = await run_import(
        admin, data, categoryId=category_id, mapping=MAPPING, mode="SKIP_INVALID"
    )
    assert (job["state"], job["created"], job["skipped"]) == ("SUCCEEDED", 2, 1)
    assert [(e["line"], e["column"], e["code"]) for e in job["errors"]] == [
        (3, "Code", "DUPLICATE")
    ]
    assert set(await cards_of(admin, category_id)) == {"Existing", "Good", "Also good"}


async def test_a_run_whose_import_was_taken_over_writes_nothing(admin: Api) -> None:
    """A worker stalled past its lease: another claims the import and runs it; the stalled
    one's writes are refused, so no row lands twice."""
    category_id = await customers(admin)
    await admin.resources.imports.stop()
    try:
        rows = [f"Card {n};;;C{n};;;;;;" for n in range(5)]
        for mode in ("ALL_OR_NOTHING", "SKIP_INVALID"):
            payload = await send(
                admin,
                IMPORT,
                {"categoryId": category_id, "mapping": MAPPING, "mode": mode},
                csv_bytes(HEADER, *[row.replace("C", mode) for row in rows]),
            )
            assert payload["userErrors"] == []
            factory, resources = admin.resources.session_factory, admin.resources
            stalled = await claim(factory, datetime.now(UTC))
            later = await claim(factory, datetime.now(UTC) + import_jobs.LEASE * 2)
            assert stalled is not None
            assert later is not None
            assert later.attempt == stalled.attempt + 1
            await ImportRun(factory, resources.storage, resources.signals, stalled).run()
            await ImportRun(factory, resources.storage, resources.signals, later).run()
            job = (await admin.ok(READ, {"id": payload["contactImport"]["id"]}))["contactImport"]
            assert (job["state"], job["created"]) == ("SUCCEEDED", 5), mode
        names = list(await cards_of(admin, category_id))
        assert len(names) == 10  # five of each, none twice
    finally:
        admin.resources.imports.start()


async def test_upsert_rows_of_one_value_add_then_update_in_any_batch(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    category_id = await customers(admin)
    data = csv_bytes(HEADER, "First;;;X1;;1;;;;", "Second;;;X1;;2;;;;", "Other;;;X2;;;;;;")
    for batch_rows in (500, 1):
        monkeypatch.setattr(import_jobs, "BATCH_ROWS", batch_rows)
        job = await run_import(
            admin, data, categoryId=category_id, mapping=MAPPING, upsertOn="code"
        )
        assert job["state"] == "SUCCEEDED", (batch_rows, job["errors"])
        cards = await cards_of(admin, category_id)
        assert cards["Second"]["values"]["employees"] == 2
        assert set(cards) == {"Second", "Other"}


async def test_a_bad_upsert_value_is_a_problem_of_its_row(admin: Api) -> None:
    category_id = await customers(admin)
    await create_field(admin, category_id, "number", "INTEGER", unique=True)
    mapping = [{"column": "Name", "field": "name"}, {"column": "Number", "field": "number"}]
    data = csv_bytes("Name;Number", "Good;1", f"Huge;{10**26}", "Also good;3")
    job = await run_import(
        admin,
        data,
        categoryId=category_id,
        mapping=mapping,
        upsertOn="number",
        mode="SKIP_INVALID",
    )
    assert (job["state"], job["created"], job["skipped"]) == ("SUCCEEDED", 2, 1), job
    assert [(e["line"], e["column"]) for e in job["errors"]] == [(3, "Number")]


async def test_every_problem_of_a_row_is_reported(admin: Api) -> None:
    category_id = await customers(admin)
    await create_field(admin, category_id, "size", "INTEGER", required=True)
    mapping = [*MAPPING, {"column": "Country", "field": "address.country"}]
    mapping += [{"column": "Size", "field": "size"}]
    data = csv_bytes(HEADER + ";Country;Size", "Bad;not-a-mail;;B1;;many;;;;;Norway;")
    job = await run_import(admin, data, categoryId=category_id, mapping=mapping)
    assert job["state"] == "FAILED"
    found = sorted((e["column"], e["code"]) for e in job["errors"])
    assert found == [
        ("Country", "INVALID"),
        ("E-mail", "INVALID"),
        ("Employees", "INVALID"),
        ("Size", "REQUIRED"),
    ], job["errors"]
    assert job["failure"] == "4 problems in 1 rows; nothing was imported"


async def test_an_import_whose_category_goes_fails_and_leaves_no_file(admin: Api) -> None:
    category_id = (await create_category(admin, "leads"))["id"]
    await admin.resources.imports.stop()
    try:
        payload = await send(
            admin,
            IMPORT,
            {"categoryId": category_id, "mapping": [{"column": "Name", "field": "name"}]},
            csv_bytes("Name", "Acme"),
        )
        job_id = payload["contactImport"]["id"]
        async with admin.engine.connect() as connection:
            key = (
                await connection.execute(text("SELECT storage_key FROM contact_import"))
            ).scalar_one()
        await admin.ok(CATEGORY_DELETE, {"input": {"id": category_id}})
    finally:
        admin.resources.imports.start()
    admin.resources.imports.wake()
    await asyncio.wait_for(admin.resources.imports.ran(decode_id(job_id, "ContactImport")), 60)
    job = (await admin.ok(READ, {"id": job_id}))["contactImport"]
    assert (job["state"], job["failure"], job["category"]) == (
        "FAILED",
        "The category was deleted",
        None,
    )
    with pytest.raises(ObjectMissingError):
        await admin.resources.storage.open(key)


async def test_others_write_while_an_all_or_nothing_import_checks_its_rows(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import checks every row before it writes any, holding no write lock meanwhile: a
    card written by someone else in between commits at once (on SQLite it would otherwise
    wait for the whole import)."""
    category_id = await customers(admin)
    reached, go_on = asyncio.Event(), asyncio.Event()
    original = import_jobs._Writer.plan

    async def paused(self: Any, *args: Any) -> Any:
        reached.set()
        await go_on.wait()
        return await original(self, *args)

    monkeypatch.setattr(import_jobs._Writer, "plan", paused)
    payload = await send(
        admin,
        IMPORT,
        {"categoryId": category_id, "mapping": MAPPING},
        csv_bytes(HEADER, "Imported;;;I1;;;;;;"),
    )
    pk = decode_id(payload["contactImport"]["id"], "ContactImport")
    await asyncio.wait_for(reached.wait(), 30)
    await asyncio.wait_for(create_contact(admin, category_id, "Meanwhile"), 10)
    go_on.set()
    await asyncio.wait_for(admin.resources.imports.ran(pk), 60)
    assert set(await cards_of(admin, category_id)) == {"Meanwhile", "Imported"}


async def test_a_refused_row_does_not_hold_its_unique_values_and_every_clash_is_named(
    admin: Api,
) -> None:
    category_id = await customers(admin)
    await create_field(admin, category_id, "tag", "TEXT", unique=True, label="Tag")
    await create_contact(admin, category_id, "Existing", {"code": "E", "tag": "t"})
    mapping = [*MAPPING, {"column": "Tag", "field": "tag"}]
    data = csv_bytes(
        HEADER + ";Tag",
        "Clash;;;B;;;;;;;t",  # its tag is taken: refused, so its code B is free again
        "Lands;;;B;;;;;;;u",
        "Both;;;E;;;;;;;t",  # its code and its tag are taken
    )
    job = await run_import(
        admin, data, categoryId=category_id, mapping=mapping, mode="SKIP_INVALID"
    )
    assert (job["created"], job["skipped"]) == (1, 2), job["errors"]
    assert sorted((e["line"], e["column"]) for e in job["errors"]) == [
        (2, "Tag"),
        (4, "Code"),
        (4, "Tag"),
    ]
    assert set(await cards_of(admin, category_id)) == {"Existing", "Lands"}


async def test_upsert_on_a_date_time_field_updates_the_card_an_earlier_row_added(
    admin: Api,
) -> None:
    category_id = (await create_category(admin, "visits"))["id"]
    await create_field(admin, category_id, "seen", "DATETIME", unique=True, label="Seen")
    mapping = [{"column": "Name", "field": "name"}, {"column": "Seen", "field": "seen"}]
    data = csv_bytes("Name;Seen", "First;2026-01-01 10:00", "Second;2026-01-01 10:00")
    job = await run_import(
        admin, data, categoryId=category_id, mapping=mapping, upsertOn="seen", timeZone="UTC"
    )
    assert (job["state"], job["created"], job["updated"]) == ("SUCCEEDED", 1, 1), job["errors"]
    assert set(await cards_of(admin, category_id)) == {"Second"}


async def test_an_update_finds_its_card_when_it_is_written(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A card whose unique value changes after the import checked its rows is not the card
    the row updates: the row updates (or adds) the card holding the value when it is written."""
    category_id = await customers(admin)
    card = await create_contact(admin, category_id, "Acme", {"code": "A"})
    original = ImportRun._renew

    async def renamed_meanwhile(self: ImportRun, progress: Any) -> None:
        await original(self, progress)
        update = {"id": card["id"], "values": {"code": "Z"}}
        await admin.ok(CONTACT_UPDATE, {"input": update})

    monkeypatch.setattr(ImportRun, "_renew", renamed_meanwhile)
    job = await run_import(
        admin,
        csv_bytes(HEADER, "Row A;;;A;;;;;;"),
        categoryId=category_id,
        mapping=MAPPING,
        upsertOn="code",
    )
    assert (job["state"], job["created"], job["updated"]) == ("SUCCEEDED", 1, 0), job
    cards = await cards_of(admin, category_id)
    assert cards["Acme"]["values"]["code"] == "Z"
    assert cards["Row A"]["values"]["code"] == "A"


async def test_an_import_whose_runs_keep_dying_is_given_up(admin: Api) -> None:
    category_id = await customers(admin)
    await admin.resources.imports.stop()
    try:
        payload = await send(
            admin, IMPORT, {"categoryId": category_id, "mapping": MAPPING}, csv_bytes(HEADER)
        )
        factory, resources = admin.resources.session_factory, admin.resources
        claims = []
        for died in range(import_jobs.MAX_ATTEMPTS + 1):  # each run's worker was killed
            claimed = await claim(factory, datetime.now(UTC) + import_jobs.LEASE * 2 * died)
            assert claimed is not None
            claims.append(claimed)
        await ImportRun(factory, resources.storage, resources.signals, claims[-1]).run()
        job = (await admin.ok(READ, {"id": payload["contactImport"]["id"]}))["contactImport"]
        assert (job["state"], job["failure"]) == ("FAILED", "The import broke off 3 times")
    finally:
        admin.resources.imports.start()


async def test_an_update_row_reports_its_own_problems_only(admin: Api) -> None:
    category_id = await customers(admin)
    await create_field(admin, category_id, "number", "INTEGER", unique=True, label="Number")
    await create_contact(admin, category_id, "Acme", {"code": "A"})
    mapping = [*MAPPING, {"column": "Number", "field": "number"}]
    data = csv_bytes(
        HEADER + ";Number",
        ";;;A;;many;;;;;",  # updates Acme (no name needed): only its bad number of employees
        f"New;not-a-mail;;N;;;;;;;{10**26}",  # a new card with two bad cells
    )
    job = await run_import(
        admin, data, categoryId=category_id, mapping=mapping, upsertOn="code", mode="SKIP_INVALID"
    )
    assert sorted((e["line"], e["column"]) for e in job["errors"]) == [
        (2, "Employees"),
        (3, "E-mail"),
        (3, "Number"),
    ], job["errors"]


async def test_unique_clashes_of_updates_and_new_rows_follow_the_file_order(admin: Api) -> None:
    category_id = await customers(admin)
    await create_field(admin, category_id, "tag", "TEXT", unique=True, label="Tag")
    await create_contact(admin, category_id, "Existing", {"code": "A"})
    mapping = [*MAPPING, {"column": "Tag", "field": "tag"}]
    data = csv_bytes(
        HEADER + ";Tag",
        "New;;;N1;;;;;;;t1",
        "Existing;;;A;;;;;;;t1",  # an update with the tag of line 2: the later one is refused
        ";;;A;;;;;;;t2",  # an update first ...
        "Later;;;N2;;;;;;;t2",  # ... then a new card with its tag: refused
    )
    job = await run_import(
        admin, data, categoryId=category_id, mapping=mapping, upsertOn="code", mode="SKIP_INVALID"
    )
    assert (job["created"], job["updated"], job["skipped"]) == (1, 1, 2), job["errors"]
    assert sorted((e["line"], e["column"]) for e in job["errors"]) == [(3, "Tag"), (5, "Tag")]
    cards = await cards_of(admin, category_id)
    assert set(cards) == {"Existing", "New"}
    assert cards["Existing"]["values"]["tag"] == "t2"


async def exported_and_previewed(
    admin: Api, category_id: str
) -> tuple[bytes, list[str], dict[str, str]]:
    """The category exported as CSV: the file, its header, and the mapping its preview
    suggests (column -> field)."""
    export = await ask(admin, CONTACTS_EXPORT, categoryId=category_id, format="CSV")
    data = (await download(admin, export)).content
    header = data.decode("utf-8-sig").splitlines()[0].split(",")
    payload = await send(admin, PREVIEW, {"categoryId": category_id}, data)
    suggested = {m["column"]: m["field"] for m in payload["preview"]["suggestedMapping"]}
    return data, header, suggested


async def test_an_export_imports_back_though_a_label_is_also_a_cards_own_header(
    admin: Api,
) -> None:
    """A custom field labelled "Org number" beside the card's own Org number: the export names
    its key in the header, the preview maps it there, and the file updates the same cards."""
    category_id = (await create_category(admin, "customers"))["id"]
    await create_field(
        admin, category_id, "org_no", "TEXT", label="Org number", unique=True, required=True
    )
    await create_field(admin, category_id, "town", "TEXT", label="City")
    for name, org_no in (("Acme", "556001"), ("Bolt", "556002")):
        await create_contact(admin, category_id, name, {"org_no": org_no, "town": "Oslo"})
    data, header, suggested = await exported_and_previewed(admin, category_id)
    assert {"Org number", "Org number [org_no]", "City", "City [town]"} <= set(header)
    assert suggested["Org number"] == "orgNumber"
    assert suggested["Org number [org_no]"] == "org_no"
    assert suggested["City"] == "address.city"
    assert suggested["City [town]"] == "town"
    mapping = [{"column": c, "field": f} for c, f in suggested.items()]
    job = await run_import(admin, data, categoryId=category_id, mapping=mapping, upsertOn="org_no")
    assert job["state"] == "SUCCEEDED", (job["failure"], job["errors"])
    assert (job["created"], job["updated"], job["errorCount"]) == (0, 2, 0)
    cards = await cards_of(admin, category_id)
    assert {name: card["values"]["org_no"] for name, card in cards.items()} == {
        "Acme": "556001",
        "Bolt": "556002",
    }


async def test_a_column_whose_header_repeats_is_not_mapped(admin: Api) -> None:
    category_id = await customers(admin)
    data = csv_bytes("Name;Code;Code", "Acme;A1;A2")
    payload = await send(admin, PREVIEW, {"categoryId": category_id}, data)
    assert payload["preview"]["suggestedMapping"] == [{"column": "Name", "field": "name"}]
    mapping = [{"column": "Name", "field": "name"}, {"column": "Code", "field": "code"}]
    payload = await send(admin, IMPORT, {"categoryId": category_id, "mapping": mapping}, data)
    assert payload["contactImport"] is None
    assert payload["userErrors"] == [
        {
            "field": ["mapping", "1", "column"],
            "message": "The file has 2 columns named 'Code' (columns 2, 3): rename them so "
            "each can be mapped",
            "code": "CONFLICT",
        }
    ]
    assert await count_rows(admin, "contact_import") == 0


async def test_an_export_whose_field_keys_are_detail_names_imports_back(admin: Api) -> None:
    """Custom fields keyed `phone` (labelled Phone) and `revenue` beside `turnover`, both
    labelled Revenue: the export names their keys, and each column maps to its own field."""
    category_id = (await create_category(admin, "customers"))["id"]
    await create_field(admin, category_id, "code", "TEXT", label="Code", unique=True, required=True)
    await create_field(admin, category_id, "phone", "TEXT", label="Phone")
    await create_field(admin, category_id, "revenue", "MONEY", label="Revenue", currency="EUR")
    await create_field(admin, category_id, "turnover", "NUMBER", label="Revenue")
    values = {"code": "A1", "phone": "custom", "revenue": 10, "turnover": 2.5}
    await create_contact(admin, category_id, "Acme", values, phone="+47 22 00 00 00")
    data, header, suggested = await exported_and_previewed(admin, category_id)
    assert {"Phone", "Phone [phone]", "Revenue (EUR)", "Revenue [turnover]"} <= set(header)
    assert suggested["Phone [phone]"] == "phone"
    assert "Phone" not in suggested  # `phone` in a mapping is the custom field
    assert suggested["Revenue (EUR)"] == "revenue"
    assert suggested["Revenue [turnover]"] == "turnover"
    mapping = [{"column": c, "field": f} for c, f in suggested.items()]
    job = await run_import(admin, data, categoryId=category_id, mapping=mapping, upsertOn="code")
    assert job["state"] == "SUCCEEDED", (job["failure"], job["errors"])
    assert (job["created"], job["updated"]) == (0, 1)
    assert (await cards_of(admin, category_id))["Acme"]["values"] == values

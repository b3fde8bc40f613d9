"""Filtering and sorting on an indexed custom field use its expression index, on SQLite and
on PostgreSQL: the plans of the very statements the API runs name the index."""

from typing import Any

from sqlalchemy import text

from tests.conftest import Api

CATEGORY = """mutation($input: CategoryCreateInput!) { categoryCreate(input: $input) { category { id } userErrors { message } } }"""
FIELD = """mutation($input: FieldDefinitionCreateInput!) { fieldDefinitionCreate(input: $input) { fieldDefinition { id } userErrors { message } } }"""
LIST = """query($c: ID!, $f: ContactFilter, $o: [ContactOrder!]) {
  contacts(categoryId: $c, first: 20, filter: $f, orderBy: $o) { nodes { name } } }"""


async def _seed(api: Api) -> str:
    category = await api.ok(CATEGORY, {"input": {"key": "customers", "name": "Customers"}})
    category_id: str = category["categoryCreate"]["category"]["id"]
    for key, kind in (("industry", "TEXT"), ("revenue", "MONEY")):
        await api.ok(
            FIELD,
            {
                "input": {
                    "categoryId": category_id,
                    "key": key,
                    "label": key,
                    "type": kind,
                    "indexed": True,
                }
            },
        )
    rows = [
        {
            "name": f"Company {i:04}",
            "values": f'{{"industry": "industry {i % 50}", "revenue": {i * 10}}}',
        }
        for i in range(2000)
    ]
    async with api.engine.begin() as connection:
        category_pk = (await connection.execute(text("SELECT id FROM category"))).scalar_one()
        cast = "CAST(:values AS JSONB)" if connection.dialect.name == "postgresql" else ":values"
        await connection.execute(
            text(
                "INSERT INTO contact (category_id, name, custom_values, search_text, created_at, updated_at) "
                f"VALUES ({category_pk}, :name, {cast}, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            rows,
        )
        await connection.execute(text("ANALYZE"))
    return category_id


async def _plan_of(api: Api, document: str, variables: dict[str, Any], table: str) -> str:
    """The plan of the paging statement (`FROM <table>` with a LIMIT) that `document` runs."""
    api.counter.reset()
    api.counter.active = True
    await api.ok(document, variables)
    api.counter.active = False
    ((statement, parameters),) = [
        (s, p)
        for s, p in zip(api.counter.statements, api.counter.parameters, strict=True)
        if f"FROM {table}" in s and "LIMIT" in s
    ]
    async with api.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Small tables tempt the planner into a sequential scan; forbid it to prove the
            # index matches the query's expression at all.
            await connection.exec_driver_sql("SET enable_seqscan = off")
            rows = await connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        else:
            rows = await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(str(row[-1]) for row in rows.all())


async def _plan_of_list_query(api: Api, variables: dict[str, Any]) -> str:
    return await _plan_of(api, LIST, variables, "contact")


async def test_filter_on_an_indexed_field_uses_its_index(admin: Api) -> None:
    category_id = await _seed(admin)
    plan = await _plan_of_list_query(
        admin, {"c": category_id, "f": {"fields": [{"key": "industry", "eq": "industry 7"}]}}
    )
    assert "ix_cf_1" in plan, plan


async def test_sort_on_an_indexed_field_uses_its_index(admin: Api) -> None:
    category_id = await _seed(admin)
    plan = await _plan_of_list_query(
        admin, {"c": category_id, "o": [{"key": "revenue", "direction": "DESC"}]}
    )
    assert "ix_cf_2" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
    assert "Sort" not in plan, plan


async def test_range_filter_and_sort_on_the_same_indexed_field(admin: Api) -> None:
    category_id = await _seed(admin)
    plan = await _plan_of_list_query(
        admin,
        {
            "c": category_id,
            "f": {"fields": [{"key": "revenue", "gte": 1000}]},
            "o": [{"key": "revenue"}],
        },
    )
    assert "ix_cf_2" in plan, plan


ROOM = """mutation { roomCreate(input: {name: "Customers 2027"}) { room { id } } }"""
LINK = """mutation($input: RoomCategoryInput!) { roomCategoryLink(input: $input) {
  userErrors { message } } }"""
ROOM_LISTS = {
    "todo": "todos(status: OPEN, first: 20) { nodes { title } }",
    "note": "notes(first: 20) { nodes { body } }",
    "stored_file": "files(first: 20) { nodes { name } }",
}


async def test_a_rooms_lists_read_their_own_index(admin: Api) -> None:
    """A room's lists read the rows it shows from one index range, not every card of its
    categories."""
    category_id = await _seed(admin)
    room_id = (await admin.ok(ROOM))["roomCreate"]["room"]["id"]
    await admin.ok(LINK, {"input": {"roomId": room_id, "categoryId": category_id}})
    for table, selection in ROOM_LISTS.items():
        document = f"""query($id: ID!) {{ node(id: $id) {{ ... on ProjectRoom {{
          {selection} }} }} }}"""
        plan = await _plan_of(admin, document, {"id": room_id}, table)
        assert f"ix_{table}_in_room" in plan, plan

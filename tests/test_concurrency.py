"""Many people write at once: every write lands, none fails with "database is locked"."""

import asyncio

from tests.conftest import Api

CATEGORY = """mutation { categoryCreate(input: {key: "customers", name: "Customers"}) { category { id } } }"""
CREATE = """mutation($input: ContactCreateInput!) { contactCreate(input: $input) { contact { id } userErrors { message } } }"""
COUNT = """query($c: ID!) { contacts(categoryId: $c, first: 1) { totalCount } }"""


async def test_concurrent_writes_and_reads_all_succeed(admin: Api) -> None:
    category_id = (await admin.ok(CATEGORY))["categoryCreate"]["category"]["id"]

    async def create(i: int) -> None:
        await admin.ok(CREATE, {"input": {"categoryId": category_id, "name": f"Company {i}"}})

    async def count() -> int:
        total: int = (await admin.ok(COUNT, {"c": category_id}))["contacts"]["totalCount"]
        return total

    results = await asyncio.gather(*(create(i) for i in range(30)), *(count() for _ in range(10)))
    counts = [r for r in results if isinstance(r, int)]
    assert all(0 <= c <= 30 for c in counts)
    assert await count() == 30

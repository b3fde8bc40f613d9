"""The README's walk-through from sign-up to a filtered list works as written."""

import re
from pathlib import Path

from tests.conftest import Api

README = Path(__file__).resolve().parent.parent / "README.md"


def walkthrough_operations() -> list[str]:
    text = README.read_text()
    section = text.split("## From sign-up to a filtered list", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```graphql\n(.*?)```", section, re.S)


async def test_readme_walkthrough(api: Api) -> None:
    sign_up, category, fields, contact, find = walkthrough_operations()
    token = (await api.ok(sign_up, token=""))["signUp"]["token"]
    api.admin_token = token
    category_id = (await api.ok(category))["categoryCreate"]["category"]["id"]
    created = await api.ok(fields, {"c": category_id})
    assert all(payload["fieldDefinition"] for payload in created.values())
    card = (await api.ok(contact, {"c": category_id}))["contactCreate"]["contact"]
    assert card["website"] == "https://acme.example"
    assert card["values"]["annualRevenue"] == 1250000.5
    found = (await api.ok(find, {"c": category_id}))["contacts"]
    assert found["totalCount"] == 1
    assert found["nodes"][0]["values"] == {"annualRevenue": 1250000.5, "industry": "tech"}
    assert found["nodes"][0]["persons"] == [{"fullName": "Bo Ek", "email": "bo@acme.example"}]

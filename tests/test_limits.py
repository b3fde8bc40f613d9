"""Requests that would cost too much are refused before they run, with a clear message;
internal errors never leak their details."""

import logging
from typing import Any

import pytest

from services import categories
from tests.conftest import Api


def _nested(depth: int) -> str:
    query = "id"
    for _ in range(depth):
        query = f"category {{ fields {{ {query} }} }}"
    return f"query($id: ID!) {{ contact(id: $id) {{ {query} }} }}"


async def test_too_deep_a_query_is_refused(admin: Api) -> None:
    errors = await admin.errors(_nested(8), {"id": "Q29udGFjdDox"})
    assert "exceeds maximum operation depth" in errors[0]["message"]


async def test_too_many_aliases_are_refused(admin: Api) -> None:
    aliases = " ".join(f"a{i}: me {{ id }}" for i in range(31))
    errors = await admin.errors(f"{{ {aliases} }}")
    assert "aliases" in errors[0]["message"].lower()


async def test_too_many_tokens_are_refused(admin: Api) -> None:
    fields = " ".join("id" for _ in range(4001))
    errors = await admin.errors(f"{{ me {{ {fields} }} }}")
    assert "token" in errors[0]["message"].lower()


async def test_a_costly_query_is_refused_with_its_cost_and_the_limit(admin: Api) -> None:
    query = """query($c: ID!) { contacts(categoryId: $c, first: 100) { nodes { id name
      related(relation: "subsidiaries", first: 100) { nodes { id name values persons { id } } } } } }"""
    errors = await admin.errors(query, {"c": "Q2F0ZWdvcnk6MQ"})
    assert errors[0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert "the limit is 20000" in errors[0]["message"]


async def test_a_page_larger_than_100_is_refused(admin: Api) -> None:
    errors = await admin.errors(
        """{ contacts(categoryId: "Q2F0ZWdvcnk6MQ", first: 101) { nodes { id } } }"""
    )
    assert errors[0]["extensions"]["code"] == "INVALID_PAGE"
    assert "between 0 and 100" in errors[0]["message"]


async def test_an_oversized_request_body_is_refused(admin: Api) -> None:
    response = await admin.client.post(
        "/graphql", content=b'{"query": "' + b" " * (1024 * 1024 + 1) + b'{ me { id } }"}'
    )
    assert response.status_code == 413
    assert "larger than 1048576 bytes" in response.json()["errors"][0]["message"]


async def test_internal_errors_are_masked_and_logged(
    admin: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("secret connection string postgres://user:pw@db")

    monkeypatch.setattr(categories, "list_categories", broken)
    with caplog.at_level(logging.ERROR, logger="crm.graphql"):
        errors = await admin.errors("{ categories { id } }")
    assert errors[0]["message"] == "Internal server error"
    assert errors[0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "secret" not in str(errors)
    assert any("secret connection string" in r.exc_text for r in caplog.records if r.exc_text)

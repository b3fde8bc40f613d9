"""The README as a newcomer uses it: the walk-through pasted step by step into GraphiQL with its
variables and headers, the same steps with curl from a shell, the Python client, and every
reference snippet valid against the schema and asking for `userErrors`."""

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    FieldNode,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    parse,
    validate,
)

from bench.servers import Server, migrate, start_server
from tests.conftest import Api

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
SHELL_STEP = re.compile(
    r"gql(?: '(?P<variables>[^']*)')? <<'GRAPHQL'\n(?P<document>.*?)GRAPHQL\n", re.S
)
PLACEHOLDER = re.compile(r"<[a-z0-9 ]+ from step [0-9a-z]+>")
TOKEN = "<token from step 1>"
CATEGORY_ID = "<id from step 2a>"


@dataclass
class Step:
    """One numbered step of the walk-through, as its blocks stand in the README."""

    name: str
    document: str
    variables: dict[str, Any] | None
    headers: dict[str, str] | None
    shell: str


def section(title: str) -> str:
    return README.read_text().split(f"\n{title}\n", 1)[1].split("\n## ", 1)[0]


def walkthrough() -> str:
    return section("## From sign-up to a filtered list").split("\n### A Python client", 1)[0]


def walkthrough_steps() -> list[Step]:
    steps = []
    _, *parts = re.split(r"\n\*\*(\d+[a-z]?)\. ", walkthrough())
    for name, text in zip(parts[::2], parts[1::2], strict=True):
        blocks = BLOCK.findall(text)
        (document,) = [code for kind, code in blocks if kind == "graphql"]
        json_blocks = [json.loads(code) for kind, code in blocks if kind == "json"]
        headers = [block for block in json_blocks if "Authorization" in block]
        variables = [block for block in json_blocks if "Authorization" not in block]
        (shell,) = [code for kind, code in blocks if kind == "sh"]
        steps.append(
            Step(
                name,
                document,
                variables[0] if variables else None,
                headers[0] if headers else None,
                shell,
            )
        )
    return steps


def fill(value: Any, known: dict[str, str]) -> Any:
    """`value` with every `<... from step N>` the reader would replace put in."""
    text = json.dumps(value)
    for placeholder, actual in known.items():
        text = text.replace(placeholder, actual)
    assert not PLACEHOLDER.search(text), f"nothing known for {PLACEHOLDER.findall(text)}"
    return json.loads(text)


def succeeded(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    for payload in data.values():
        if isinstance(payload, dict) and "userErrors" in payload:
            assert payload["userErrors"] == [], payload
    return data


def check_results(results: dict[str, dict[str, Any]]) -> None:
    assert results["1"]["signUp"]["user"]["role"] == "ADMIN"
    assert all(payload["fieldDefinition"] for payload in results["2b"].values())
    card = results["3"]["contactCreate"]["contact"]
    assert card["website"] == "https://acme.example"
    assert card["values"]["annualRevenue"] == 1250000.5
    found = results["4"]["contacts"]
    assert found["totalCount"] == 1
    assert found["nodes"][0]["values"] == {"annualRevenue": 1250000.5, "industry": "tech"}
    assert found["nodes"][0]["persons"] == [{"fullName": "Bo Ek", "email": "bo@acme.example"}]


def learn(step: str, data: dict[str, Any], known: dict[str, str]) -> None:
    """What the reader copies from an answer for the steps after it."""
    if step == "1":
        known[TOKEN] = data["signUp"]["token"]
    if step == "2a":
        known[CATEGORY_ID] = data["categoryCreate"]["category"]["id"]


def test_the_walkthrough_has_its_steps_and_says_where_each_value_comes_from() -> None:
    steps = walkthrough_steps()

    assert [step.name for step in steps] == ["1", "2a", "2b", "3", "4"]
    for step in steps:
        uses_variables = "$" in step.document.split("{", 1)[0]
        assert (step.variables is not None) == uses_variables, step.name
        if step.variables is not None:
            assert step.variables == {"c": CATEGORY_ID}, step.name
    assert steps[0].headers == {"Authorization": f"Bearer {TOKEN}"}


async def test_the_walkthrough_runs_as_pasted_into_graphiql(api: Api) -> None:
    known: dict[str, str] = {}
    headers: dict[str, str] = {}
    results = {}
    for step in walkthrough_steps():
        response = await api.client.post(
            "/graphql",
            json={"query": step.document, "variables": fill(step.variables or {}, known)},
            headers=headers,
        )
        results[step.name] = succeeded(response.json())
        learn(step.name, results[step.name], known)
        if step.headers is not None:
            headers = fill(step.headers, known)

    check_results(results)


def test_the_curl_steps_send_the_same_documents_and_variables() -> None:
    for step in walkthrough_steps():
        match = SHELL_STEP.search(step.shell)
        assert match is not None, step.shell
        assert match["document"] == step.document, step.name
        variables = json.loads(match["variables"]) if match["variables"] else None
        assert variables == step.variables, step.name


# --- the shell and Python versions against a real server ----------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("readme")
    url = f"sqlite+aiosqlite:///{directory / 'crm.db'}"
    migrate(url)
    running = start_server("readme", "server:create_app", url, directory)
    try:
        yield running
    finally:
        running.stop()


def run_shell(script: str) -> dict[str, Any]:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    return body


@pytest.mark.skipif(
    not (shutil.which("bash") and shutil.which("curl")), reason="needs bash and curl"
)
def test_the_curl_steps_and_the_python_client_run_as_pasted(server: Server) -> None:
    definitions = BLOCK.findall(walkthrough())[0][1]
    assert "gql() {" in definitions
    definitions = definitions.replace("http://127.0.0.1:8000/graphql", server.url)
    known: dict[str, str] = {}
    results = {}
    for step in walkthrough_steps():
        shell = step.shell
        for placeholder, actual in known.items():
            shell = shell.replace(placeholder, actual)
        token = f"TOKEN='{known[TOKEN]}'\n" if TOKEN in known else ""
        results[step.name] = succeeded(run_shell(definitions + token + shell))
        learn(step.name, results[step.name], known)
    check_results(results)

    (client,) = [code for kind, code in BLOCK.findall(section("### A Python client"))]
    client = client.replace("http://127.0.0.1:8000/graphql", server.url)
    printed = subprocess.run(
        [sys.executable, "-c", client], capture_output=True, text=True, timeout=60, check=False
    )
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("Acme AB {'industry': 'tech', 'annualRevenue': 1250000.5")


# --- reference snippets --------------------------------------------------------------------------


def readme_documents() -> list[str]:
    """Every GraphQL document in the README; blocks of one-liners give one per line."""
    documents = []
    for kind, code in BLOCK.findall(README.read_text()):
        if kind == "graphql":
            documents += [d for d in re.split(r"\n(?=mutation|query|\{)", code) if d.strip()]
    return documents


def test_every_readme_document_is_valid_against_the_schema() -> None:
    schema = build_schema((ROOT / "schema.graphql").read_text())
    problems = {
        document: [error.message for error in validate(schema, parse(document))]
        for document in readme_documents()
    }
    assert {document: errors for document, errors in problems.items() if errors} == {}


def test_every_readme_mutation_asks_for_user_errors() -> None:
    missing = []
    for document in readme_documents():
        for definition in parse(document).definitions:
            if not (
                isinstance(definition, OperationDefinitionNode)
                and definition.operation == OperationType.MUTATION
            ):
                continue
            for root in definition.selection_set.selections:
                assert isinstance(root, FieldNode)
                children = root.selection_set.selections if root.selection_set else ()
                names = {child.name.value for child in children if isinstance(child, FieldNode)}
                if "userErrors" not in names:
                    missing.append(f"{root.name.value} in {document.strip()[:80]}")
    assert missing == []

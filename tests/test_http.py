"""GraphQL over HTTP as clients see it: media types and status codes after the GraphQL-over-HTTP
specification, GET for queries, malformed requests refused with 4xx (never 500), strings no
database can store refused before anything runs, and retryable refusals with Retry-After."""

import json
import logging
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from sqlalchemy import text

from server import create_app
from services import categories
from services.errors import rate_limited, unavailable
from tests.conftest import PASSWORD, TABLES, Api, settings_for
from tests.helpers import CATEGORY_CREATE, create_category

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
MEDIA_TYPES = [GRAPHQL_RESPONSE, JSON]
# A category ID that decodes; the requests below are refused before it is looked up.
CATEGORY_ID = "Q2F0ZWdvcnk6MQ"

ME = "{ me { email } }"
CATEGORY_BY_KEY = "query($key: String!) { category(key: $key) { name } }"
SESSION_CREATE = """mutation($input: SessionCreateInput!) {
  sessionCreate(input: $input) { token userErrors { message } } }"""
CONTACTS = """query($c: ID!, $f: ContactFilter, $search: String, $after: String) {
  contacts(categoryId: $c, filter: $f, search: $search, after: $after, first: 5) { totalCount } }"""
CONTACT_CREATE = """mutation($input: ContactCreateInput!) {
  contactCreate(input: $input) { contact { id } userErrors { message } } }"""


async def send(
    api: Api,
    body: Any,
    *,
    accept: str | None = GRAPHQL_RESPONSE,
    token: str | None = None,
    content_type: str | None = JSON,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST `body` (bytes as they are, anything else as JSON with \\u escapes, so that lone
    surrogates survive) to /graphql."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {**(headers or {})}
    if accept is not None:
        sent["Accept"] = accept
    if content_type is not None:
        sent["Content-Type"] = content_type
    if token:
        sent["Authorization"] = f"Bearer {token}"
    return await api.client.post("/graphql", content=content, headers=sent)


async def get(
    api: Api, params: dict[str, str], *, accept: str = GRAPHQL_RESPONSE, token: str | None = None
) -> httpx.Response:
    headers = {"Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await api.client.get("/graphql", params=params, headers=headers)


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


def refused(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    """Assert a request error: `status`, no `data`, one error whose message has `fragments`."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert "data" not in body, body
    message = body["errors"][0]["message"]
    for fragment in fragments:
        assert fragment in message, body
    return body


async def row_counts(api: Api) -> dict[str, int]:
    async with api.engine.connect() as connection:
        return {
            table: (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in TABLES
        }


# --- media types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (JSON, JSON),
        ("application/json; charset=utf-8", JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}; charset=utf-8, {JSON}; charset=utf-8", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE}", JSON),
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),
        (f"{JSON};q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.2, */*;q=0.5", JSON),
        (f"*/*, {JSON};q=0", GRAPHQL_RESPONSE),
        ("text/html, application/json;q=0.1", JSON),
    ],
)
async def test_the_response_media_type_follows_accept(
    admin: Api, accept: str | None, expected: str
) -> None:
    response = await send(admin, {"query": ME}, accept=accept, token=admin.admin_token)

    assert response.status_code == 200
    assert response.headers["content-type"] == f"{expected}; charset=utf-8"
    assert response.headers["vary"] == "Accept"
    assert response.json() == {"data": {"me": {"email": "ada@example.com"}}}


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "application/xml",
        f"{JSON};q=0, {GRAPHQL_RESPONSE};q=0",
        "application/json; charset=latin-1",
    ],
)
async def test_an_accept_header_naming_nothing_served_is_406(api: Api, accept: str) -> None:
    for response in (
        await send(api, {"query": ME}, accept=accept),
        await get(api, {"query": ME}, accept=accept),
    ):
        body = refused(response, 406, GRAPHQL_RESPONSE, JSON)
        assert body["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


REQUEST_ERRORS = [
    pytest.param({"query": "{ me { email }"}, "Syntax Error", id="parse"),
    pytest.param(
        {"query": "{ me { shoeSize } }"}, "Cannot query field 'shoeSize'", id="validation"
    ),
    pytest.param({"query": CATEGORY_BY_KEY}, "Variable '$key' has invalid value", id="variables"),
    pytest.param(
        {"query": CATEGORY_BY_KEY, "variables": {"key": 7}},
        "String cannot represent a non string value",
        id="variable-type",
    ),
]


@pytest.mark.parametrize(("body", "message"), REQUEST_ERRORS)
async def test_request_errors_are_400_without_data_in_graphql_response_json(
    api: Api, body: dict[str, Any], message: str
) -> None:
    response = await send(api, body, accept=GRAPHQL_RESPONSE)
    refused(response, 400, message)
    assert media_type(response) == GRAPHQL_RESPONSE


@pytest.mark.parametrize(("body", "message"), REQUEST_ERRORS)
async def test_request_errors_are_200_without_data_in_json(
    api: Api, body: dict[str, Any], message: str
) -> None:
    response = await send(api, body, accept=JSON)
    refused(response, 200, message)
    assert media_type(response) == JSON


async def test_field_errors_with_data_are_200_in_graphql_response_json(admin: Api) -> None:
    query = '{ me { email } node(id: "not an id") { id } }'

    response = await send(admin, {"query": query}, token=admin.admin_token)

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"me": {"email": "ada@example.com"}, "node": None}
    assert body["errors"][0]["extensions"]["code"] == "INVALID_ID"
    assert body["errors"][0]["path"] == ["node"]


# --- choosing the operation ----------------------------------------------------------------------


CREATE_THEN_READ = """
mutation Create { categoryCreate(input: {key: "customers", name: "Customers"}) { category { key } } }
query Read { categories { key } }
"""


@pytest.mark.parametrize("accept", MEDIA_TYPES)
async def test_several_operations_without_an_operation_name_run_none(
    admin: Api, accept: str
) -> None:
    response = await send(
        admin, {"query": CREATE_THEN_READ}, accept=accept, token=admin.admin_token
    )

    refused(response, 400 if accept == GRAPHQL_RESPONSE else 200, "2 operations", "operationName")
    assert (await row_counts(admin))["category"] == 0


async def test_operation_name_chooses_the_operation_to_run(admin: Api) -> None:
    token = admin.admin_token
    created = await send(admin, {"query": CREATE_THEN_READ, "operationName": "Create"}, token=token)
    read = await send(admin, {"query": CREATE_THEN_READ, "operationName": "Read"}, token=token)

    assert created.json() == {"data": {"categoryCreate": {"category": {"key": "customers"}}}}
    assert read.json() == {"data": {"categories": [{"key": "customers"}]}}


async def test_an_unknown_operation_name_is_an_error(admin: Api) -> None:
    response = await send(admin, {"query": CREATE_THEN_READ, "operationName": "Delete"})

    refused(response, 400, "no operation named 'Delete'")
    assert (await row_counts(admin))["category"] == 0


async def test_subscriptions_are_not_served_over_http(api: Api) -> None:
    response = await send(api, {"query": "subscription { roomActivity { id } }"})
    refused(response, 400, "Subscriptions are not served over HTTP")


# --- GET, HEAD and other methods -----------------------------------------------------------------


async def test_get_runs_queries_with_json_encoded_variables(admin: Api) -> None:
    await create_category(admin, "customers")
    params = {"query": CATEGORY_BY_KEY, "variables": json.dumps({"key": "customers"})}

    response = await get(admin, params, token=admin.admin_token)

    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE
    assert response.json() == {"data": {"category": {"name": "Customers"}}}


async def test_get_takes_an_operation_name_and_empty_parameters_count_as_absent(admin: Api) -> None:
    params = {"query": "query A { me { email } } query B { me { name } }", "operationName": "B"}
    named = await get(admin, params, token=admin.admin_token)
    blank = await get(
        admin, {"query": ME, "operationName": "", "variables": ""}, token=admin.admin_token
    )

    assert named.json() == {"data": {"me": {"name": "Ada Admin"}}}
    assert blank.json() == {"data": {"me": {"email": "ada@example.com"}}}


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"query": CATEGORY_CREATE}, id="mutation"),
        pytest.param(
            {
                "query": f"query Read {{ me {{ id }} }} {CATEGORY_CREATE.replace('mutation', 'mutation Create', 1)}",
                "operationName": "Create",
            },
            id="named-mutation",
        ),
    ],
)
async def test_get_refuses_mutations_with_405_and_writes_nothing(
    admin: Api, params: dict[str, str]
) -> None:
    variables = json.dumps({"input": {"key": "customers", "name": "Customers"}})
    before = await row_counts(admin)

    for method in ("GET", "HEAD"):
        response = await admin.client.request(
            method,
            "/graphql",
            params={**params, "variables": variables},
            headers={"Accept": GRAPHQL_RESPONSE, "Authorization": f"Bearer {admin.admin_token}"},
        )
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"

    response = await get(admin, {**params, "variables": variables}, token=admin.admin_token)
    body = refused(response, 405, "Mutations run only over POST")
    assert body["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert await row_counts(admin) == before


async def test_head_answers_with_the_headers_of_get_and_no_body(admin: Api) -> None:
    params = {"query": ME}
    headers = {"Accept": GRAPHQL_RESPONSE, "Authorization": f"Bearer {admin.admin_token}"}

    got = await admin.client.get("/graphql", params=params, headers=headers)
    head = await admin.client.head("/graphql", params=params, headers=headers)

    assert head.status_code == got.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "vary"):
        assert head.headers[name] == got.headers[name]
    assert int(head.headers["content-length"]) == len(got.content)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_other_methods_get_405_with_allow(api: Api, method: str) -> None:
    response = await api.client.request(
        method, "/graphql", json={"query": ME}, headers={"Accept": GRAPHQL_RESPONSE}
    )

    body = refused(response, 405, method)
    assert response.headers["allow"] == "GET, HEAD, POST"
    assert body["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_graphiql_goes_to_browsers_and_queries_in_the_url_to_the_api(
    database_url: str,
) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    app = create_app(settings_for(database_url, graphiql=True))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            page = await client.get("/graphql", headers={"Accept": browser})
            head = await client.head("/graphql", headers={"Accept": browser})
            query = await client.get(
                "/graphql", params={"query": "{ __typename }"}, headers={"Accept": browser}
            )

    assert page.status_code == 200
    assert media_type(page) == "text/html"
    assert "graphiql" in page.text.lower()
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == page.headers["content-length"]
    assert query.json() == {"data": {"__typename": "Query"}}
    assert media_type(query) == JSON


async def test_websockets_speak_graphql_transport_ws_and_nothing_older(database_url: str) -> None:
    """The protocol itself is in tests/test_live.py, against a real server."""
    app = create_app(settings_for(database_url))
    async with app.router.lifespan_context(app):
        transport = ASGIWebSocketTransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            legacy: AbstractAsyncContextManager[AsyncWebSocketSession] = aconnect_ws(
                "/graphql", client, subprotocols=["graphql-ws"]
            )
            assert await _close_code(legacy) == 4406


async def _close_code(connecting: AbstractAsyncContextManager[AsyncWebSocketSession]) -> int:
    """The code the server closes an accepted connection with before it sends anything."""
    async with connecting as ws:
        try:
            await ws.receive_text()
        except WebSocketDisconnect as closed:
            return closed.code
    raise AssertionError("the server sent a message instead of closing")


async def test_graphiql_is_not_served_when_it_is_turned_off(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    refused(response, 406, GRAPHQL_RESPONSE)


# --- POST content types and cross-site requests --------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        (None, "no Content-Type"),
        ("text/plain", "text/plain is not supported"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded is not supported"),
        ("application/graphql", "application/graphql is not supported"),
        ("application/json; charset=iso-8859-1", "charset iso-8859-1 is not supported"),
    ],
)
async def test_post_needs_a_json_content_type(
    admin: Api, content_type: str | None, message: str
) -> None:
    body = {"query": CATEGORY_CREATE, "variables": {"input": {"key": "customers", "name": "C"}}}

    response = await send(admin, body, content_type=content_type, token=admin.admin_token)

    refused(response, 415, message)
    assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert (await row_counts(admin))["category"] == 0


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON; charset=UTF-8"]
)
async def test_json_with_a_utf8_charset_is_accepted(admin: Api, content_type: str) -> None:
    response = await send(admin, {"query": ME}, content_type=content_type, token=admin.admin_token)
    assert response.json() == {"data": {"me": {"email": "ada@example.com"}}}


async def test_cookies_never_authenticate(admin: Api) -> None:
    """What a page on another site can make a browser send carries cookies but no
    Authorization header: it runs anonymously, and GET cannot write (see above)."""
    token = admin.admin_token
    cookies = f"token={token}; session={token}; Authorization=Bearer {token}"

    posted = await send(admin, {"query": ME}, headers={"Cookie": cookies})
    fetched = await admin.client.get(
        "/graphql", params={"query": ME}, headers={"Cookie": cookies, "Accept": GRAPHQL_RESPONSE}
    )

    assert posted.json() == {"data": {"me": None}}
    assert fetched.json() == {"data": {"me": None}}


async def test_batched_requests_are_refused(admin: Api) -> None:
    response = await send(admin, [{"query": ME}, {"query": ME}], token=admin.admin_token)
    refused(response, 400, "Batching is not supported")


# --- malformed requests --------------------------------------------------------------------------


DEEP = b"[" * 5000 + b"]" * 5000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b'"{ me { id } }"', "must be a JSON object", id="string"),
        pytest.param(b"42", "not a number", id="number"),
        pytest.param(b"null", "not null", id="null"),
        pytest.param(b"true", "not a boolean", id="boolean"),
        pytest.param(
            b'{"query": "{ me { id } }", "x": "\xff"}', "not valid UTF-8 (at byte 33)", id="utf-8"
        ),
        pytest.param(
            b'{"query":', "not valid JSON: Expecting value (line 1, column 10)", id="truncated"
        ),
        pytest.param(b"NONSENSE", "not valid JSON", id="nonsense"),
        pytest.param(b"", "The request body is empty", id="empty"),
        pytest.param(DEEP, "nests JSON too deeply", id="deep"),
        pytest.param(
            b'{"query": "{ me { id } }", "variables": {"a": ' + DEEP + b"}}",
            "nests JSON too deeply",
            id="deep-variables",
        ),
        pytest.param(
            b'{"query": "{ me { id } }", "variables": {"n": NaN}}',
            "NaN is not a JSON value",
            id="nan",
        ),
        pytest.param(b"{}", "The request has no `query`", id="no-query"),
        pytest.param(b'{"qeury": "{ me { id } }"}', "The request has no `query`", id="typo"),
        pytest.param(b'{"query": null}', "The request has no `query`", id="null-query"),
        pytest.param(
            b'{"query": 1}',
            "`query` must be a string with the document, not a number",
            id="number-query",
        ),
        pytest.param(
            b'{"query": {"me": "id"}}',
            "`query` must be a string with the document, not an object",
            id="object-query",
        ),
        pytest.param(
            b'{"query": "{ me { id } }", "variables": [7]}',
            "`variables` must be a JSON object, not an array",
            id="variables-array",
        ),
        pytest.param(
            b'{"query": "{ me { id } }", "variables": "{}"}',
            "`variables` must be a JSON object, not a string",
            id="variables-string",
        ),
        pytest.param(
            b'{"query": "{ me { id } }", "extensions": 1}',
            "`extensions` must be a JSON object, not a number",
            id="extensions",
        ),
        pytest.param(
            b'{"query": "{ me { id } }", "operationName": 5}',
            "`operationName` must be a string, not a number",
            id="operation-name",
        ),
    ],
)
@pytest.mark.parametrize("accept", MEDIA_TYPES)
async def test_malformed_bodies_are_400_naming_the_problem(
    api: Api, content: bytes, message: str, accept: str
) -> None:
    response = await send(api, content, accept=accept)

    body = refused(response, 400, message)
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert media_type(response) == accept


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "The request has no `query`"),
        (
            {"query": ME, "variables": "{not json"},
            "The URL parameter `variables` is not valid JSON",
        ),
        ({"query": ME, "variables": "[1]"}, "`variables` must be a JSON object, not an array"),
        ({"query": ME, "extensions": "3"}, "`extensions` must be a JSON object, not a number"),
    ],
)
async def test_malformed_urls_are_400_naming_the_problem(
    api: Api, params: dict[str, str], message: str
) -> None:
    refused(await get(api, params), 400, message)


async def test_a_url_parameter_given_twice_is_refused(api: Api) -> None:
    response = await api.client.get(
        "/graphql?query={me{id}}&query={users{id}}", headers={"Accept": GRAPHQL_RESPONSE}
    )
    refused(response, 400, "The URL gives `query` 2 times")


async def test_client_errors_are_not_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        await send(api, b"NONSENSE")
        await send(api, {"query": "{ nothing }"})
        await send(api, {"query": "{ categories { id } }"})
    assert [r for r in caplog.records if r.name.startswith("crm")] == []


# --- strings no database can store ---------------------------------------------------------------


NUL = "\x00"
SURROGATE = "\ud800"
CHARACTERS = [pytest.param(NUL, id="nul"), pytest.param(SURROGATE, id="surrogate")]


def variable_cases(bad: str) -> list[tuple[str, dict[str, Any], str]]:
    """(query, variables, where the refusal says the string is) for each place a string goes."""
    return [
        (CATEGORY_BY_KEY, {"key": f"a{bad}b"}, "variables.key"),
        (
            SESSION_CREATE,
            {"input": {"email": f"ada{bad}@example.com", "password": PASSWORD}},
            "variables.input.email",
        ),
        (
            CATEGORY_CREATE,
            {"input": {"key": "customers", "name": f"Cu{bad}stomers"}},
            "variables.input.name",
        ),
        (
            CONTACTS,
            {"c": CATEGORY_ID, "f": {"fields": [{"key": "k", "eq": f"x{bad}"}]}},
            "variables.f.fields[0].eq",
        ),
        (
            CONTACTS,
            {"c": CATEGORY_ID, "f": {"or": [{"name": {"in": ["a", bad]}}]}},
            "variables.f.or[0].name.in[1]",
        ),
        (CONTACTS, {"c": CATEGORY_ID, "search": f"acme {bad}"}, "variables.search"),
        (CONTACTS, {"c": CATEGORY_ID, "after": f"WyJ{bad}"}, "variables.after"),
        (
            CONTACT_CREATE,
            {"input": {"categoryId": CATEGORY_ID, "name": "Acme", "values": {f"k{bad}": 1}}},
            "A key in variables.input.values",
        ),
    ]


@pytest.mark.parametrize("bad", CHARACTERS)
async def test_unstorable_strings_in_variables_are_refused_naming_the_path(
    admin: Api, bad: str
) -> None:
    before = await row_counts(admin)
    kind = "NUL character (U+0000)" if bad == NUL else "unpaired UTF-16 surrogate (U+D800)"

    for query, variables, where in variable_cases(bad):
        response = await send(
            admin, {"query": query, "variables": variables}, token=admin.admin_token
        )
        refused(response, 400, f"{where} contains a", kind, "cannot be stored")

    assert await row_counts(admin) == before


@pytest.mark.parametrize("bad", CHARACTERS)
async def test_an_unstorable_operation_name_is_refused(admin: Api, bad: str) -> None:
    response = await send(admin, {"query": ME, "operationName": f"Me{bad}"})
    refused(response, 400, "operationName contains a")


LITERALS = [
    ('{ category(key: "a\\u0000b") { id } }', "category(key)"),
    (
        'mutation { sessionCreate(input: {email: "ada\\u0000@example.com", password: "x"}) { token } }',
        "sessionCreate(input.email)",
    ),
    (
        'mutation { categoryCreate(input: {key: "customers", name: "Cu\\u0000stomers"}) { category { id } } }',
        "categoryCreate(input.name)",
    ),
    (
        f'{{ contacts(categoryId: "{CATEGORY_ID}", filter: {{fields: [{{key: "k", eq: "x\\u0000"}}]}}) {{ totalCount }} }}',
        "contacts(filter.fields[0].eq)",
    ),
    (
        f'{{ contacts(categoryId: "{CATEGORY_ID}", search: "a\\u0000") {{ totalCount }} }}',
        "contacts(search)",
    ),
    (
        f'{{ contacts(categoryId: "{CATEGORY_ID}", after: "W\\u0000") {{ totalCount }} }}',
        "contacts(after)",
    ),
    (
        'query($key: String = "a\\u0000") { category(key: $key) { id } }',
        "the default value of $key",
    ),
    ('{ category(key: """a\u0000b""") { id } }', "category(key)"),
]


@pytest.mark.parametrize(("query", "where"), LITERALS)
async def test_nul_in_a_string_literal_is_refused_naming_where(
    admin: Api, query: str, where: str
) -> None:
    before = await row_counts(admin)

    for accept in MEDIA_TYPES:
        response = await send(admin, {"query": query}, accept=accept, token=admin.admin_token)
        body = refused(
            response, 400 if accept == GRAPHQL_RESPONSE else 200, f"The string at {where}"
        )
        assert "NUL character (U+0000), which cannot be stored" in body["errors"][0]["message"]
        assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"

    assert await row_counts(admin) == before


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('{ category(key: "\\ud800") { id } }', "Invalid Unicode escape sequence: '\\ud800'"),
        ('{ category(key: "\\udc00x") { id } }', "Invalid Unicode escape sequence: '\\udc00'"),
        ('{ category(key: "\\u{D800}") { id } }', "Invalid Unicode escape sequence: '\\u{D800}'"),
        (f'{{ category(key: "{SURROGATE}") {{ id }} }}', "Invalid character within String: U+D800"),
        (f"{{ category(key: {SURROGATE}) {{ id }} }}", "Invalid character: U+D800"),
    ],
)
async def test_lone_surrogates_in_the_document_are_syntax_errors(
    admin: Api, query: str, message: str
) -> None:
    response = await send(admin, {"query": query}, token=admin.admin_token)
    body = refused(response, 400, message)
    assert body["errors"][0]["locations"][0]["line"] == 1


async def test_unstorable_strings_are_refused_in_json_responses_too(admin: Api) -> None:
    response = await send(
        admin,
        {"query": CATEGORY_BY_KEY, "variables": {"key": NUL}},
        accept=JSON,
        token=admin.admin_token,
    )
    refused(response, 200, "variables.key contains a NUL character")


async def test_unstorable_strings_in_get_requests_are_refused(admin: Api) -> None:
    params = {"query": CATEGORY_BY_KEY, "variables": json.dumps({"key": f"a{SURROGATE}"})}
    refused(
        await get(admin, params, token=admin.admin_token), 400, "variables.key contains an unpaired"
    )


# --- requests refused for now --------------------------------------------------------------------


@pytest.mark.parametrize("accept", MEDIA_TYPES)
async def test_a_rate_limited_request_is_429_with_retry_after(
    admin: Api, monkeypatch: pytest.MonkeyPatch, accept: str
) -> None:
    async def busy(*_args: Any, **_kwargs: Any) -> None:
        raise rate_limited("Too many category lists at once", retry_after=7)

    monkeypatch.setattr(categories, "list_categories", busy)

    response = await send(
        admin, {"query": "{ categories { id } }"}, accept=accept, token=admin.admin_token
    )

    body = refused(response, 429, "Too many category lists at once")
    assert response.headers["retry-after"] == "7"
    assert media_type(response) == accept
    assert body["errors"][0]["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 7}


@pytest.mark.parametrize("accept", MEDIA_TYPES)
async def test_an_unavailable_database_is_503_with_retry_after_and_writes_nothing(
    admin: Api, monkeypatch: pytest.MonkeyPatch, accept: str
) -> None:
    async def down(*_args: Any, **_kwargs: Any) -> None:
        raise unavailable("The database cannot be written just now")

    monkeypatch.setattr(categories, "create_category", down)
    variables = {"input": {"key": "customers", "name": "Customers"}}

    response = await send(
        admin,
        {"query": CATEGORY_CREATE, "variables": variables},
        accept=accept,
        token=admin.admin_token,
    )

    body = refused(response, 503, "The database cannot be written just now")
    assert response.headers["retry-after"] == "2"
    assert body["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert (await row_counts(admin))["category"] == 0


async def test_the_longest_wait_and_the_worse_status_win(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def busy(*_args: Any, **_kwargs: Any) -> None:
        raise rate_limited("Too many category lists at once", retry_after=30)

    async def down(*_args: Any, **_kwargs: Any) -> None:
        raise unavailable("The database cannot be read just now", retry_after=5)

    monkeypatch.setattr(categories, "list_categories", busy)
    monkeypatch.setattr(categories, "category_by_key", down)

    response = await send(
        admin, {"query": '{ categories { id } category(key: "x") { id } }'}, token=admin.admin_token
    )

    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"


@pytest.mark.parametrize(
    ("query", "data"),
    [
        pytest.param(
            '{ category(key: "x") { id } me { email } }',
            {"category": None, "me": {"email": "ada@example.com"}},
            id="other-field-answered",
        ),
        pytest.param(
            '{ category(key: "x") { id } node(id: "not an id") { id } }',
            {"category": None, "node": None},
            id="other-error",
        ),
    ],
)
async def test_a_request_not_wholly_refused_stays_200(
    admin: Api, monkeypatch: pytest.MonkeyPatch, query: str, data: dict[str, Any]
) -> None:
    async def busy(*_args: Any, **_kwargs: Any) -> None:
        raise rate_limited("Too many category look-ups at once")

    monkeypatch.setattr(categories, "category_by_key", busy)

    response = await send(admin, {"query": query}, token=admin.admin_token)

    assert response.status_code == 200
    assert "retry-after" not in response.headers
    assert response.json()["data"] == data
    codes = [error["extensions"]["code"] for error in response.json()["errors"]]
    assert "RATE_LIMITED" in codes  # beside the answered field or the other error


# --- the request's database session --------------------------------------------------------------


async def test_the_database_session_is_released_after_every_kind_of_end(
    admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection kept by a finished request would soon leave every client waiting."""

    async def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("a bug")

    async def down(*_args: Any, **_kwargs: Any) -> None:
        raise unavailable("The database cannot be read just now")

    monkeypatch.setattr(categories, "category_by_key", broken)
    monkeypatch.setattr(categories, "list_categories", down)
    token = admin.admin_token

    answers = [
        await send(admin, {"query": ME}, token=token),
        await send(admin, {"query": '{ category(key: "x") { id } }'}, token=token),
        await send(admin, {"query": "{ categories { id } }"}, token=token),
        await send(admin, {"query": "{ me { nope } }"}, token=token),
        await get(admin, {"query": ME}, token=token),
    ]

    assert [a.status_code for a in answers] == [200, 200, 503, 400, 200]
    assert answers[1].json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert admin.engine.pool.checkedout() == 0  # type: ignore[attr-defined]

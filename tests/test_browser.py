"""GraphiQL in a real browser on a machine without internet: headless Chromium loads /graphql
from a uvicorn server on loopback, with every request elsewhere refused, and runs a query with
a token typed into the Headers tab.

Needs Debian's `chromium` package (at /usr/bin/chromium) and Playwright for Python; Playwright
never downloads a browser of its own here. Skipped where either is missing."""

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from bench.servers import HOST, Server, migrate, start_server
from tests.conftest import PASSWORD

if TYPE_CHECKING:
    from playwright.async_api import ConsoleMessage, Page, Route

playwright = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is not installed (pip install '.[dev]')"
)

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"No browser at {CHROMIUM}: install Debian's package (apt-get install chromium)",
        allow_module_level=True,
    )

# No first-run work, no background traffic to the browser vendor, nothing to sandbox as root.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QUERY_EDITOR = "section.graphiql-query-editor .CodeMirror"
# The variables and headers editors share one panel; the tab shows one of them.
HEADERS_EDITOR = 'section.graphiql-editor-tool[aria-label="Headers"] .CodeMirror >> visible=true'
RESULT = "section.result-window"
SIGN_UP = """mutation($input: SignUpInput!) { signUp(input: $input) { token } }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("browser")
    url = f"sqlite+aiosqlite:///{directory / 'crm.db'}"
    migrate(url)
    running = start_server(
        "graphiql", "server:create_app", url, directory, {"CRM_GRAPHIQL": "true"}
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def token(server: Server) -> str:
    """The admin's, signed up once for the module's server."""
    return sign_up(server)


def sign_up(server: Server) -> str:
    variables = {"input": {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}}
    with httpx.Client(trust_env=False) as client:
        response = client.post(server.url, json={"query": SIGN_UP, "variables": variables})
    token: str = response.json()["data"]["signUp"]["token"]
    return token


async def run_in_graphiql(page: "Page", document: str, token: str) -> None:
    """Type `document` into the query editor and the token into the Headers tab, and run it."""
    # Typing replaces the welcome text; the editor closes brackets as it goes.
    await page.click(QUERY_EDITOR)
    await page.keyboard.press("ControlOrMeta+A")
    await page.keyboard.type(document)
    await page.click('button[data-name="headers"]')
    await page.click(HEADERS_EDITOR)
    await page.keyboard.press("ControlOrMeta+A")
    await page.keyboard.type(f'{{"Authorization": "Bearer {token}"}}')
    await page.click("button.graphiql-execute-button")


def on_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob") or parts.hostname == HOST


async def test_graphiql_runs_a_query_with_a_token_and_nothing_leaves_the_machine(
    server: Server, token: str
) -> None:
    requested: list[str] = []
    refused: list[str] = []
    policy_violations: list[str] = []

    async def only_loopback(route: "Route") -> None:
        if on_loopback(route.request.url):
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort("blockedbyclient")

    def note_policy_violations(message: "ConsoleMessage") -> None:
        if "Content Security Policy" in message.text:
            policy_violations.append(message.text)

    async with playwright.async_playwright() as browser_driver:
        browser = await browser_driver.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, timeout=60_000
        )
        try:
            context = await browser.new_context()
            context.set_default_timeout(20_000)
            await context.route("**/*", only_loopback)
            page = await context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.on("websocket", lambda socket: requested.append(socket.url))
            page.on("console", note_policy_violations)
            await page.goto(server.url)
            # A dialog adds a <style> element, admitted by the page's nonce.
            await page.click('button[aria-label="Open settings dialog"]')
            await page.get_by_role("dialog").wait_for()
            await page.keyboard.press("Escape")
            await run_in_graphiql(page, "{ me { email role } }", token)
            result = page.locator(RESULT)
            await result.get_by_text('"role": "ADMIN"').wait_for()
            text = await result.inner_text()
        finally:
            await browser.close()

    assert '"email": "ada@example.com"' in text
    assert "errors" not in text
    assert refused == []
    assert any("/graphiql/" in url for url in requested), requested
    assert [url for url in requested if not on_loopback(url)] == []
    assert policy_violations == []


CATEGORY_CREATE = """mutation { categoryCreate(input: {key: "customers", name: "Customers"}) {
  category { id } } }"""
CONTACT_CREATE = """mutation($c: ID!) { contactCreate(input: {categoryId: $c, name: "Acme"}) {
  contact { id activity(first: 1) { nodes { cursor } } } } }"""
NOTE_CREATE = """mutation($c: ID!) { noteCreate(input: {contactId: $c, body: "Called them"}) {
  note { id } } }"""


def call(server: Server, token: str, query: str, variables: dict[str, str]) -> dict[str, Any]:
    with httpx.Client(trust_env=False) as client:
        response = client.post(
            server.url,
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_graphiql_shows_a_subscription_live(server: Server, token: str) -> None:
    category = call(server, token, CATEGORY_CREATE, {})["categoryCreate"]["category"]["id"]
    card = call(server, token, CONTACT_CREATE, {"c": category})["contactCreate"]["contact"]
    # From the card's first event, so a note written before the subscription is up still comes.
    after = card["activity"]["nodes"][0]["cursor"]
    subscription = (
        f'subscription {{ contactActivity(contactId: "{card["id"]}", after: "{after}") '
        "{ kind subject { ... on Note { body } } } }"
    )
    async with playwright.async_playwright() as browser_driver:
        browser = await browser_driver.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, timeout=60_000
        )
        try:
            page = await browser.new_page()
            page.set_default_timeout(20_000)
            await page.goto(server.url)
            await run_in_graphiql(page, subscription, token)
            call(server, token, NOTE_CREATE, {"c": card["id"]})
            result = page.locator(RESULT)
            await result.get_by_text('"body": "Called them"').wait_for()
            text = await result.inner_text()
        finally:
            await browser.close()
    assert '"kind": "NOTE_ADDED"' in text
    assert "errors" not in text

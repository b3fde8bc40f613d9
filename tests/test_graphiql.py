"""GraphiQL served by the service itself: the page, its Content-Security-Policy, and the built
assets with their long-lived cache headers (tests/test_browser.py runs it in a browser)."""

import hashlib
import json
import re
import tomllib
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from schema.graphiql import STATIC, Manifest, accepts_gzip, content_security_policy
from server import create_app
from tests.conftest import settings_for

ROOT = Path(__file__).resolve().parent.parent
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def client_for(graphiql: bool) -> AsyncIterator[httpx.AsyncClient]:
    # Nothing here reaches the database, so the app runs without its lifespan.
    app = create_app(settings_for("sqlite+aiosqlite:///unused.db", graphiql=graphiql))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://crm.example:8000") as client:
        yield client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(graphiql=True):
        yield client


@pytest.fixture
async def client_without_graphiql() -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(graphiql=False):
        yield client


class PageParts(HTMLParser):
    """The scripts, stylesheets and inline code of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str | None] = []
        self.stylesheets: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append(attributes.get("src"))
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes["href"] or "")
        if tag == "style" or "style" in attributes:
            self.inline.append(tag)
        self.inline += [name for name in attributes if name.startswith("on")]


def page_parts(html: str) -> PageParts:
    parts = PageParts()
    parts.feed(html)
    return parts


def directives(policy: str) -> dict[str, list[str]]:
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


async def test_browsers_get_the_page_with_a_strict_content_security_policy(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/graphql", headers=HTML)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    self_, nonce = policy["style-src"]
    assert self_ == "'self'"
    assert re.fullmatch(r"'nonce-[A-Za-z0-9_-]{24}'", nonce)
    assert policy["connect-src"] == ["'self'", "ws://crm.example:8000", "wss://crm.example:8000"]
    assert policy["frame-ancestors"] == ["'none'"]
    # No other origin anywhere: only 'self', 'none', data: and this host's WebSocket.
    sources = {source for values in policy.values() for source in values} - {nonce}
    assert sources <= {
        "'self'",
        "'none'",
        "data:",
        "ws://crm.example:8000",
        "wss://crm.example:8000",
    }


async def test_the_page_has_no_inline_code_and_loads_only_the_built_assets(
    client: httpx.AsyncClient,
) -> None:
    parts = page_parts((await client.get("/graphql", headers=HTML)).text)
    manifest = Manifest.read()

    assert parts.inline == []
    assert parts.scripts == [f"graphiql/{manifest.script}"]
    assert parts.stylesheets == [f"graphiql/{manifest.style}"]


async def test_every_page_has_a_new_nonce_and_gives_it_to_the_script(
    client: httpx.AsyncClient,
) -> None:
    nonces = []
    for _ in range(2):
        response = await client.get("/graphql", headers=HTML)
        policy = directives(response.headers["content-security-policy"])
        nonce = policy["style-src"][1].removeprefix("'nonce-").removesuffix("'")
        assert f'nonce="{nonce}"' in response.text
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


@pytest.mark.parametrize(
    "host", ["evil.example; script-src *", "a b", "x\u2028y", "'unsafe-inline'", ""]
)
def test_a_strange_host_header_never_widens_the_policy(host: str) -> None:
    policy = directives(content_security_policy(host, "n0nce"))
    assert policy["connect-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]


def test_an_ipv6_host_is_named_in_the_policy() -> None:
    policy = directives(content_security_policy("[::1]:8000", "n0nce"))
    assert policy["connect-src"] == ["'self'", "ws://[::1]:8000", "wss://[::1]:8000"]


async def test_assets_are_named_by_their_content_and_cached_for_good(
    client: httpx.AsyncClient,
) -> None:
    manifest = Manifest.read()
    for name, media_type in ((manifest.script, "text/javascript"), (manifest.style, "text/css")):
        response = await client.get(f"/graphiql/{name}", headers={"Accept-Encoding": "identity"})

        assert response.status_code == 200
        assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "content-encoding" not in response.headers
        assert response.content == (STATIC / name).read_bytes()
        digest = hashlib.sha256(response.content).hexdigest()
        assert name.split(".")[1] == digest[: len(name.split(".")[1])]


async def test_assets_are_gzipped_for_browsers_that_accept_it(client: httpx.AsyncClient) -> None:
    name = Manifest.read().script
    response = await client.get(f"/graphiql/{name}", headers={"Accept-Encoding": "gzip, br"})

    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert int(response.headers["content-length"]) < len((STATIC / name).read_bytes()) / 2
    # httpx decodes it; the bytes are the file's.
    assert response.content == (STATIC / name).read_bytes()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("GZIP", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("br", False),
        ("", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_gzip_is_sent_only_when_accepted(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


async def test_unknown_assets_are_not_found(client: httpx.AsyncClient) -> None:
    for path in ("/graphiql/graphiql.0000000000000000.js", "/graphiql/manifest.json"):
        assert (await client.get(path)).status_code == 404
    response = await client.post(f"/graphiql/{Manifest.read().script}")
    assert response.status_code == 405


async def test_crm_graphiql_false_turns_off_the_page_and_the_assets(
    client_without_graphiql: httpx.AsyncClient,
) -> None:
    page = await client_without_graphiql.get("/graphql", headers={"Accept": "text/html"})
    asset = await client_without_graphiql.get(f"/graphiql/{Manifest.read().script}")

    assert page.status_code == 406
    assert asset.status_code == 404


def test_the_built_files_are_complete_and_nothing_is_fetched_from_elsewhere() -> None:
    manifest = Manifest.read()
    built = sorted(path.name for path in STATIC.glob("graphiql.*"))
    assert built == sorted([manifest.script, manifest.style])
    bundle = (STATIC / manifest.script).read_text()
    stylesheet = (STATIC / manifest.style).read_text()
    for cdn in ("unpkg.com", "jsdelivr", "esm.sh", "googleapis", "cdnjs"):
        assert cdn not in bundle
        assert cdn not in stylesheet
    assert not re.search(r"url\((?![\"']?data:)", stylesheet), "CSS loads a file by URL"
    # The welcome text tells how to send a token, and the fetcher knows the WebSocket route.
    assert '{"Authorization": "Bearer <token>"}' in bundle
    assert "graphql-transport-ws" in bundle


def test_the_built_files_ship_with_the_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data = pyproject["tool"]["setuptools"]["package-data"]
    assert "static/*" in package_data["schema"]


def test_the_build_is_pinned() -> None:
    package = json.loads((ROOT / "graphiql" / "package.json").read_text())
    lock = json.loads((ROOT / "graphiql" / "package-lock.json").read_text())
    for name, version in {**package["dependencies"], **package["devDependencies"]}.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version} is not pinned"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version

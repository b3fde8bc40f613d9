"""The service as an operator sees it: configuration errors, health checks, GraphiQL."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from server import create_app
from services.settings import Settings, SettingsError, load_settings
from tests.conftest import Api, settings_for

ROOT = Path(__file__).resolve().parent.parent


def test_a_bad_database_url_is_named_in_the_error() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(database_url="mysql://localhost/crm")
    assert "CRM_DATABASE_URL" in str(caught.value)
    assert "sqlite+aiosqlite://" in str(caught.value)


def test_postgres_urls_from_hosting_providers_use_the_async_driver() -> None:
    settings = load_settings(database_url="postgres://crm@db:5432/crm")
    assert settings.database_url == "postgresql+asyncpg://crm@db:5432/crm"


def test_links_point_at_the_service_itself_unless_a_public_address_is_given() -> None:
    assert load_settings(port=8123).public_url == "http://127.0.0.1:8123"
    assert load_settings(host="0.0.0.0", port=9000).public_url == "http://127.0.0.1:9000"
    assert load_settings(host="::1").public_url == "http://[::1]:8000"
    given = load_settings(public_url="https://crm.example.com/", port=8123)
    assert given.public_url == "https://crm.example.com"
    with pytest.raises(SettingsError, match="CRM_PUBLIC_URL: must be an http"):
        load_settings(public_url="crm.example.com")


def test_server_refuses_to_start_with_a_clear_message_instead_of_a_traceback() -> None:
    env = {**os.environ, "CRM_DATABASE_URL": "oracle://nope", "CRM_PORT": "99999"}
    result = subprocess.run(
        [sys.executable, "server.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "CRM_DATABASE_URL: must start with" in result.stderr
    assert "CRM_PORT" in result.stderr
    assert "Traceback" not in result.stderr


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "schema": "ok"}


async def test_readiness_fails_when_the_database_is_unreachable(tmp_path: Path) -> None:
    app = create_app(settings_for(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/crm.db"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


async def test_graphiql_is_served_to_browsers(database_url: str) -> None:
    app = create_app(settings_for(database_url, graphiql=True))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [
        f"CRM_{name.upper()}"
        for name in Settings.model_fields
        if f"`CRM_{name.upper()}`" not in readme
    ]
    assert missing == []

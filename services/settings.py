"""Configuration: every setting is a `CRM_*` environment variable (or a line in `.env`)."""

import ipaddress
import os
from email.utils import parseaddr
from functools import cache
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.smtp_url import parse_smtp_url

SUPPORTED_DATABASES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


def _check_database_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # The common spelling from hosting providers: use the async driver we ship.
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    if not url.startswith(SUPPORTED_DATABASES):
        raise ValueError(
            "must start with sqlite+aiosqlite:// (for example sqlite+aiosqlite:///./var/crm.db) "
            "or postgresql+asyncpg:// (for example postgresql+asyncpg://user@host:5432/crm)"
        )
    return url


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(value: Any) -> list[IPNetwork]:
    """Comma-separated addresses or networks, e.g. "127.0.0.1, 10.0.0.0/8"."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    try:
        return [ipaddress.ip_network(str(part), strict=False) for part in value]
    except ValueError as exc:
        raise ValueError(f"must list IP addresses or networks such as 10.0.0.0/8: {exc}") from None


def _check_public_url(url: str) -> str:
    if url == "":
        return url  # unset: the service's own address (Settings._address_by_default)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) address such as https://crm.example.com")
    return url.rstrip("/")


def _check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone such as Europe/Stockholm") from None
    return name


def _check_storage_url(url: str) -> str:
    """`file:<folder>`, a plain folder, or `s3://bucket/prefix`."""
    if url.startswith("s3://"):
        bucket = url.removeprefix("s3://").split("/", 1)[0]
        if not bucket:
            raise ValueError("must name a bucket, as in s3://my-bucket/crm-files")
        return url
    if "://" in url:
        raise ValueError("must be a folder (file:./var/files) or s3://bucket/prefix")
    if not url.removeprefix("file:").strip():
        raise ValueError("must name a folder, as in file:./var/files")
    return url


def _check_endpoint_url(url: str | None) -> str | None:
    return None if url is None else _check_public_url(url)


def _check_secret_key(key: SecretStr | None) -> SecretStr | None:
    if key is not None and len(key.get_secret_value()) < 32:
        raise ValueError(
            "must be at least 32 characters, for example from "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return key


def _check_smtp_url(url: SecretStr | None) -> SecretStr | None:
    # Kept secret (a password may be in it): shown as ********** wherever settings are printed.
    if url is None or not url.get_secret_value().strip():
        return None
    parse_smtp_url(url.get_secret_value())
    return url


def _check_broadcast_url(url: SecretStr) -> SecretStr:
    # Kept secret (a Redis password may be in it): shown as ********** wherever settings are
    # printed, and logged without its credentials.
    scheme = urlsplit(url.get_secret_value()).scheme
    if scheme not in ("memory", "redis", "rediss"):
        raise ValueError(
            "must be memory:// (one process) or redis://host:6379/0 (rediss:// for TLS), "
            "which fans events out to every worker and host"
        )
    return url


def _check_mail_from(value: str) -> str:
    _name, address = parseaddr(value)
    if "@" not in address or any(c in value for c in "\r\n"):
        raise ValueError("must be an e-mail address such as CRM <crm@example.com>")
    return value


def _listens_everywhere(host: str) -> bool:
    """0.0.0.0, :: or no host: every address of this machine."""
    try:
        return not host or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False  # a name


def _half_the_cpus() -> int:
    # Password hashing may keep half the cores busy; the rest serve everything else.
    return max(1, (os.cpu_count() or 2) // 2)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", env_file=".env", extra="ignore")

    database_url: Annotated[str, AfterValidator(_check_database_url)] = (
        "sqlite+aiosqlite:///./var/crm.db"
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: str = Field(default="info", pattern="^(critical|error|warning|info|debug)$")
    graphiql: bool = True

    session_ttl_hours: int = Field(default=24 * 30, ge=1)
    invitation_ttl_hours: int = Field(default=24 * 7, ge=1)
    password_reset_ttl_hours: int = Field(default=24, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_block_seconds: int = Field(default=30, ge=1)
    login_account_max_failures: int = Field(default=50, ge=1)
    login_client_max_failures: int = Field(default=30, ge=1)
    trusted_proxies: Annotated[list[IPNetwork], NoDecode, BeforeValidator(_networks)] = Field(
        default_factory=list
    )
    password_concurrency: int = Field(default_factory=_half_the_cpus, ge=1, le=64)
    password_queue: int = Field(default=10, ge=0, le=10_000)

    # Links in mails and download links point here; by default the address the service
    # listens on (a wildcard host stands for this machine).
    public_url: Annotated[str, AfterValidator(_check_public_url)] = ""
    # Days (a to-do due on a date, the daily digest) begin and end in this time zone.
    time_zone: Annotated[str, AfterValidator(_check_time_zone)] = "UTC"
    password_min_length: int = Field(default=10, ge=8, le=128)

    # Outgoing mail: the SMTP server (none: mails are kept and logged), the sender's address,
    # and the hour of CRM_TIME_ZONE from which the daily digest of due to-dos goes out.
    smtp_url: Annotated[SecretStr | None, AfterValidator(_check_smtp_url)] = None
    mail_from: Annotated[str, AfterValidator(_check_mail_from)] = "CRM <crm@localhost>"
    digest_hour: int = Field(default=7, ge=0, le=23)

    # Files: where their contents live, how large one may be, how long a download link lasts.
    storage_url: Annotated[str, AfterValidator(_check_storage_url)] = "file:./var/files"
    s3_endpoint_url: Annotated[str | None, AfterValidator(_check_endpoint_url)] = None
    # At most 2 GiB - 1: sizes are GraphQL Ints.
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, ge=1, le=2**31 - 1)
    # S3 presigns for at most 7 days.
    download_url_ttl_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    # Signs download links; without it every worker reads one kept in the database.
    secret_key: Annotated[SecretStr | None, AfterValidator(_check_secret_key)] = None

    # Live activity (GraphQL subscriptions over WebSocket): how other workers and hosts hear
    # of a commit, how long a new connection may take to send connection_init, how often the
    # server pings (a peer that has not answered by the next ping is closed), limits per
    # connection and per user, messages waiting for one slow connection before it is closed,
    # and how often the feed looks for new events when nothing woke it.
    broadcast_url: Annotated[SecretStr, AfterValidator(_check_broadcast_url)] = SecretStr(
        "memory://"
    )
    broadcast_check_seconds: float = Field(default=5.0, gt=0, le=300)
    ws_init_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    ws_ping_seconds: float = Field(default=20.0, gt=0, le=3600)
    ws_max_subscriptions: int = Field(default=100, ge=1, le=10_000)
    ws_max_subscriptions_per_user: int = Field(default=200, ge=1, le=100_000)
    ws_max_connections_per_user: int = Field(default=20, ge=1, le=10_000)
    live_queue_size: int = Field(default=1000, ge=1, le=1_000_000)
    live_poll_seconds: float = Field(default=2.0, gt=0, le=3600)

    max_query_depth: int = Field(default=12, ge=2)
    max_query_tokens: int = Field(default=4000, ge=50)
    max_query_aliases: int = Field(default=30, ge=1)
    max_query_cost: int = Field(default=20000, ge=10)
    max_page_size: int = Field(default=100, ge=1, le=1000)

    @model_validator(mode="after")
    def _address_by_default(self) -> "Settings":
        if not self.public_url:
            host = "127.0.0.1" if _listens_everywhere(self.host) else self.host
            if ":" in host:
                host = f"[{host}]"
            self.public_url = f"http://{host}:{self.port}"
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class SettingsError(Exception):
    """Configuration that cannot start the service, with a message a person can act on."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "CRM_" + "_".join(str(part) for part in error["loc"]).upper()
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{name}: {message}")
        raise SettingsError("Invalid configuration:\n  " + "\n  ".join(lines)) from None


@cache
def get_settings() -> Settings:
    return load_settings()

"""Short-lived download links to the service's own file route, signed with HMAC-SHA256.

A link names the file (or export), the user it was made for and when it expires; the route
checks the signature, the expiry, and that the user may still read (a deactivated user's links
stop working). The key is `CRM_SECRET_KEY`, or else one the service makes and keeps in the
database, so every worker and host signs and checks with the same key without configuration.
"""

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncEngine

from services.secrets import shared_secret
from services.settings import Settings

SECRET_NAME = "download-links"


class LinkError(Exception):
    """A link that does not open the file: altered, made for something else, or expired."""


@dataclass(frozen=True)
class SignedLink:
    user_id: int
    expires: int


class DownloadLinks:
    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self._public_url = settings.public_url
        self.ttl_seconds = settings.download_url_ttl_seconds
        self._engine = engine
        secret_key = settings.secret_key
        self._key = secret_key.get_secret_value().encode() if secret_key is not None else None
        self._lock = asyncio.Lock()

    async def _signing_key(self) -> bytes:
        if self._key is None:
            async with self._lock:  # fields of one page ask at once; read it once
                if self._key is None:
                    self._key = (await shared_secret(self._engine, SECRET_NAME)).encode()
        return self._key

    @staticmethod
    def _signature(key: bytes, kind: str, file_id: int, user_id: int, expires: int) -> str:
        # The kind is signed too: export 7 is not file 7.
        message = f"{kind}:{file_id}:user:{user_id}:expires:{expires}".encode()
        digest = hmac.new(key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    async def url(
        self,
        *,
        global_id: str,
        file_id: int,
        user_id: int,
        now: float | None = None,
        kind: str = "file",
    ) -> str:
        expires = int(now if now is not None else time.time()) + self.ttl_seconds
        signature = self._signature(await self._signing_key(), kind, file_id, user_id, expires)
        query = urlencode({"user": user_id, "expires": expires, "signature": signature})
        return f"{self._public_url}/files/{global_id}?{query}"

    @staticmethod
    def is_signed(parameters: Mapping[str, str]) -> bool:
        return any(name in parameters for name in ("signature", "expires", "user"))

    async def check(
        self,
        file_id: int,
        parameters: Mapping[str, str],
        now: float | None = None,
        kind: str = "file",
    ) -> SignedLink:
        """Who the link was made for, or LinkError saying what is wrong with it."""
        try:
            user_id = int(parameters["user"])
            expires = int(parameters["expires"])
            signature = parameters["signature"]
        except (KeyError, ValueError):
            raise LinkError(
                "The download link is incomplete; ask for a fresh downloadUrl"
            ) from None
        expected = self._signature(await self._signing_key(), kind, file_id, user_id, expires)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise LinkError(
                "The download link is not valid (it was altered, or made for another file)"
            )
        if expires <= (now if now is not None else time.time()):
            raise LinkError("The download link has expired; ask for a fresh downloadUrl")
        return SignedLink(user_id, expires)

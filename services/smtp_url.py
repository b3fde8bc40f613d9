"""Where mail goes: `CRM_SMTP_URL` read into its parts.

    smtp://[user[:password]@]host[:port]           plain SMTP (port 25)
    smtp://...?starttls=true                       upgraded with STARTTLS (port 587)
    smtps://[user[:password]@]host[:port]          TLS from the first byte (port 465)

User and password may be percent-encoded (`%40` for `@`). Nothing here ever shows the
password: messages name the URL without it.
"""

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
STARTTLS_PORT = 587
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False  # smtps://
    starttls: bool = False

    def describe(self) -> str:
        """The server as logs and errors may show it: no password."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        who = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        suffix = "?starttls=true" if self.starttls else ""
        return f"{scheme}://{who}{host}:{self.port}{suffix}"


def parse_smtp_url(url: str) -> SmtpTarget:
    """The parts of an SMTP URL, or ValueError saying what is wrong (without the URL)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError(
            "is not an SMTP address such as smtp://user:password@mail.example.com:587"
            "?starttls=true (the port must be a number up to 65535)"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(
            "must start with smtp:// (add ?starttls=true for STARTTLS) or smtps:// (TLS from "
            "the start), for example smtp://user:password@mail.example.com:587?starttls=true"
        )
    if not parts.hostname:
        raise ValueError("names no host, for example smtp://mail.example.com:25")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("must not have a path: smtp://[user:password@]host[:port][?starttls=true]")
    starttls = False
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name != "starttls":
            raise ValueError(f"knows no option {name!r}; the only one is ?starttls=true")
        if value.lower() not in _TRUE | _FALSE:
            raise ValueError("?starttls must be true or false")
        starttls = value.lower() in _TRUE
    if starttls and scheme == "smtps":
        raise ValueError("smtps:// is TLS from the start; ?starttls=true belongs to smtp:// only")
    if port is None:
        port = STARTTLS_PORT if starttls else DEFAULT_PORTS[scheme]
    if port == 0:
        raise ValueError("the port must be between 1 and 65535")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password and not user:
        raise ValueError("has a password but no user name: smtp://user:password@host")
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        user=user,
        password=password or None,
        implicit_tls=scheme == "smtps",
        starttls=starttls,
    )

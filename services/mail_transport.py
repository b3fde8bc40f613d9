"""Handing mails to the SMTP server with the `emails` package, and reading its answer.

`emails` (and smtplib under it) blocks, so the sender calls `SmtpConnection.send` in a thread.
One connection carries a batch of mails. Its answer for each mail is one of:
- accepted (250 after DATA): SENT;
- refused for good (a 5xx answer to MAIL, RCPT or DATA): FAILED, with the answer kept;
- anything else (4xx, no connection, TLS or login trouble, a dropped connection): try again
  later. Trouble with the server rather than with the mail also ends the batch (`broken`).

TLS certificates are verified (smtplib by itself would not), and the password never reaches a
message: errors are written from the server's answers, with the password masked should a
server echo it.
"""

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from enum import StrEnum
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from emails.backend.smtp.backend import SMTPBackend
from emails.backend.smtp.client import SMTPClientWithResponse, SMTPClientWithResponse_SSL
from emails.message import Message

from services.smtp_url import SmtpTarget

# Seconds smtplib waits for the server at each step (connect, each command, each reply).
SOCKET_TIMEOUT = 20
MAX_ERROR_LENGTH = 1000


@dataclass(frozen=True)
class OutgoingMail:
    """What the sender hands over: a claimed row of the outbox."""

    id: int
    to_address: str
    subject: str
    text_body: str
    html_body: str
    created_at: datetime
    attempts: int  # counting the one under way
    sensitive: bool


class Verdict(StrEnum):
    SENT = "SENT"
    RETRY = "RETRY"
    FAILED = "FAILED"


@dataclass(frozen=True)
class Delivery:
    verdict: Verdict
    error: str | None = None
    broken: bool = False  # the server, not the mail, is the trouble: end the batch


def message_id(mail: OutgoingMail, domain: str) -> str:
    """The same for every attempt at one mail, so a receiver can drop a second copy (one can
    arrive when the sender stopped after the server accepted the mail and before it noted
    so). The creation time tells apart mails of two databases that reuse ids."""
    return f"<outbox.{mail.id}.{mail.created_at:%Y%m%d%H%M%S%f}@{domain}>"


def host_of(public_url: str) -> str:
    """The service's name in SMTP greetings and Message-IDs: CRM_PUBLIC_URL's host."""
    host = urlsplit(public_url).hostname or "localhost"
    try:
        ip_address(host)
    except ValueError:
        return host
    return f"[{host}]"  # an address literal, as SMTP writes it


def verified_tls() -> ssl.SSLContext:
    """The system's trusted certificates (SSL_CERT_FILE may name others), host name checked."""
    return ssl.create_default_context()


class _PlainOrStartTls(SMTPClientWithResponse):
    def starttls(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        # `emails` asks for STARTTLS without a context, which smtplib then does not verify.
        kwargs["context"] = verified_tls()
        result: tuple[int, bytes] = super().starttls(**kwargs)
        return result


class _ImplicitTls(SMTPClientWithResponse_SSL):
    def __init__(self, **kwargs: Any) -> None:
        # Connects once, verified; the class it extends connects twice, unverified.
        self.context = verified_tls()
        SMTPClientWithResponse.__init__(self, **kwargs)  # type: ignore[no-untyped-call]


class _Backend(SMTPBackend):
    connection_cls = _PlainOrStartTls
    connection_ssl_cls = _ImplicitTls


class SmtpTransport:
    """The configured SMTP server. Opening a connection costs nothing until the first send."""

    def __init__(self, target: SmtpTarget, *, mail_from: str, public_url: str) -> None:
        self.target = target
        self.mail_from = mail_from
        self.host = host_of(public_url)

    def open(self) -> "SmtpConnection":
        backend = _Backend(
            ssl=self.target.implicit_tls,
            tls=self.target.starttls,
            host=self.target.host,
            port=self.target.port,
            user=self.target.user,
            password=self.target.password,
            timeout=SOCKET_TIMEOUT,
            local_hostname=self.host,
            fail_silently=True,
        )
        return SmtpConnection(self, backend)


class SmtpConnection:
    def __init__(self, transport: SmtpTransport, backend: SMTPBackend) -> None:
        self._transport = transport
        self._backend = backend

    def send(self, mail: OutgoingMail) -> Delivery:
        """Hand one mail to the server (blocking) and say what became of it."""
        transport = self._transport
        message = Message(
            subject=mail.subject,
            mail_from=parseaddr(transport.mail_from),
            text=mail.text_body or None,
            html=mail.html_body or None,
            message_id=message_id(mail, transport.host.strip("[]")),
            # RFC 3834: no out-of-office replies to a machine.
            headers={"Auto-Submitted": "auto-generated"},
        )
        try:
            response = message.send(to=mail.to_address, smtp=self._backend)
        except (smtplib.SMTPException, OSError) as exc:
            return self._judged(exc)
        if response is not None and response.success:
            return Delivery(Verdict.SENT)
        error = response.error if response is not None else None
        if error is None:
            code = response.status_code if response is not None else None
            return Delivery(Verdict.RETRY, self._masked(f"The server answered {code}"), True)
        return self._judged(error)

    def close(self) -> None:
        self._backend.close()

    def _judged(self, exc: BaseException) -> Delivery:
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            answers = list(exc.recipients.values())
            code, text = answers[0] if answers else (0, b"")
            return self._answered(code, text, "RCPT TO")
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return self._answered(exc.smtp_code, exc.smtp_error, "MAIL FROM")
        if isinstance(exc, smtplib.SMTPDataError):
            return self._answered(exc.smtp_code, exc.smtp_error, "DATA")
        # Not about this mail: connecting, TLS, logging in, or the connection dropped.
        where = self._transport.target.describe()
        if isinstance(exc, smtplib.SMTPResponseException):
            reply = _text(exc.smtp_error)
            message = f"{where} answered {exc.smtp_code} {reply}"
        elif isinstance(exc, smtplib.SMTPServerDisconnected):
            message = f"{where} closed the connection: {exc}"
        else:
            reason = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
            message = f"Could not reach {where}: {reason}"
        return Delivery(Verdict.RETRY, self._masked(message), broken=True)

    def _answered(self, code: int, reply: bytes | str, command: str) -> Delivery:
        message = self._masked(f"{code} {_text(reply)} (the answer to {command})")
        if 500 <= code < 600:
            return Delivery(Verdict.FAILED, message)
        return Delivery(Verdict.RETRY, message)

    def _masked(self, message: str) -> str:
        password = self._transport.target.password
        if password:
            message = message.replace(password, "***")
        return message[:MAX_ERROR_LENGTH]


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())

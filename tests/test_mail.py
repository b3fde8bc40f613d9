"""Mail through the outbox, against a real SMTP server on loopback (aiosmtpd): what each mail
says, delivery exactly once through outages, refusals and several senders, the daily digest,
mail kept without SMTP, TLS, secrets kept out of logs, and the admins' outbox API.

Tests that look at delivery pause the app's own sender and drive one pass at a time with
`deliver_due(now=...)`, so retries fall due without waiting; tests of the running sender wait on
the SMTP handler's event."""

import asyncio
import email
import email.policy
import ipaddress
import logging
import random
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select, text, update
from sqlmodel import SQLModel

from models.contacts import Contact
from models.mail import MailKind, OutboundMail
from models.todos import Todo, TodoStatus
from models.types import utcnow
from models.users import User
from server import create_app
from services.ids import decode_id, encode_id
from services.mail import queue_mail, queue_todo_assigned
from services.mail_sender import KEPT, MailSender, retry_delay
from services.mail_templates import one_line
from services.settings import SettingsError, load_settings
from tests.conftest import Api, settings_for
from tests.helpers import create_category, create_contact, mutation, my_id

PUBLIC_URL = "https://crm.example.com"
MAIL_TABLE = SQLModel.metadata.tables["outbound_mail"]
TIME_ZONE = "Europe/Stockholm"
MAIL_FROM = "Example CRM <crm@example.com>"
WAIT_SECONDS = 20  # a guard against a hang, not a pause: waits end when the mail arrives

OUTBOX = """query($state: MailState, $first: Int, $after: String) {
  outboundMails(state: $state, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id kind to subject state attempts lastError createdAt sentAt nextAttemptAt } } }"""
MAIL_RETRY = mutation(
    "mailRetry", "MailRetryInput", "outboundMail { id state attempts lastError nextAttemptAt }"
)
INVITE = mutation("userInvite", "UserInviteInput", "token")
RESET = mutation("userPasswordReset", "UserPasswordResetInput", "token")
USER_UPDATE = mutation("userUpdate", "UserUpdateInput", "user { id active }")


# --- a real SMTP server on loopback --------------------------------------------------------------


class Recorder:
    """An aiosmtpd handler that keeps every message it accepts and answers DATA as told:
    the answers in `refusals` first, one per message, then 250."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.attempted_ids: list[str] = []  # Message-IDs of every DATA, refused ones included
        self.refusals: list[str] = []
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.attempted_ids.append(str(message["Message-ID"]))
            if self.refusals:
                return self.refusals.pop(0)
            self.messages.append(message)
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
            for loop, event in self._waiters:
                loop.call_soon_threadsafe(event.set)
        return "250 Message accepted"

    async def wait_for(self, count: int) -> None:
        """Until `count` messages arrived (an event the handler sets, no polling)."""
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters.append(waiter)
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                while True:
                    with self._lock:
                        if len(self.messages) >= count:
                            return
                        event.clear()
                    await event.wait()
        finally:
            with self._lock:
                self._waiters.remove(waiter)

    def with_subject(self, start: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if str(m["Subject"]).startswith(start)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class SmtpServer:
    recorder: Recorder = field(default_factory=Recorder)
    port: int = field(default_factory=free_port)
    options: dict[str, Any] = field(default_factory=dict)
    controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(
            self.recorder, hostname="127.0.0.1", port=self.port, **self.options
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings_overrides(smtp: SmtpServer) -> dict[str, Any]:
    return {
        "smtp_url": smtp.url,
        "public_url": PUBLIC_URL,
        "time_zone": TIME_ZONE,
        "mail_from": MAIL_FROM,
    }


@pytest.fixture
async def sender(admin: Api) -> MailSender:
    """The app's sender, no longer looking for mail by itself: the test drives each pass."""
    mail = admin.resources.mail
    await mail.pause()
    return mail


@pytest.fixture
async def second_app(
    admin: Api, database_url: str, settings_overrides: dict[str, Any]
) -> AsyncIterator[MailSender]:
    """Another worker on the same database (its own app, engine and sender), paused."""
    app = create_app(settings_for(database_url, **settings_overrides))
    async with app.router.lifespan_context(app):
        other: MailSender = app.state.resources.mail
        await other.pause()
        yield other


# --- helpers -------------------------------------------------------------------------------------


async def queue(api: Api, count: int = 1, *, kind: MailKind = MailKind.TODO_ASSIGNED) -> list[int]:
    """Mails written straight into the outbox, as any worker's change would."""
    ids = []
    async with api.resources.session_factory() as session:
        for n in range(count):
            mail = await queue_mail(
                session,
                kind=kind,
                to_address=f"person{n}@example.com",
                to_user_id=None,
                subject=f"Mail {n}",
                text=f"Body {n}",
                html=f"<p>Body {n}</p>",
            )
            assert mail is not None
            assert mail.id is not None
            ids.append(mail.id)
        await session.commit()
    return ids


async def outbox(api: Api) -> list[dict[str, Any]]:
    """Every row of the outbox, oldest first, as stored."""
    async with api.engine.connect() as connection:
        rows = await connection.execute(select(MAIL_TABLE).order_by(MAIL_TABLE.c.id))
        return [dict(row._mapping) for row in rows]


async def row_of(api: Api, mail_id: int) -> dict[str, Any]:
    (row,) = [row for row in await outbox(api) if row["id"] == mail_id]
    return row


def later(**delta: float) -> datetime:
    return utcnow() + timedelta(**delta)


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    content: str = part.get_content()
    return content


async def add_member(api: Api, email_address: str, name: str) -> tuple[str, int]:
    token = await api.add_user(email_address, "MEMBER", name)
    return token, decode_id(await my_id(api, token), "User")


# --- mails people get ----------------------------------------------------------------------------


async def test_an_invitation_is_mailed_at_once_with_its_token_and_what_to_do(
    admin: Api, smtp: SmtpServer
) -> None:
    data = await admin.ok(INVITE, {"input": {"email": "bea@example.com", "role": "MEMBER"}})
    token = data["userInvite"]["token"]
    assert token  # the admin still gets it too

    await smtp.recorder.wait_for(1)  # the commit woke the running sender
    (message,) = smtp.recorder.messages
    assert smtp.recorder.envelopes == [("crm@example.com", ["bea@example.com"])]
    assert message["To"] == "bea@example.com"
    assert message["From"] == MAIL_FROM
    assert message["Subject"] == "Ada Admin invited you to the CRM"
    assert message["Auto-Submitted"] == "auto-generated"
    text_body, html_body = body(message, "plain"), body(message, "html")
    for content in (text_body, html_body):
        assert token in content
        assert f"{PUBLIC_URL}/graphql" in content
        assert "signUp" in content
        assert "invitationToken" in content
    assert "bea@example.com" in text_body

    await admin.resources.mail.pause()  # lets the pass in flight note what it did
    (row,) = await outbox(admin)
    assert (
        message["Message-ID"]
        == f"<outbox.{row['id']}.{row['created_at']:%Y%m%d%H%M%S%f}@crm.example.com>"
    )
    assert row["kind"] == "INVITATION"
    assert row["state"] == "SENT"
    assert row["attempts"] == 1
    assert row["sensitive"] is True
    # The token is no longer kept once the mail went out.
    assert (row["text_body"], row["html_body"]) == ("", "")


async def test_a_password_reset_is_mailed_with_its_token(
    admin: Api, sender: MailSender, smtp: SmtpServer
) -> None:
    _, member_id = await add_member(admin, "cy@example.com", "Cy Member")
    data = await admin.ok(RESET, {"input": {"id": encode_id("User", member_id)}})
    token = data["userPasswordReset"]["token"]

    report = await sender.deliver_due()
    assert report.sent == 2  # the invitation, then the reset
    (message,) = smtp.recorder.with_subject("Set a new password")
    assert message["To"] == "cy@example.com"
    for content in (body(message, "plain"), body(message, "html")):
        assert token in content
        assert "passwordReset" in content
        assert f"{PUBLIC_URL}/graphql" in content
    assert "Hello Cy Member" in body(message, "plain")
    reset = [row for row in await outbox(admin) if row["kind"] == "PASSWORD_RESET"]
    assert [(r["to_user_id"], r["state"], r["text_body"], r["html_body"]) for r in reset] == [
        (member_id, "SENT", "", "")
    ]


async def insert_todo(api: Api, **columns: Any) -> Todo:
    async with api.resources.session_factory() as session:
        todo = Todo(**columns)
        session.add(todo)
        await session.commit()
    return todo


async def test_an_assigned_todo_is_mailed_with_the_card_due_date_priority_and_link(
    admin: Api, sender: MailSender, smtp: SmtpServer
) -> None:
    _, member_id = await add_member(admin, "dan@example.com", "Dan <Member>")
    admin_id = decode_id(await my_id(admin), "User")
    category = await create_category(admin, "customers")
    card = await create_contact(admin, category["id"], "Smith & <Sons>")
    card_id = decode_id(card["id"], "Contact")
    settings = admin.resources.settings

    async with admin.resources.session_factory() as session:
        contact = await session.get(Contact, card_id)
        assignee, assigner = await session.get(User, member_id), await session.get(User, admin_id)
        assert contact
        assert assignee
        assert assigner
        moment = Todo(
            contact_id=card_id,
            title="Send the <offer>",
            description="Prices & terms as discussed",
            due_at=datetime(2026, 6, 5, 12, 30, tzinfo=UTC),
            priority="HIGH",
            assignee_id=member_id,
            created_by_id=admin_id,
        )
        day = Todo(
            contact_id=card_id,
            title="Call back",
            due_date=date(2026, 6, 5),
            assignee_id=member_id,
            created_by_id=admin_id,
        )
        mine = Todo(contact_id=card_id, title="Mine", assignee_id=admin_id, created_by_id=admin_id)
        session.add_all([moment, day, mine])
        await session.flush()
        for todo, to in ((moment, assignee), (day, assignee), (mine, assigner)):
            await queue_todo_assigned(
                session, settings, todo=todo, contact=contact, assignee=to, assigned_by=assigner
            )
        await session.commit()

    await sender.deliver_due()
    offer, call = smtp.recorder.with_subject("To-do for you: ")
    assert offer["Subject"] == "To-do for you: Send the <offer>"
    assert offer["To"] == "dan@example.com"
    text_body = body(offer, "plain")
    assert "Hello Dan <Member>" in text_body
    assert "Ada Admin assigned a to-do to you on the card Smith & <Sons>" in text_body
    assert "Due: Friday 5 June 2026, 14:30 (Europe/Stockholm)" in text_body  # 12:30 UTC
    assert "Priority: High" in text_body
    assert "Prices & terms as discussed" in text_body
    assert f"Open it in the CRM: {PUBLIC_URL}/graphql (the card's ID: {card['id']})" in text_body
    html_body = body(offer, "html")
    assert "Smith &amp; &lt;Sons&gt;" in html_body
    assert "<Sons>" not in html_body
    assert "Send the &lt;offer&gt;" in html_body
    assert "Dan &lt;Member&gt;" in html_body
    assert f'<a href="{PUBLIC_URL}/graphql">Open it in the CRM</a>' in html_body
    assert card["id"] in html_body
    # A to-do due on a date is due on that date of CRM_TIME_ZONE, shown as it is.
    assert "Due: Friday 5 June 2026\n" in body(call, "plain")
    # Nobody is mailed about a to-do they assigned to themselves.
    assigned = [r for r in await outbox(admin) if r["kind"] == "TODO_ASSIGNED"]
    assert [(r["to_user_id"], r["state"]) for r in assigned] == [(member_id, "SENT")] * 2
    # An ordinary mail keeps its bodies after sending.
    assert all(r["text_body"] and r["html_body"] for r in assigned)


# --- delivery through trouble --------------------------------------------------------------------


async def test_a_server_that_is_down_gets_the_mail_once_it_is_up(
    admin: Api, sender: MailSender, smtp: SmtpServer
) -> None:
    smtp.stop()
    (mail_id,) = await queue(admin)
    before = utcnow()
    report = await sender.deliver_due()
    assert (report.sent, report.retried) == (0, 1)
    row = await row_of(admin, mail_id)
    assert row["state"] == "PENDING"
    assert row["attempts"] == 1
    assert row["lease_until"] is None
    assert row["last_error"].startswith("Could not reach smtp://127.0.0.1:")
    assert "refused" in row["last_error"].lower()
    # Backoff with jitter: 24 to 30 seconds after the first failure.
    wait = row["next_attempt_at"] - before
    assert timedelta(seconds=23) < wait <= timedelta(seconds=31)

    smtp.start()
    assert (await sender.deliver_due()).sent == 0  # not due yet
    assert (await sender.deliver_due(now=later(minutes=1))).sent == 1
    assert (await sender.deliver_due(now=later(hours=5))).sent == 0
    assert len(smtp.recorder.messages) == 1
    row = await row_of(admin, mail_id)
    assert (row["state"], row["attempts"], row["last_error"]) == ("SENT", 2, None)
    assert row["sent_at"] is not None


async def test_a_4xx_answer_is_retried_and_the_mail_delivered_once(
    admin: Api, sender: MailSender, smtp: SmtpServer
) -> None:
    smtp.recorder.refusals = ["451 4.3.0 Try again later", "452 4.3.1 Out of room"]
    (mail_id,) = await queue(admin)
    assert (await sender.deliver_due()).retried == 1
    row = await row_of(admin, mail_id)
    assert row["attempts"] == 1
    assert row["state"] == "PENDING"
    assert row["last_error"] == "451 4.3.0 Try again later (the answer to DATA)"

    assert (await sender.deliver_due(now=later(minutes=1))).retried == 1
    row = await row_of(admin, mail_id)
    assert row["attempts"] == 2
    assert row["last_error"].startswith("452 4.3.1")
    assert row["next_attempt_at"] > later(seconds=47)  # the delay doubled

    assert (await sender.deliver_due(now=later(minutes=5))).sent == 1
    assert (await sender.deliver_due(now=later(hours=5))).sent == 0
    assert len(smtp.recorder.messages) == 1
    row = await row_of(admin, mail_id)
    assert (row["state"], row["attempts"], row["last_error"]) == ("SENT", 3, None)
    # Every attempt carried the same Message-ID, so a receiver can drop a copy.
    assert len(set(smtp.recorder.attempted_ids)) == 1
    assert len(smtp.recorder.attempted_ids) == 3


async def test_a_5xx_answer_fails_the_mail_and_mail_retry_sends_it_once(
    admin: Api, sender: MailSender, smtp: SmtpServer
) -> None:
    smtp.recorder.refusals = ["550 5.1.1 No such user here"]
    (mail_id,) = await queue(admin)
    assert (await sender.deliver_due()).failed == 1
    row = await row_of(admin, mail_id)
    assert row["state"] == "FAILED"
    assert row["attempts"] == 1
    assert row["last_error"] == "550 5.1.1 No such user here (the answer to DATA)"
    assert (await sender.deliver_due(now=later(days=2))).sent == 0  # failed stays failed

    global_id = encode_id("OutboundMail", mail_id)
    data = await admin.ok(MAIL_RETRY, {"input": {"id": global_id}})
    retried = data["mailRetry"]["outboundMail"]
    assert retried["id"] == global_id
    assert retried["state"] == "PENDING"
    assert retried["attempts"] == 1
    assert retried["lastError"].startswith("550")
    assert retried["nextAttemptAt"] is not None

    assert (await sender.deliver_due()).sent == 1  # due at once
    assert (await sender.deliver_due(now=later(days=1))).sent == 0
    assert len(smtp.recorder.messages) == 1
    row = await row_of(admin, mail_id)
    assert (row["state"], row["attempts"]) == ("SENT", 2)


async def test_a_refused_recipient_is_judged_by_the_answer_code(
    admin: Api, sender: MailSender, smtp: SmtpServer
) -> None:
    class RefusingRecipients(Recorder):
        async def handle_RCPT(
            self,
            _server: SMTP,
            _session: Session,
            envelope: Envelope,
            address: str,
            _options: list[str],
        ) -> str:
            if address.startswith("person0"):
                return "450 4.2.1 Mailbox busy"
            if address.startswith("person1"):
                return "550 5.1.1 Unknown mailbox"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    smtp.stop()
    smtp.recorder = RefusingRecipients()
    smtp.start()
    await queue(admin, 3)
    report = await sender.deliver_due()
    assert (report.sent, report.retried, report.failed) == (1, 1, 1)
    assert [(r["state"], r["last_error"]) for r in await outbox(admin)] == [
        ("PENDING", "450 4.2.1 Mailbox busy (the answer to RCPT TO)"),
        ("FAILED", "550 5.1.1 Unknown mailbox (the answer to RCPT TO)"),
        ("SENT", None),
    ]
    assert smtp.recorder.envelopes == [("crm@example.com", ["person2@example.com"])]


async def test_two_workers_deliver_every_mail_exactly_once(
    admin: Api, sender: MailSender, second_app: MailSender, smtp: SmtpServer
) -> None:
    ids = await queue(admin, 40)
    sender.batch_size = second_app.batch_size = 3  # many small claims that interleave
    reports = await asyncio.gather(
        sender.deliver_due(),
        second_app.deliver_due(),
        sender.deliver_due(),
        second_app.deliver_due(),
    )
    assert sum(report.sent for report in reports) == 40
    assert sorted(to[0] for _, to in smtp.recorder.envelopes) == sorted(
        f"person{n}@example.com" for n in range(40)
    )
    assert len(set(smtp.recorder.attempted_ids)) == 40
    assert {r["id"]: r["state"] for r in await outbox(admin)} == dict.fromkeys(ids, "SENT")
    again = await asyncio.gather(
        sender.deliver_due(later(hours=2)), second_app.deliver_due(later(hours=2))
    )
    assert [report.sent for report in again] == [0, 0]


async def test_a_mail_leased_by_another_worker_is_left_to_it_until_its_lease_ends(
    admin: Api, sender: MailSender, smtp: SmtpServer
) -> None:
    (mail_id,) = await queue(admin)
    async with admin.engine.begin() as connection:  # a worker that claimed it, then died
        await connection.execute(
            update(OutboundMail).values(lease_until=later(minutes=10), attempts=1)
        )
    assert (await sender.deliver_due()).sent == 0
    assert (await sender.deliver_due(now=later(minutes=11))).sent == 1
    assert (await row_of(admin, mail_id))["attempts"] == 2


async def test_the_running_sender_finds_mail_other_workers_wrote(
    admin: Api, sender: MailSender, smtp: SmtpServer
) -> None:
    # No signal reaches this process for mail another one wrote: the sender polls.
    polling = MailSender(
        admin.resources.settings, admin.resources.session_factory, poll_seconds=0.05
    )
    polling.start()
    try:
        await queue(admin)
        await smtp.recorder.wait_for(1)
    finally:
        await polling.stop()


class Holding(Recorder):
    """Holds the first message at DATA until the test lets it go."""

    def __init__(self, arrived: asyncio.Event) -> None:
        super().__init__()
        self.gate = threading.Event()
        self._arrived = arrived
        self._loop = asyncio.get_running_loop()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not self.gate.is_set():
            self._loop.call_soon_threadsafe(self._arrived.set)
            self.gate.wait(WAIT_SECONDS)
        return await super().handle_DATA(server, session, envelope)


async def test_stopping_notes_the_mail_in_flight_and_leaves_the_rest(
    admin: Api, smtp: SmtpServer
) -> None:
    arrived = asyncio.Event()
    smtp.stop()
    smtp.recorder = Holding(arrived)
    smtp.start()
    ids = await queue(admin, 5)
    running = admin.resources.mail
    running.wake()
    async with asyncio.timeout(WAIT_SECONDS):
        await arrived.wait()  # the running sender is in the middle of the first mail

    async def let_it_go() -> None:
        assert isinstance(smtp.recorder, Holding)
        smtp.recorder.gate.set()

    # pause() starts first: the sender sees it is stopping before it would take the next mail.
    await asyncio.gather(running.pause(), let_it_go())
    rows = await outbox(admin)
    assert [(r["state"], r["attempts"], r["lease_until"]) for r in rows] == [
        ("SENT", 1, None),
        *[("PENDING", 0, None)] * 4,
    ]
    assert (await running.deliver_due()).sent == 4  # the next sender takes the rest at once
    assert sorted(to[0] for _, to in smtp.recorder.envelopes) == [
        f"person{n}@example.com" for n in range(5)
    ]
    assert [r["state"] for r in await outbox(admin)] == ["SENT"] * len(ids)


def test_backoff_grows_with_jitter_and_stays_bounded() -> None:
    rng = random.Random(1)
    for attempts, low, high in (
        (1, 24, 30),
        (2, 48, 60),
        (3, 96, 120),
        (12, 2880, 3600),
        (40, 2880, 3600),
    ):
        delays = [retry_delay(attempts, rng).total_seconds() for _ in range(50)]
        assert all(low <= d <= high for d in delays), (attempts, min(delays), max(delays))
        assert len(set(delays)) > 1  # jitter


# --- the daily digest ----------------------------------------------------------------------------

# 05:30 UTC is 07:30 in Stockholm (summer time): past the default CRM_DIGEST_HOUR of 7.
DIGEST_NOW = datetime(2026, 6, 5, 5, 30, tzinfo=UTC)


async def digest_scene(api: Api) -> dict[str, int]:
    """Users with to-dos around the morning of 5 June 2026 in Stockholm."""
    admin_id = decode_id(await my_id(api), "User")
    _, eve = await add_member(api, "eve@example.com", "Eve Member")
    _, fay = await add_member(api, "fay@example.com", "Fay Member")
    _, gus = await add_member(api, "gus@example.com", "Gus Gone")
    await api.ok(USER_UPDATE, {"input": {"id": encode_id("User", gus), "active": False}})
    category = await create_category(api, "customers")
    acme = decode_id((await create_contact(api, category["id"], "Acme"))["id"], "Contact")
    binned = decode_id((await create_contact(api, category["id"], "Binned"))["id"], "Contact")
    async with api.engine.begin() as connection:
        await connection.execute(
            text("UPDATE contact SET deleted_at = created_at WHERE id = :id"), {"id": binned}
        )
    todo = {"created_by_id": admin_id, "contact_id": acme}
    for title, assignee, due in (
        ("Overdue by date", eve, date(2026, 6, 3)),
        ("Due today by date", eve, date(2026, 6, 5)),
        ("Overdue this morning", eve, datetime(2026, 6, 5, 4, 0, tzinfo=UTC)),  # 06:00 local
        ("Late tonight", eve, datetime(2026, 6, 5, 21, 30, tzinfo=UTC)),  # 23:30 local
        ("Just after midnight", eve, datetime(2026, 6, 5, 22, 30, tzinfo=UTC)),  # 00:30 on the 6th
        ("Tomorrow", fay, date(2026, 6, 6)),
        ("Gone's", gus, date(2026, 6, 4)),
    ):
        moment = {"due_date": due} if type(due) is date else {"due_at": due}
        await insert_todo(api, title=title, assignee_id=assignee, **todo, **moment)
    await insert_todo(
        api,
        title="Done already",
        assignee_id=eve,
        status=TodoStatus.DONE,
        due_date=date(2026, 6, 1),
        **todo,
    )
    await insert_todo(
        api,
        title="On a binned card",
        assignee_id=eve,
        due_date=date(2026, 6, 1),
        created_by_id=admin_id,
        contact_id=binned,
    )
    return {"eve": eve, "fay": fay, "gus": gus}


def digests(rows: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(r["to_user_id"], r["dedupe_key"]) for r in rows if r["kind"] == "DIGEST"]


async def test_the_digest_is_queued_once_per_user_per_day_whatever_the_workers(
    admin: Api, sender: MailSender, second_app: MailSender, smtp: SmtpServer
) -> None:
    people = await digest_scene(admin)
    eve = people["eve"]
    before_the_hour = datetime(2026, 6, 5, 4, 59, tzinfo=UTC)  # 06:59 local
    assert await sender.queue_digests(before_the_hour) == 0

    counts = await asyncio.gather(
        sender.queue_digests(DIGEST_NOW), second_app.queue_digests(DIGEST_NOW)
    )
    assert sum(counts) == 1
    # Workers that restarted (and so forget they did it) find it written.
    for _ in range(2):
        fresh = MailSender(admin.resources.settings, admin.resources.session_factory)
        assert await fresh.queue_digests(DIGEST_NOW + timedelta(hours=3)) == 0
    assert digests(await outbox(admin)) == [(eve, f"digest:{eve}:2026-06-05")]

    await sender.deliver_due()
    (message,) = smtp.recorder.with_subject("Your to-dos")
    assert message["To"] == "eve@example.com"
    assert message["Subject"] == "Your to-dos for Friday 5 June 2026: 2 overdue, 2 due today"
    text_body = body(message, "plain")
    listed = [
        line.strip()
        for line in text_body.splitlines()
        if line.startswith(("  - ", "Overdue", "Due today"))
    ]
    assert listed == [
        "Overdue:",
        "- Overdue by date (Acme), due Wednesday 3 June 2026, priority Normal",
        "- Overdue this morning (Acme), due Friday 5 June 2026, 06:00 (Europe/Stockholm), priority Normal",
        "Due today:",
        "- Late tonight (Acme), due Friday 5 June 2026, 23:30 (Europe/Stockholm), priority Normal",
        "- Due today by date (Acme), due Friday 5 June 2026, priority Normal",
    ]
    assert "<li><b>Overdue by date</b> (Acme)" in body(message, "html")

    next_day = DIGEST_NOW + timedelta(days=1)
    assert await second_app.queue_digests(next_day) == 2  # Fay's to-do is due now too
    assert sorted(digests(await outbox(admin))) == sorted(
        [
            (eve, f"digest:{eve}:2026-06-05"),
            (eve, f"digest:{eve}:2026-06-06"),
            (people["fay"], f"digest:{people['fay']}:2026-06-06"),
        ]
    )


async def test_the_running_sender_checks_the_digest_at_most_once_a_minute(
    admin: Api, sender: MailSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[datetime | None] = []

    async def check(now: datetime | None = None) -> int:
        checked.append(now)
        return 0

    monkeypatch.setattr(sender, "queue_digests", check)
    started = utcnow()  # just after the app started its sender
    for seconds in (0, 30, 61, 90, 119, 122):
        await sender.run_once(started + timedelta(seconds=seconds))
    assert checked == [started + timedelta(seconds=61), started + timedelta(seconds=122)]


# --- without an SMTP server ----------------------------------------------------------------------


@pytest.mark.parametrize("settings_overrides", [{"public_url": PUBLIC_URL}])
async def test_without_smtp_mails_are_kept_and_logged_once(
    admin: Api,
    sender: MailSender,
    caplog: pytest.LogCaptureFixture,
    database_url: str,
    smtp: SmtpServer,
) -> None:
    assert sender.transport is None
    data = await admin.ok(INVITE, {"input": {"email": "hal@example.com", "role": "MEMBER"}})
    token = data["userInvite"]["token"]
    invitation_id = (await outbox(admin))[0]["id"]
    (plain_id,) = await queue(admin)

    with caplog.at_level(logging.INFO, logger="crm.mail"):
        assert (await sender.deliver_due()).kept == 2
        assert (await sender.deliver_due(now=later(days=1))).kept == 0  # logged once each
    kept = [r.getMessage() for r in caplog.records if "kept, not sent" in r.getMessage()]
    assert len(kept) == 2
    assert f"#{invitation_id} to hal@example.com" in kept[0]
    assert "Ada Admin invited you" in kept[0]
    assert token not in caplog.text  # a sensitive mail is logged without its bodies
    assert f"#{plain_id} to person0@example.com" in kept[1]
    assert "Body 0" in kept[1]
    for row in await outbox(admin):
        assert (row["state"], row["attempts"], row["last_error"]) == ("PENDING", 0, KEPT)
        assert row["text_body"]  # kept to be sent later

    # Once an SMTP server is configured, they go out.
    app = create_app(settings_for(database_url, smtp_url=smtp.url, public_url=PUBLIC_URL))
    async with app.router.lifespan_context(app):
        configured: MailSender = app.state.resources.mail
        await configured.pause()
        assert (await configured.deliver_due()).sent == 2
    assert len(smtp.recorder.messages) == 2


# --- TLS and secrets -----------------------------------------------------------------------------

SECRET = "s3cret p@ss/word"


@dataclass
class Certificates:
    authority: Path
    chain: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.chain, self.key)
        return context


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A certificate authority of the test's own and a server certificate for 127.0.0.1."""
    directory = tmp_path_factory.mktemp("tls")
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test mail CA")])
    authority = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths.authority.write_bytes(authority.public_bytes(pem))
    paths.chain.write_bytes(server.public_bytes(pem))
    paths.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def check_login(
    _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
) -> AuthResult:
    good = isinstance(data, LoginPassword) and data == (b"crm", SECRET.encode())
    return AuthResult(success=good, handled=False)


def tls_sender(api: Api, url: str) -> MailSender:
    settings = settings_for(
        api.resources.settings.database_url, smtp_url=url, public_url=PUBLIC_URL
    )
    return MailSender(settings, api.resources.session_factory)


@pytest.fixture
def trusting(monkeypatch: pytest.MonkeyPatch, certificates: Certificates) -> Certificates:
    """The test's authority stands in for the system's trusted certificates."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.authority))
    return certificates


async def test_starttls_with_a_login_delivers(
    admin: Api, sender: MailSender, trusting: Certificates, caplog: pytest.LogCaptureFixture
) -> None:
    server = SmtpServer(
        options={
            "tls_context": trusting.server_context(),
            "require_starttls": True,
            "authenticator": check_login,
            "auth_required": True,
        }
    )
    server.start()
    try:
        good = f"smtp://crm:{quote(SECRET, safe='')}@127.0.0.1:{server.port}?starttls=true"
        bad = f"smtp://crm:{quote('wrong' + SECRET, safe='')}@127.0.0.1:{server.port}?starttls=true"
        with caplog.at_level(logging.DEBUG):
            (mail_id,) = await queue(admin)
            assert (await tls_sender(admin, bad).deliver_due()).retried == 1
            row = await row_of(admin, mail_id)
            # A login the server refuses is trouble with the server, not the mail: retried.
            assert row["state"] == "PENDING"
            assert row["last_error"].startswith(
                f"smtp://crm@127.0.0.1:{server.port}?starttls=true answered 535"
            )
            assert (await tls_sender(admin, good).deliver_due(now=later(minutes=1))).sent == 1
        assert len(server.recorder.messages) == 1
        assert SECRET not in caplog.text
        assert quote(SECRET, safe="") not in caplog.text
        assert SECRET not in row["last_error"]
    finally:
        server.stop()


async def test_smtps_delivers_over_verified_tls(
    admin: Api, sender: MailSender, trusting: Certificates
) -> None:
    server = SmtpServer(options={"ssl_context": trusting.server_context()})
    server.start()
    try:
        await queue(admin)
        url = f"smtps://127.0.0.1:{server.port}"
        assert (await tls_sender(admin, url).deliver_due()).sent == 1
        assert len(server.recorder.messages) == 1
    finally:
        server.stop()


async def test_a_certificate_nobody_vouches_for_is_refused(
    admin: Api, sender: MailSender, certificates: Certificates
) -> None:
    server = SmtpServer(options={"ssl_context": certificates.server_context()})
    server.start()
    try:
        (mail_id,) = await queue(admin)
        assert (
            await tls_sender(admin, f"smtps://127.0.0.1:{server.port}").deliver_due()
        ).retried == 1
        assert "CERTIFICATE_VERIFY_FAILED" in (await row_of(admin, mail_id))["last_error"]
        assert server.recorder.messages == []
    finally:
        server.stop()


async def test_smtp_passwords_stay_out_of_logs_errors_and_settings(
    admin: Api, sender: MailSender, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens there
    url = f"smtp://crm:{quote(SECRET, safe='')}@127.0.0.1:{port}"
    with caplog.at_level(logging.DEBUG):
        (mail_id,) = await queue(admin)
        down = tls_sender(admin, url)
        down.start()
        await down.stop()
        assert (await down.deliver_due()).retried == 1
    error = (await row_of(admin, mail_id))["last_error"]
    assert error.startswith(f"Could not reach smtp://crm@127.0.0.1:{port}:")
    for shown in (caplog.text, error, repr(down.settings), str(down.settings.model_dump())):
        assert SECRET not in shown
        assert quote(SECRET, safe="") not in shown
    with pytest.raises(SettingsError) as refused:
        load_settings(smtp_url=f"http://crm:{quote(SECRET, safe='')}@mail.example.com")
    assert "CRM_SMTP_URL: must start with smtp://" in str(refused.value)
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("smtp://mail.example.com:99999", "the port must be a number"),
        ("smtps://mail.example.com?starttls=true", "belongs to smtp:// only"),
        ("smtp://mail.example.com?tls=1", "knows no option 'tls'"),
        ("smtp://:secret@mail.example.com", "has a password but no user name"),
    ],
)
def test_a_bad_smtp_url_is_refused_naming_the_setting(url: str, message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(smtp_url=url)
    assert "CRM_SMTP_URL" in str(refused.value)
    assert message in str(refused.value)
    assert "secret" not in str(refused.value)


def test_mail_settings_have_defaults_and_checks() -> None:
    settings = load_settings()
    assert settings.smtp_url is None
    assert settings.digest_hour == 7
    assert load_settings(smtp_url="").smtp_url is None
    with pytest.raises(SettingsError, match="CRM_MAIL_FROM"):
        load_settings(mail_from="nobody")
    with pytest.raises(SettingsError, match="CRM_DIGEST_HOUR"):
        load_settings(digest_hour=24)


# --- the outbox API ------------------------------------------------------------------------------


async def test_admins_list_the_outbox_newest_first_by_state_and_page(
    admin: Api, sender: MailSender, smtp: SmtpServer
) -> None:
    ids = await queue(admin, 5)
    smtp.recorder.refusals = ["550 5.7.1 Not allowed"]
    await sender.deliver_due()  # the first fails, the rest go out
    data = await admin.ok(OUTBOX, {"first": 2})
    listed = data["outboundMails"]
    assert listed["totalCount"] == 5
    assert listed["pageInfo"]["hasNextPage"] is True
    assert [node["subject"] for node in listed["nodes"]] == ["Mail 4", "Mail 3"]
    newest = listed["nodes"][0]
    assert newest["id"] == encode_id("OutboundMail", ids[4])
    assert (newest["kind"], newest["to"], newest["state"], newest["attempts"]) == (
        "TODO_ASSIGNED",
        "person4@example.com",
        "SENT",
        1,
    )
    assert newest["sentAt"] is not None
    assert newest["nextAttemptAt"] is None
    rest = await admin.ok(OUTBOX, {"first": 10, "after": listed["pageInfo"]["endCursor"]})
    assert [n["subject"] for n in rest["outboundMails"]["nodes"]] == ["Mail 2", "Mail 1", "Mail 0"]
    assert rest["outboundMails"]["pageInfo"]["hasNextPage"] is False

    failed = (await admin.ok(OUTBOX, {"state": "FAILED"}))["outboundMails"]
    assert failed["totalCount"] == 1
    (node,) = failed["nodes"]
    assert (node["subject"], node["lastError"]) == (
        "Mail 0",
        "550 5.7.1 Not allowed (the answer to DATA)",
    )
    # node(id:) shows admins a mail too.
    shown = await admin.ok(
        "query($id: ID!) { node(id: $id) { ... on OutboundMail { subject state } } }",
        {"id": node["id"]},
    )
    assert shown["node"] == {"subject": "Mail 0", "state": "FAILED"}


async def test_listing_the_outbox_costs_the_same_statements_for_any_page_size(
    admin: Api, sender: MailSender
) -> None:
    await queue(admin, 30)
    small = await admin.count_statements(OUTBOX, {"first": 2})
    large = await admin.count_statements(OUTBOX, {"first": 30})
    assert small == large <= 4  # who asks, the page, its total


async def test_non_admins_can_neither_list_nor_retry(admin: Api, sender: MailSender) -> None:
    member, _ = await add_member(admin, "ivy@example.com", "Ivy Member")
    (mail_id,) = await queue(admin)
    global_id = encode_id("OutboundMail", mail_id)
    for query, variables in ((OUTBOX, {}), (MAIL_RETRY, {"input": {"id": global_id}})):
        (error,) = await admin.errors(query, variables, token=member)
        assert error["extensions"]["code"] == "FORBIDDEN"
        (error,) = await admin.errors(query, variables, token="")
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
    hidden = await admin.ok(
        "query($id: ID!) { node(id: $id) { id } }", {"id": global_id}, token=member
    )
    assert hidden["node"] is None


async def test_mail_retry_refuses_what_it_cannot_retry(admin: Api, sender: MailSender) -> None:
    (mail_id,) = await queue(admin)
    unknown = encode_id("OutboundMail", 999_999)
    (error,) = await admin.user_errors(MAIL_RETRY, {"input": {"id": unknown}})
    assert error == {"field": ["id"], "message": "The mail was not found", "code": "NOT_FOUND"}

    pending = encode_id("OutboundMail", mail_id)
    (error,) = await admin.user_errors(MAIL_RETRY, {"input": {"id": pending}})
    assert error["code"] == "CONFLICT"
    assert "waiting for delivery" in error["message"]

    await sender.deliver_due()
    (error,) = await admin.user_errors(MAIL_RETRY, {"input": {"id": pending}})
    assert error == {
        "field": ["id"],
        "message": "The mail was sent already; only a FAILED mail can be retried",
        "code": "CONFLICT",
    }
    (error,) = await admin.errors(MAIL_RETRY, {"input": {"id": encode_id("User", 1)}})
    assert error["extensions"]["code"] == "INVALID_ID"
    (error,) = await admin.errors(MAIL_RETRY, {"input": {"id": "not an id"}})
    assert error["extensions"]["code"] == "INVALID_ID"


async def test_queue_mail_writes_one_mail_per_dedupe_key(admin: Api, sender: MailSender) -> None:
    async def write(subject: str) -> OutboundMail | None:
        async with admin.resources.session_factory() as session:
            mail = await queue_mail(
                session,
                kind=MailKind.DIGEST,
                to_address="jo@example.com",
                to_user_id=None,
                subject=subject,
                text="t",
                html="h",
                dedupe_key="digest:1:2026-06-05",
            )
            await session.commit()
            return mail

    first, second = await write("One"), await write("Two")
    assert first is not None
    assert second is None
    assert [r["subject"] for r in await outbox(admin)] == ["One"]


def test_subjects_stay_on_one_line() -> None:
    assert one_line("To-do:\r\nBcc: x@example.com\tnow") == "To-do: Bcc: x@example.com now"
    assert len(one_line("x" * 500)) == 300

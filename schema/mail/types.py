"""Mails of the outbox as the API shows them (never their bodies, which may hold a secret)."""

from datetime import datetime
from typing import Any

import strawberry

from models.mail import MailKind, MailState
from models.mail import OutboundMail as OutboundMailModel
from models.users import Role
from schema import cost
from schema.common import Info, Node, PageInfo, node_type
from services.auth import Viewer
from services.ids import encode_id
from services.mail import MailRow, OutboxPage

# Registers the model's enums, in place, as GraphQL enums.
strawberry.enum(MailKind, description="What a mail is about.")
strawberry.enum(
    MailState,
    description="PENDING: waiting for its (next) attempt; SENT: the SMTP server took it; "
    "FAILED: refused for good (mailRetry puts it back in line).",
)


def _admins_only(viewer: Viewer, _mail: Any) -> bool:
    return viewer.role == Role.ADMIN


@node_type(OutboundMailModel, visible=_admins_only)
@strawberry.type(description="A mail of the outbox (admins).")
class OutboundMail(Node):
    kind: MailKind
    to: str = strawberry.field(description="The recipient's address.")
    subject: str
    state: MailState
    attempts: int = strawberry.field(description="Delivery attempts so far.")
    last_error: str | None = strawberry.field(
        description="The SMTP server's last refusal, or why the mail was not sent."
    )
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None = strawberry.field(
        description="When a PENDING mail is tried next; null once sent or failed."
    )

    @classmethod
    def of(cls, row: MailRow | OutboundMailModel) -> "OutboundMail":
        assert row.id is not None
        state = MailState(row.state)
        return cls(
            id=strawberry.ID(encode_id("OutboundMail", row.id)),
            kind=MailKind(row.kind),
            to=row.to_address,
            subject=row.subject,
            state=state,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            sent_at=row.sent_at,
            next_attempt_at=row.next_attempt_at if state == MailState.PENDING else None,
        )


@strawberry.type
class OutboundMailEdge:
    cursor: str
    node: OutboundMail


@strawberry.type
class OutboundMailConnection:
    edges: list[OutboundMailEdge] = strawberry.field(metadata=cost.in_page())
    page_info: PageInfo
    _page: strawberry.Private[OutboxPage]

    @classmethod
    def of_page(cls, page: OutboxPage) -> "OutboundMailConnection":
        return cls(
            edges=[
                OutboundMailEdge(cursor=cursor, node=OutboundMail.of(mail))
                for mail, cursor in zip(page.mails, page.cursors, strict=True)
            ],
            page_info=PageInfo.of(
                page.cursors, has_next=page.has_next, has_previous=page.has_previous
            ),
            _page=page,
        )

    @strawberry.field(metadata=cost.in_page())
    def nodes(self) -> list[OutboundMail]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="Mails in the outbox (of the state asked for), on every page.")
    async def total_count(self, info: Info) -> int:
        return await info.context.read(self._page.total_count)

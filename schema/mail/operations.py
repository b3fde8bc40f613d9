"""The operations on the outbox: listing it and retrying a failed mail (admins)."""

import strawberry

from models.mail import MailState
from models.users import Role
from resolvers import mail as resolve
from schema import cost
from schema.common import Info, payload
from schema.mail.inputs import MailRetryInput, MailRetryPayload
from schema.mail.types import OutboundMail, OutboundMailConnection
from schema.permissions import requires


@strawberry.type
class MailQuery:
    @strawberry.field(
        description="The mail outbox, newest first; `state` narrows it (admins).",
        metadata=cost.page(),
        extensions=requires(Role.ADMIN),
    )
    async def outbound_mails(
        self,
        info: Info,
        state: MailState | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> OutboundMailConnection:
        page = await resolve.outbox(info.context, state=state, first=first, after=after)
        return OutboundMailConnection.of_page(page)


@strawberry.type
class MailMutation:
    @strawberry.mutation(
        description="Put a FAILED mail back in line, to be sent now (admins).",
        extensions=requires(Role.ADMIN),
    )
    async def mail_retry(self, info: Info, input: MailRetryInput) -> MailRetryPayload:
        outcome = await resolve.retry(info.context, id=input.id)
        return payload(MailRetryPayload, outcome, outbound_mail=OutboundMail.of)

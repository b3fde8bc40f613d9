"""The mail outbox: decode what the client sent, run the service in the operation's session,
hand back what it produced."""

from models.mail import MailState
from models.users import Role
from resolvers.context import Context
from resolvers.database import Outcome
from services import mail
from services.ids import decode_id
from services.mail import MailRow, OutboxPage
from services.pagination import PageRequest


async def outbox(
    ctx: Context, *, state: MailState | None, first: int | None, after: str | None
) -> OutboxPage:
    await ctx.require(Role.ADMIN)
    page = PageRequest(first=first, after=after).checked(ctx.settings.max_page_size)
    return await ctx.read(lambda s: mail.outbox_page(s, state=state, page=page))


async def retry(ctx: Context, *, id: str) -> Outcome[MailRow]:
    await ctx.require(Role.ADMIN)
    mail_id = decode_id(id, "OutboundMail")
    return await ctx.mutate(lambda s: mail.retry_mail(s, mail_id=mail_id))

"""What admins send to manage the outbox, and the payloads they get back."""

import strawberry

from schema.common import UserError, user_errors_field
from schema.mail.types import OutboundMail


@strawberry.input
class MailRetryInput:
    id: strawberry.ID = strawberry.field(description="A FAILED mail of the outbox.")


@strawberry.type
class MailRetryPayload:
    outbound_mail: OutboundMail | None = None
    user_errors: list[UserError] = user_errors_field()

"""People and their credentials as the API shows them."""

from datetime import date, datetime

import strawberry

from models.todos import TodoStatus
from models.users import ApiKey as ApiKeyModel
from models.users import Invitation as InvitationModel
from models.users import Role
from models.users import User as UserModel
from resolvers import todos as todo_resolvers
from schema import cost
from schema.common import Info, Node, node_type
from schema.todos.types import TodoConnection
from services import auth, users
from services.ids import encode_id

# Registers the model's enum, in place, as the Role GraphQL enum.
strawberry.enum(Role, description="What a user may do.")


@node_type(UserModel, visible=users.may_see)
@strawberry.type
class User(Node):
    email: str
    name: str
    role: Role
    active: bool
    created_at: datetime
    _model: strawberry.Private[UserModel]

    @classmethod
    def of(cls, model: UserModel) -> "User":
        assert model.id is not None
        return cls(
            id=strawberry.ID(encode_id("User", model.id)),
            email=model.email,
            name=model.name,
            role=Role(model.role),
            active=model.active,
            created_at=model.created_at,
            _model=model,
        )

    @strawberry.field(
        description="To-dos assigned to this user, soonest due first (overdue ones first of "
        "all); open ones unless `status` says otherwise, none from cards in the bin. "
        "`dueFrom` and `dueUntil` are days in the service's time zone, both included. "
        "`me { todos }` are yours.",
        metadata=cost.page(),
    )
    async def todos(
        self,
        info: Info,
        status: TodoStatus | None = TodoStatus.OPEN,
        due_from: date | None = None,
        due_until: date | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> TodoConnection:
        assert self._model.id is not None
        page = await todo_resolvers.todos_page(
            info.context,
            "assignee",
            self._model.id,
            status=status,
            assignee_id=None,
            due_from=due_from,
            due_until=due_until,
            first=first,
            after=after,
        )
        return TodoConnection.of_page(page)

    @strawberry.field(
        description="API keys of this user (yourself, or anyone for admins).",
        metadata=cost.typical(10),
    )
    async def api_keys(self, info: Info) -> list["ApiKey"]:
        viewer = await info.context.require()
        if viewer.id != self._model.id and viewer.role != Role.ADMIN:
            return []
        assert self._model.id is not None
        return [ApiKey.of(k) for k in await info.context.loaders.api_keys.load(self._model.id)]


@node_type(ApiKeyModel, visible=auth.may_see_api_key)
@strawberry.type
class ApiKey(Node):
    name: str
    prefix: str = strawberry.field(
        description="The first characters of the key, to tell keys apart."
    )
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, model: ApiKeyModel) -> "ApiKey":
        assert model.id is not None
        return cls(
            id=strawberry.ID(encode_id("ApiKey", model.id)),
            name=model.name,
            prefix=model.prefix,
            created_at=model.created_at,
            expires_at=model.expires_at,
            revoked_at=model.revoked_at,
        )


@strawberry.type
class Invitation:
    email: str
    role: Role
    expires_at: datetime

    @classmethod
    def of(cls, model: InvitationModel) -> "Invitation":
        return cls(email=model.email, role=Role(model.role), expires_at=model.expires_at)

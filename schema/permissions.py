"""Who may use a field, declared on the field: `@strawberry.field(extensions=requires(...))`.

The check runs before the resolver (and before its arguments are decoded), so a refused
request learns nothing but that it must sign in, or needs a higher role.
"""

from typing import Any

from strawberry.extensions import FieldExtension

from models.users import Role


class Requires(FieldExtension):
    def __init__(self, role: Role) -> None:
        self.role = role

    async def resolve_async(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        await info.context.require(self.role)
        return await next_(source, info, **kwargs)


def requires(role: Role = Role.VIEWER) -> list[FieldExtension]:
    """The extensions of a field that needs a signed-in user with at least `role`."""
    return [Requires(role)]

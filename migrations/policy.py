"""What autogenerate compares and how it writes types; shared by env.py and the tests."""

from typing import Any, Literal

from sqlmodel.sql.sqltypes import AutoString

from services.field_index import is_custom_field_index


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # Indexes on custom fields are created at run time when an admin marks a field indexed or
    # unique; they are data, not schema, and must survive autogenerate.
    return not (type_ == "index" and name is not None and is_custom_field_index(name))


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # SQLModel's AutoString is a plain VARCHAR: write it as one, so migrations need no SQLModel.
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False

"""GraphQL operations and set-up helpers shared by tests of categories, fields and contacts.

The operation strings select the same fields everywhere, so assertions can compare whole
objects. The `create_*` helpers run one mutation as the signed-in admin (`Api.admin_token`),
assert that it succeeded and return the created object as the API shows it.
"""

from typing import Any

from tests.conftest import Api

CATEGORY_FIELDS = "id key name description"
FIELD_FIELDS = (
    "id key label type required unique indexed position archived defaultValue currency "
    "options { value label color } validation { min max minLength maxLength pattern }"
)
RELATION_FIELDS = "id key name inverseKey inverseName cardinality from { id key } to { id key }"
CONTACT_FIELDS = "id name deletedAt values"


def mutation(name: str, input_type: str, selection: str) -> str:
    """`mutation($input: <input_type>!) { <name>(input: $input) { <selection> userErrors } }`."""
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) "
        f"{{ {selection} userErrors {{ field message code }} }} }}"
    )


CATEGORY_CREATE = mutation(
    "categoryCreate", "CategoryCreateInput", f"category {{ {CATEGORY_FIELDS} }}"
)
CATEGORY_UPDATE = mutation(
    "categoryUpdate", "CategoryUpdateInput", f"category {{ {CATEGORY_FIELDS} }}"
)
CATEGORY_DELETE = mutation("categoryDelete", "CategoryDeleteInput", "deletedId")

FIELD_CREATE = mutation(
    "fieldDefinitionCreate", "FieldDefinitionCreateInput", f"fieldDefinition {{ {FIELD_FIELDS} }}"
)
FIELD_UPDATE = mutation(
    "fieldDefinitionUpdate", "FieldDefinitionUpdateInput", f"fieldDefinition {{ {FIELD_FIELDS} }}"
)
FIELD_ARCHIVE = mutation(
    "fieldDefinitionArchive", "FieldDefinitionIdInput", f"fieldDefinition {{ {FIELD_FIELDS} }}"
)
FIELD_RESTORE = mutation(
    "fieldDefinitionRestore", "FieldDefinitionIdInput", f"fieldDefinition {{ {FIELD_FIELDS} }}"
)
FIELD_REORDER = mutation(
    "fieldDefinitionReorder", "FieldDefinitionReorderInput", "fields { id key position }"
)

RELATION_CREATE = mutation(
    "categoryRelationCreate", "CategoryRelationCreateInput", f"relation {{ {RELATION_FIELDS} }}"
)
RELATION_DELETE = mutation("categoryRelationDelete", "CategoryRelationDeleteInput", "deletedId")

CONTACT_CREATE = mutation("contactCreate", "ContactCreateInput", f"contact {{ {CONTACT_FIELDS} }}")
CONTACT_UPDATE = mutation("contactUpdate", "ContactUpdateInput", f"contact {{ {CONTACT_FIELDS} }}")
CONTACT_DELETE = mutation("contactDelete", "ContactIdInput", f"contact {{ {CONTACT_FIELDS} }}")
CONTACT_RESTORE = mutation("contactRestore", "ContactIdInput", f"contact {{ {CONTACT_FIELDS} }}")
CONTACT_LINK = mutation("contactLink", "ContactLinkInput", "from { id name } to { id name }")
CONTACT_UNLINK = mutation("contactUnlink", "ContactLinkInput", "from { id name } to { id name }")

CATEGORY_BY_ID = f"query($id: ID!) {{ category(id: $id) {{ {CATEGORY_FIELDS} }} }}"
CATEGORY_BY_KEY = f"query($key: String!) {{ category(key: $key) {{ {CATEGORY_FIELDS} }} }}"
CATEGORY_FIELD_LIST = (
    "query($id: ID!, $archived: Boolean! = false) { category(id: $id) "
    f"{{ fields(includeArchived: $archived) {{ {FIELD_FIELDS} }} }} }}"
)
CONTACT_BY_ID = f"query($id: ID!) {{ contact(id: $id) {{ {CONTACT_FIELDS} }} }}"


async def create_category(
    api: Api, key: str, name: str | None = None, description: str | None = None
) -> dict[str, Any]:
    """A new category; its name defaults to the key with a capital letter."""
    data = await api.ok(
        CATEGORY_CREATE,
        {"input": {"key": key, "name": name or key.capitalize(), "description": description}},
    )
    category: dict[str, Any] = data["categoryCreate"]["category"]
    return category


async def create_field(
    api: Api, category_id: str, key: str, type: str = "TEXT", **settings: Any
) -> dict[str, Any]:
    """A new field definition; `settings` are further FieldDefinitionCreateInput entries
    written as in GraphQL (`defaultValue=...`, `options=[...]`). The label defaults to the key."""
    field_input = {"categoryId": category_id, "key": key, "label": key, "type": type, **settings}
    data = await api.ok(FIELD_CREATE, {"input": field_input})
    definition: dict[str, Any] = data["fieldDefinitionCreate"]["fieldDefinition"]
    return definition


async def create_contact(
    api: Api,
    category_id: str,
    name: str,
    values: dict[str, Any] | None = None,
    token: str | None = None,
    **details: Any,
) -> dict[str, Any]:
    """A new card with custom `values`; `details` are further ContactCreateInput entries."""
    contact_input = {"categoryId": category_id, "name": name, "values": values, **details}
    data = await api.ok(CONTACT_CREATE, {"input": contact_input}, token=token)
    contact: dict[str, Any] = data["contactCreate"]["contact"]
    return contact


async def contact_values(api: Api, contact_id: str) -> dict[str, Any]:
    """The custom values a card shows now (archived fields left out)."""
    data = await api.ok(CONTACT_BY_ID, {"id": contact_id})
    values: dict[str, Any] = data["contact"]["values"]
    return values


async def field_list(
    api: Api, category_id: str, *, include_archived: bool = False
) -> list[dict[str, Any]]:
    """The category's fields in display order."""
    data = await api.ok(CATEGORY_FIELD_LIST, {"id": category_id, "archived": include_archived})
    fields: list[dict[str, Any]] = data["category"]["fields"]
    return fields

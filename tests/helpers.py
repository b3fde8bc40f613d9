"""GraphQL operations and set-up helpers shared by the tests.

The operation strings select the same fields everywhere, so assertions can compare whole
objects. The `create_*` helpers run one mutation, by default as the signed-in admin
(`Api.admin_token`), assert that it succeeded and return the created object as the API shows
it. A module whose tests look at other fields of a card or a sign-in passes its own operation
(`operation=`); the helpers read the payload by the mutation's name, whatever it selects.
"""

from typing import Any

from sqlalchemy import text

from tests.conftest import PASSWORD, Api

ADMIN_EMAIL = "ada@example.com"  # the admin `Api.sign_up_admin` signs up

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
ME_ID = "{ me { id } }"

SIGN_IN = """mutation($input: SessionCreateInput!) { sessionCreate(input: $input) {
  token expiresAt user { id email role } userErrors { field message code } } }"""
SIGN_IN_TOKEN = """mutation($input: SessionCreateInput!) { sessionCreate(input: $input) {
  token userErrors { field message code } } }"""


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


async def new_category_id(api: Api, key: str = "customers", name: str | None = None) -> str:
    """The id of a new category (see `create_category`), for tests that need no more of it."""
    category_id: str = (await create_category(api, key, name))["id"]
    return category_id


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
    *,
    operation: str = CONTACT_CREATE,
    **details: Any,
) -> dict[str, Any]:
    """A new card with custom `values`; `details` are further ContactCreateInput entries.
    `operation` is the contactCreate mutation to send, for a module that selects other fields."""
    contact_input = {"categoryId": category_id, "name": name, "values": values, **details}
    data = await api.ok(operation, {"input": contact_input}, token=token)
    contact: dict[str, Any] = data["contactCreate"]["contact"]
    return contact


async def read_contact(
    api: Api, contact_id: str, *, operation: str = CONTACT_BY_ID
) -> dict[str, Any]:
    """The card as it is now; `operation` is the `contact(id: $id)` query to send."""
    data = await api.ok(operation, {"id": contact_id})
    contact: dict[str, Any] = data["contact"]
    return contact


async def contact_values(api: Api, contact_id: str) -> dict[str, Any]:
    """The custom values a card shows now (archived fields left out)."""
    values: dict[str, Any] = (await read_contact(api, contact_id))["values"]
    return values


async def field_list(
    api: Api, category_id: str, *, include_archived: bool = False
) -> list[dict[str, Any]]:
    """The category's fields in display order."""
    data = await api.ok(CATEGORY_FIELD_LIST, {"id": category_id, "archived": include_archived})
    fields: list[dict[str, Any]] = data["category"]["fields"]
    return fields


async def count_rows(api: Api, table: str) -> int:
    """How many rows `table` holds, read straight from the database."""
    async with api.engine.connect() as connection:
        count: int = (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
    return count


async def my_id(api: Api, token: str | None = None) -> str:
    """The id of the user whom `token` belongs to (the admin by default)."""
    data = await api.ok(ME_ID, token=token)
    user_id: str = data["me"]["id"]
    return user_id


async def sign_in(
    api: Api,
    email: str = ADMIN_EMAIL,
    password: str = PASSWORD,
    *,
    client: str | None = None,
    operation: str = SIGN_IN,
) -> dict[str, Any]:
    """The sessionCreate payload, userErrors included, sent without credentials. `client` is
    the address a trusted proxy reports (X-Forwarded-For); `operation` is the sessionCreate
    mutation to send, `SIGN_IN` or `SIGN_IN_TOKEN`."""
    headers = {"X-Forwarded-For": client} if client else {}
    variables = {"input": {"email": email, "password": password}}
    response = await api.client.post(
        "/graphql", json={"query": operation, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = body["data"]["sessionCreate"]
    return payload

"""What clients send to change cards, persons and links, and the payloads they get back."""

from typing import Any

import strawberry
from strawberry.scalars import JSON

from schema.common import UserError, provided, user_errors_field
from schema.contacts.types import Contact, Person

CONTACT_DETAILS = ("name", "org_number", "email", "phone", "website")
ADDRESS_DETAILS = {
    "street": "address_street",
    "postal_code": "address_postal_code",
    "city": "address_city",
    "region": "address_region",
    "country": "address_country",
}
PERSON_DETAILS = ("first_name", "last_name", "title", "email", "phone", "mobile")


@strawberry.input
class AddressInput:
    street: str | None = strawberry.UNSET
    postal_code: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    region: str | None = strawberry.UNSET
    country: str | None = strawberry.UNSET


@strawberry.input
class PersonInput:
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    mobile: str | None = strawberry.UNSET

    def details(self) -> dict[str, Any]:
        return provided(self, PERSON_DETAILS)


class _CardDetails:
    """The built-in details of a card input, as the contacts service takes them."""

    address: AddressInput | None
    values: JSON | None

    def details(self) -> dict[str, Any]:
        details = provided(self, CONTACT_DETAILS)
        if self.address is None:  # null clears the whole address
            details.update(dict.fromkeys(ADDRESS_DETAILS.values()))
        elif self.address is not strawberry.UNSET:
            details.update(provided(self.address, ADDRESS_DETAILS))
        return details

    def custom_values(self) -> Any:
        """As sent; the service checks that they form an object keyed by field key."""
        return {} if self.values is None else self.values


@strawberry.input
class ContactCreateInput(_CardDetails):
    category_id: strawberry.ID
    name: str
    org_number: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    website: str | None = strawberry.UNSET
    address: AddressInput | None = strawberry.UNSET
    values: JSON | None = strawberry.field(
        default=None, description="Custom values keyed by field key."
    )
    persons: list[PersonInput] | None = None


@strawberry.input(
    description="Omitted fields stay; null clears. Values merge key by key (a null value "
    "clears its key)."
)
class ContactUpdateInput(_CardDetails):
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    org_number: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    website: str | None = strawberry.UNSET
    address: AddressInput | None = strawberry.UNSET
    values: JSON | None = None
    expected_version: int | None = strawberry.field(
        default=None,
        description="Refuse the update with a CONFLICT if the card's version is no longer this "
        "one (someone else changed it since you read it).",
    )


@strawberry.input
class ContactIdInput:
    id: strawberry.ID


@strawberry.type
class ContactPayload:
    contact: Contact | None = None
    user_errors: list[UserError] = user_errors_field()


@strawberry.input
class PersonCreateInput(PersonInput):
    contact_id: strawberry.ID


@strawberry.input(description="Omitted fields stay; null clears.")
class PersonUpdateInput(PersonInput):
    id: strawberry.ID


@strawberry.input
class PersonDeleteInput:
    id: strawberry.ID


@strawberry.type
class PersonPayload:
    person: Person | None = None
    user_errors: list[UserError] = user_errors_field()


@strawberry.input
class ContactLinkInput:
    relation: str = strawberry.field(
        description="The relation's key or inverse key, as seen from `fromId`."
    )
    from_id: strawberry.ID
    to_id: strawberry.ID


@strawberry.type
class ContactLinkPayload:
    from_contact: Contact | None = strawberry.field(default=None, name="from")
    to_contact: Contact | None = strawberry.field(default=None, name="to")
    user_errors: list[UserError] = user_errors_field()

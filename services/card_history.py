"""What changed on a card, field by field, as its history shows it: before and after in the
form the API shows values, with the label a person reads."""

from collections.abc import Sequence
from typing import Any

from models.categories import FieldDefinition
from models.contacts import Contact, Person
from services.activity import Change
from services.values import present

# Built-in details of a card: (model attribute, API field, label).
CARD_DETAILS = (
    ("name", "name", "Name"),
    ("org_number", "orgNumber", "Org number"),
    ("email", "email", "E-mail"),
    ("phone", "phone", "Phone"),
    ("website", "website", "Website"),
    ("address_street", "address.street", "Street"),
    ("address_postal_code", "address.postalCode", "Postal code"),
    ("address_city", "address.city", "City"),
    ("address_region", "address.region", "Region"),
    ("address_country", "address.country", "Country"),
)
PERSON_DETAILS = (
    ("first_name", "firstName", "First name"),
    ("last_name", "lastName", "Last name"),
    ("title", "title", "Title"),
    ("email", "email", "E-mail"),
    ("phone", "phone", "Phone"),
    ("mobile", "mobile", "Mobile"),
)


def card_snapshot(contact: Contact) -> dict[str, Any]:
    """A card's details and custom values as they are now, to compare with later."""
    return {
        "details": {attribute: getattr(contact, attribute) for attribute, _, _ in CARD_DETAILS},
        "values": dict(contact.custom_values),
    }


def card_changes(
    before: dict[str, Any], contact: Contact, fields: Sequence[FieldDefinition]
) -> list[Change]:
    """The details and values that differ between `before` and the card now."""
    changes = [
        Change(name, label, before["details"][attribute], getattr(contact, attribute))
        for attribute, name, label in CARD_DETAILS
        if before["details"][attribute] != getattr(contact, attribute)
    ]
    old, new = before["values"], contact.custom_values
    for definition in fields:
        was, now = old.get(definition.key), new.get(definition.key)
        if was != now or type(was) is not type(now):
            changes.append(
                Change(
                    f"values.{definition.key}",
                    definition.label,
                    present(definition, was),
                    present(definition, now),
                )
            )
    return changes


def person_snapshot(person: Person) -> dict[str, Any]:
    return {attribute: getattr(person, attribute) for attribute, _, _ in PERSON_DETAILS}


def person_changes(before: dict[str, Any], person: Person) -> list[Change]:
    return [
        Change(name, label, before[attribute], getattr(person, attribute))
        for attribute, name, label in PERSON_DETAILS
        if before[attribute] != getattr(person, attribute)
    ]


def person_name(person: Person) -> str:
    return " ".join(part for part in (person.first_name, person.last_name) if part)

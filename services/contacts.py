"""Contact cards, their custom values, persons, and links between cards."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.activity import ActivityKind
from models.categories import (
    Category,
    CategoryRelation,
    FieldDefinition,
    FieldType,
    RelationCardinality,
)
from models.contacts import Contact, ContactLink, Person
from models.types import utcnow
from models.users import User
from services.activity import Change, record, record_many
from services.auth import Viewer
from services.card_history import (
    card_changes,
    card_snapshot,
    person_changes,
    person_name,
    person_snapshot,
)
from services.categories import fields_of, relations_of
from services.errors import ErrorCode, Problem, UserFacingError, not_found
from services.field_index import unique_index_field_id
from services.locks import lock_category_shapes
from services.room_scope import show_card_in_its_room
from services.search import contact_search_text, search_text
from services.values import coerce, is_email, is_phone

ADDRESS_FIELDS = (
    "address_street",
    "address_postal_code",
    "address_city",
    "address_region",
    "address_country",
)
MAX_PERSONS_PER_CONTACT = 500


# --- built-in contact details ------------------------------------------------------------------


def _text(value: Any, field: str, max_length: int, *, required: bool = False) -> str | None:
    """A trimmed text detail; `field` is its dotted input path, e.g. "address.city"."""
    path = field.split(".")
    if value is None:
        if required:
            raise UserFacingError.one(f"{field} is required", code=ErrorCode.REQUIRED, field=path)
        return None
    text = str(value).strip()
    if required and not text:
        raise UserFacingError.one(f"{field} must not be empty", code=ErrorCode.REQUIRED, field=path)
    if len(text) > max_length:
        raise UserFacingError.one(f"{field} is longer than {max_length} characters", field=path)
    return text or None


def _email(value: Any, field: str) -> str | None:
    text = _text(value, field, 320)
    if text is not None and not is_email(text):
        raise UserFacingError.one(f"{text!r} is not an e-mail address", field=field.split("."))
    return text


def _phone(value: Any, field: str) -> str | None:
    text = _text(value, field, 64)
    if text is not None and not is_phone(text):
        raise UserFacingError.one(f"{text!r} is not a phone number", field=field.split("."))
    return text


def _website(value: Any) -> str | None:
    text = _text(value, "website", 2048)
    if text is None:
        return None
    if "://" not in text:
        text = "https://" + text  # people type "example.com"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or "." not in parts.netloc:
        raise UserFacingError.one(f"{value!r} is not a web address", field=["website"])
    return text


def _country(value: Any) -> str | None:
    text = None if value is None else str(value).strip()
    if text and not (len(text) == 2 and text.isalpha()):
        raise UserFacingError.one(
            "The country must be an ISO 3166 two-letter code such as DE",
            field=["address", "country"],
        )
    return text.upper() if text else None


def _apply_details(contact: Contact, details: Mapping[str, Any]) -> None:
    """Set the built-in details present in `details` (absent: unchanged, None: cleared)."""
    for name, value in checked_details(details).items():
        setattr(contact, name, value)


def checked_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """The built-in details given, each checked and in its stored form; every problem at
    once."""
    checks = {
        "name": lambda v: _text(v, "name", 300, required=True),
        "org_number": lambda v: _text(v, "orgNumber", 64),
        "email": lambda v: _email(v, "email"),
        "phone": lambda v: _phone(v, "phone"),
        "website": _website,
        "address_street": lambda v: _text(v, "address.street", 300),
        "address_postal_code": lambda v: _text(v, "address.postalCode", 32),
        "address_city": lambda v: _text(v, "address.city", 200),
        "address_region": lambda v: _text(v, "address.region", 200),
        "address_country": _country,
    }
    checked: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, value in details.items():
        try:
            checked[name] = checks[name](value)
        except UserFacingError as exc:
            problems += exc.problems
    if problems:
        raise UserFacingError(problems)
    return checked


# --- custom values -----------------------------------------------------------------------------


@dataclass
class CategoryShape:
    """A category's field definitions, looked up once per write."""

    category: Category
    fields: list[FieldDefinition]

    @property
    def by_key(self) -> dict[str, FieldDefinition]:
        return {f.key: f for f in self.fields}

    @property
    def active(self) -> list[FieldDefinition]:
        return [f for f in self.fields if f.archived_at is None]


async def category_shape(
    session: AsyncSession, category_id: int, field: str = "categoryId"
) -> CategoryShape:
    """The category's field definitions, held (shared) until the transaction ends so that an
    admin cannot change them while a card is validated against them."""
    await lock_category_shapes(session, [category_id], exclusive=False)
    category = await session.get(Category, category_id)
    if category is None:
        raise not_found("The category", [field])
    return CategoryShape(category, await fields_of(session, [category_id]))


async def merge_values(
    session: AsyncSession,
    shape: CategoryShape,
    current: Mapping[str, Any],
    changes: Mapping[str, Any],
    *,
    creating: bool,
) -> dict[str, Any]:
    """Validate `changes` key by key and merge them into `current` (None clears a value).

    Every problem is reported at once, each naming its key; nothing is written on any problem.
    """
    if not isinstance(changes, Mapping):
        raise UserFacingError.one("values must be an object keyed by field key", field=["values"])
    by_key = shape.by_key
    merged = dict(current)
    problems: list[Problem] = []
    user_ids: dict[str, int] = {}
    for key, raw in changes.items():
        definition = by_key.get(key)
        if definition is None:
            problems.append(
                Problem(
                    f"{shape.category.name} has no field {key!r}",
                    ErrorCode.UNKNOWN_FIELD,
                    ("values", key),
                )
            )
            continue
        if definition.archived_at is not None:
            problems.append(
                Problem(
                    f"The field {key!r} is archived; restore it to change its values",
                    ErrorCode.ARCHIVED,
                    ("values", key),
                )
            )
            continue
        if raw is None:
            if definition.required:
                problems.append(
                    Problem(f"{definition.label} is required", ErrorCode.REQUIRED, ("values", key))
                )
            merged.pop(key, None)
            continue
        try:
            merged[key] = coerce(definition, raw)
        except ValueError as exc:
            problems.append(
                Problem(f"{definition.label}: {exc}", ErrorCode.INVALID, ("values", key))
            )
            continue
        if definition.type == FieldType.USER:
            user_ids[key] = merged[key]
    if creating:
        for definition in shape.active:
            if definition.key not in merged and definition.default_value is not None:
                merged[definition.key] = definition.default_value
            if (
                definition.required
                and merged.get(definition.key) is None
                and definition.key not in changes
            ):
                problems.append(
                    Problem(
                        f"{definition.label} is required",
                        ErrorCode.REQUIRED,
                        ("values", definition.key),
                    )
                )
    if user_ids:
        problems.extend(await _check_users(session, user_ids))
    if problems:
        raise UserFacingError(problems)
    return merged


async def _check_users(session: AsyncSession, user_ids: Mapping[str, int]) -> list[Problem]:
    found = set(
        (
            await session.execute(
                select(col(User.id)).where(
                    col(User.id).in_(set(user_ids.values())), col(User.active).is_(True)
                )
            )
        ).scalars()
    )
    return [
        Problem(f"{key}: no active user has this ID", ErrorCode.NOT_FOUND, ("values", key))
        for key, user_id in user_ids.items()
        if user_id not in found
    ]


async def _flush_checking_unique(session: AsyncSession, shape: CategoryShape) -> None:
    """Flush, turning a unique index violation into an error that names the field."""
    # Read before flushing: a failed flush expires every loaded object.
    unique_fields = {f.id: (f.key, f.label) for f in shape.fields if f.unique}
    category_name = shape.category.name
    try:
        await session.flush()
    except IntegrityError as exc:
        field = unique_fields.get(unique_index_field_id(str(exc.orig)))
        if field is None:
            raise
        key, label = field
        raise UserFacingError.one(
            f"Another card in {category_name} already has this {label}",
            code=ErrorCode.DUPLICATE,
            field=["values", key],
        ) from None


# --- cards -------------------------------------------------------------------------------------


async def get_contact(session: AsyncSession, contact_id: int, field: str = "id") -> Contact:
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise not_found("The contact", [field])
    return contact


async def lock_contact(
    session: AsyncSession, contact_id: int, field: str = "id", *, shared: bool = False
) -> Contact:
    """The card, read afresh and locked until the transaction ends (see services/locks.py):
    for update, or shared when the card only has to stay as it is."""
    contact = await session.get(
        Contact,
        contact_id,
        with_for_update={"read": shared},
        populate_existing=True,
    )
    if contact is None:
        raise not_found("The contact", [field])
    return contact


async def _writable_contact(
    session: AsyncSession, contact_id: int, field: str = "id"
) -> tuple[Contact, CategoryShape]:
    """A card to change, locked after its category's shape (the lock order of
    services/locks.py), with that shape."""
    category_id = (await get_contact(session, contact_id, field)).category_id
    shape = await category_shape(session, category_id)
    return await lock_contact(session, contact_id, field), shape


def _check_version(contact: Contact, expected: int | None) -> None:
    if expected is not None and expected != contact.version:
        raise UserFacingError.one(
            f"The card was changed by someone else since you read it (you read version "
            f"{expected}, it is now at {contact.version}); reload it and apply your change again",
            code=ErrorCode.CONFLICT,
            field=["expectedVersion"],
        )


async def create_contact(
    session: AsyncSession,
    *,
    viewer: Viewer,
    category_id: int,
    details: Mapping[str, Any],
    values: Mapping[str, Any],
    persons: Sequence[Mapping[str, Any]] = (),
    shape: CategoryShape | None = None,
) -> Contact:
    """A new card (version 1) with its values and persons; a person's problems name
    `["persons", index, ...]`. `shape`: the category's, when this transaction holds it
    already (an import writing many cards)."""
    if shape is None:
        shape = await category_shape(session, category_id)
    contact = Contact(category_id=category_id, name="", created_by_id=viewer.id)
    _apply_details(contact, {"name": None, **details})
    contact.custom_values = await merge_values(session, shape, {}, values, creating=True)
    contact.search_text = contact_search_text(contact, shape.fields)
    session.add(contact)
    await _flush_checking_unique(session, shape)
    if len(persons) > MAX_PERSONS_PER_CONTACT:
        raise UserFacingError.one(
            f"A card holds at most {MAX_PERSONS_PER_CONTACT} persons", field=["persons"]
        )
    for index, person_details in enumerate(persons):
        try:
            _add_person(session, contact, index + 1, person_details)
        except UserFacingError as exc:
            raise UserFacingError(
                [
                    Problem(p.message, p.code, ("persons", str(index), *(p.field or ())))
                    for p in exc.problems
                ]
            ) from None
    await session.flush()
    await record(
        session,
        ActivityKind.CONTACT_CREATED,
        actor_id=viewer.id,
        contact_id=contact.id,
        subject=("Contact", contact.id),
        details={"name": contact.name},
    )
    return contact


@dataclass(frozen=True)
class NewCard:
    """A card checked as create_contact checks one, ready to be inserted with others."""

    row: dict[str, Any]  # the contact table's columns

    def value(self, key: str) -> Any:
        return self.row["custom_values"].get(key)


async def new_card(
    session: AsyncSession,
    *,
    viewer: Viewer,
    shape: CategoryShape,
    details: Mapping[str, Any],
    values: Mapping[str, Any],
) -> NewCard:
    """Check a new card's details and values (UserFacingError naming every problem of both);
    unique values are checked when it is inserted."""
    problems: list[Problem] = []
    own: dict[str, Any] = {}
    stored: dict[str, Any] = {}
    try:
        own = checked_details({"name": None, **details})
    except UserFacingError as exc:
        problems += exc.problems
    try:
        stored = await merge_values(session, shape, {}, values, creating=True)
    except UserFacingError as exc:
        problems += exc.problems
    if problems:
        raise UserFacingError(problems)
    now = utcnow()
    row = {
        "category_id": shape.category.id,
        "name": own["name"],
        "org_number": own.get("org_number"),
        "email": own.get("email"),
        "phone": own.get("phone"),
        "website": own.get("website"),
        "address_street": own.get("address_street"),
        "address_postal_code": own.get("address_postal_code"),
        "address_city": own.get("address_city"),
        "address_region": own.get("address_region"),
        "address_country": own.get("address_country"),
        "custom_values": stored,
        "created_by_id": viewer.id,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }
    row["search_text"] = search_text(
        row["name"], row["org_number"], row["email"], stored, shape.fields
    )
    return NewCard(row)


async def insert_cards(
    session: AsyncSession, *, viewer: Viewer, cards: Sequence[NewCard]
) -> list[int]:
    """Insert checked cards, each with the history entry create_contact writes, in two
    statements whatever their number (an import's batch). A unique value another card took
    meanwhile raises IntegrityError: the caller goes back to one card at a time."""
    if not cards:
        return []
    inserted = await session.execute(
        insert(Contact).returning(col(Contact.id), sort_by_parameter_order=True),
        [card.row for card in cards],
    )
    ids = [pk for pk in inserted.scalars() if pk is not None]
    await record_many(
        session,
        ActivityKind.CONTACT_CREATED,
        actor_id=viewer.id,
        entries=[
            (pk, ("Contact", pk), {"name": card.row["name"]})
            for pk, card in zip(ids, cards, strict=True)
        ],
    )
    return ids


async def update_contact(
    session: AsyncSession,
    *,
    actor_id: int,
    contact_id: int,
    details: Mapping[str, Any],
    values: Mapping[str, Any] | None,
    expected_version: int | None = None,
    shape: CategoryShape | None = None,
) -> Contact:
    """Change details and values; with `expected_version`, only if nobody changed the card
    since the client read that version. A change is a new version and an entry in the card's
    history naming each field before and after; an update that changes nothing is neither.
    `shape`: the card's category's, when this transaction holds it already."""
    if shape is None:
        contact, shape = await _writable_contact(session, contact_id)
    else:
        contact = await lock_contact(session, contact_id)
    _check_version(contact, expected_version)
    if contact.deleted_at is not None:
        raise UserFacingError.one(
            "The contact is deleted; restore it first", code=ErrorCode.ARCHIVED, field=["id"]
        )
    before = card_snapshot(contact)
    _apply_details(contact, details)
    if values is not None:
        contact.custom_values = await merge_values(
            session, shape, contact.custom_values, values, creating=False
        )
    changes = card_changes(before, contact, shape.active)
    if not changes:
        return contact
    contact.search_text = contact_search_text(contact, shape.fields)
    contact.touch()
    await _flush_checking_unique(session, shape)
    await record(
        session,
        ActivityKind.CONTACT_UPDATED,
        actor_id=actor_id,
        contact_id=contact_id,
        subject=("Contact", contact_id),
        changes=changes,
    )
    return contact


async def set_contact_deleted(
    session: AsyncSession, *, actor_id: int, contact_id: int, deleted: bool
) -> Contact:
    """Soft delete, or restore (which fails if a unique value was taken in the meantime)."""
    contact, shape = await _writable_contact(session, contact_id)
    if deleted == (contact.deleted_at is not None):
        return contact  # already so: nothing changes, not even the version
    contact.deleted_at = utcnow() if deleted else None
    contact.touch()
    await _flush_checking_unique(session, shape)
    await show_card_in_its_room(session, contact)
    await record(
        session,
        ActivityKind.CONTACT_DELETED if deleted else ActivityKind.CONTACT_RESTORED,
        actor_id=actor_id,
        contact_id=contact_id,
        subject=("Contact", contact_id),
    )
    return contact


# --- persons -----------------------------------------------------------------------------------

PERSON_CHECKS = {
    "first_name": lambda v: _text(v, "firstName", 200),
    "last_name": lambda v: _text(v, "lastName", 200),
    "title": lambda v: _text(v, "title", 200),
    "email": lambda v: _email(v, "email"),
    "phone": lambda v: _phone(v, "phone"),
    "mobile": lambda v: _phone(v, "mobile"),
}


def _apply_person(person: Person, details: Mapping[str, Any]) -> None:
    for name, value in details.items():
        setattr(person, name, PERSON_CHECKS[name](value))
    if not (person.first_name or person.last_name):
        raise UserFacingError.one(
            "A person needs a first or a last name", code=ErrorCode.REQUIRED, field=["lastName"]
        )


async def create_person(
    session: AsyncSession, *, actor_id: int, contact_id: int, details: Mapping[str, Any]
) -> Person:
    # Locked: persons are counted and numbered from the card's current ones.
    contact = await lock_contact(session, contact_id, "contactId")
    if contact.deleted_at is not None:
        raise UserFacingError.one(
            "The contact is deleted; restore it first", code=ErrorCode.ARCHIVED, field=["contactId"]
        )
    count, last = (
        await session.execute(
            select(func.count(), func.max(Person.position)).where(
                col(Person.contact_id) == contact_id
            )
        )
    ).one()
    if count >= MAX_PERSONS_PER_CONTACT:
        raise UserFacingError.one(
            f"A card holds at most {MAX_PERSONS_PER_CONTACT} persons", field=["contactId"]
        )
    person = _add_person(session, contact, (last or 0) + 1, details)
    contact.touch()
    await session.flush()
    await _record_person(session, ActivityKind.PERSON_ADDED, actor_id, person)
    return person


async def _record_person(
    session: AsyncSession,
    kind: ActivityKind,
    actor_id: int,
    person: Person,
    changes: Sequence[Change] = (),
) -> None:
    await record(
        session,
        kind,
        actor_id=actor_id,
        contact_id=person.contact_id,
        subject=("Person", person.id),
        changes=changes,
        details={"name": person_name(person)},
    )


def _add_person(
    session: AsyncSession, contact: Contact, position: int, details: Mapping[str, Any]
) -> Person:
    assert contact.id is not None
    person = Person(contact_id=contact.id, position=position)
    _apply_person(person, details)
    session.add(person)
    return person


async def _editable_person(session: AsyncSession, person_id: int) -> Person:
    """A person whose card is not in the bin, locked with the card, which records the change."""
    person = await session.get(Person, person_id)
    if person is None:
        raise not_found("The person", ["id"])
    contact = await lock_contact(session, person.contact_id)
    person = await session.get(Person, person_id, with_for_update=True, populate_existing=True)
    if person is None:  # removed while we waited for the card
        raise not_found("The person", ["id"])
    if contact.deleted_at is not None:
        raise UserFacingError.one(
            "The person's card is deleted; restore it first", code=ErrorCode.ARCHIVED, field=["id"]
        )
    contact.touch()
    return person


async def update_person(
    session: AsyncSession, *, actor_id: int, person_id: int, details: Mapping[str, Any]
) -> Person:
    person = await _editable_person(session, person_id)
    before = person_snapshot(person)
    _apply_person(person, details)
    person.updated_at = utcnow()
    await session.flush()
    if changes := person_changes(before, person):
        await _record_person(session, ActivityKind.PERSON_UPDATED, actor_id, person, changes)
    return person


async def delete_person(session: AsyncSession, *, actor_id: int, person_id: int) -> Person:
    person = await _editable_person(session, person_id)
    await session.delete(person)
    await session.flush()
    await _record_person(session, ActivityKind.PERSON_REMOVED, actor_id, person)
    return person


async def persons_of(session: AsyncSession, contact_ids: Sequence[int]) -> list[Person]:
    rows = await session.execute(
        select(Person)
        .where(col(Person.contact_id).in_(contact_ids))
        .order_by(col(Person.contact_id), col(Person.position), col(Person.id))
    )
    return list(rows.scalars())


# --- links between cards ----------------------------------------------------------------------


@dataclass(frozen=True)
class Direction:
    """A relation as seen from one category: forward (key) or backward (inverse key)."""

    relation: CategoryRelation
    forward: bool

    @property
    def other_category_id(self) -> int:
        return self.relation.to_category_id if self.forward else self.relation.from_category_id


def find_direction(
    relations: Sequence[CategoryRelation], category_id: int, name: str
) -> Direction | None:
    for relation in relations:
        if relation.from_category_id == category_id and relation.key == name:
            return Direction(relation, forward=True)
        if relation.to_category_id == category_id and relation.inverse_key == name:
            return Direction(relation, forward=False)
    return None


async def resolve_direction(session: AsyncSession, category_id: int, name: str) -> Direction:
    direction = find_direction(await relations_of(session, [category_id]), category_id, name)
    if direction is None:
        raise UserFacingError.one(
            f"Cards of this category have no relation called {name!r}",
            code=ErrorCode.NOT_FOUND,
            field=["relation"],
        )
    return direction


async def _link_ends(
    session: AsyncSession, relation_name: str, from_id: int, to_id: int
) -> tuple[Direction, int, int]:
    """The relation and the (source, target) card ids in the relation's own orientation.

    Both cards stay as they are (not deleted, say) until the link is written."""
    ends = {from_id: "fromId", to_id: "toId"}
    categories = [(await get_contact(session, i, field)).category_id for i, field in ends.items()]
    await lock_category_shapes(session, categories, exclusive=False)
    locked = {i: await lock_contact(session, i, ends[i], shared=True) for i in sorted(ends)}
    source, target = locked[from_id], locked[to_id]
    direction = await resolve_direction(session, source.category_id, relation_name)
    if target.category_id != direction.other_category_id:
        raise UserFacingError.one(
            f"The relation {relation_name!r} links to cards of another category", field=["toId"]
        )
    if from_id == to_id:
        raise UserFacingError.one("A card cannot be linked to itself", field=["toId"])
    if source.deleted_at is not None or target.deleted_at is not None:
        raise UserFacingError.one(
            "Deleted cards cannot be linked", code=ErrorCode.ARCHIVED, field=["toId"]
        )
    return (direction, from_id, to_id) if direction.forward else (direction, to_id, from_id)


async def link_contacts(
    session: AsyncSession, *, viewer: Viewer, relation_name: str, from_id: int, to_id: int
) -> ContactLink:
    direction, parent_id, child_id = await _link_ends(session, relation_name, from_id, to_id)
    relation = direction.relation
    existing = (
        await session.execute(
            select(ContactLink).where(
                col(ContactLink.relation_id) == relation.id,
                col(ContactLink.from_contact_id) == parent_id,
                col(ContactLink.to_contact_id) == child_id,
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise UserFacingError.one(
            "The cards are already linked", code=ErrorCode.DUPLICATE, field=["toId"]
        )
    assert relation.id is not None
    one_to_many = relation.cardinality == RelationCardinality.ONE_TO_MANY
    if one_to_many:
        await _drop_link_to_deleted_parent(session, relation.id, child_id)
    link = ContactLink(
        relation_id=relation.id,
        from_contact_id=parent_id,
        to_contact_id=child_id,
        single_parent_id=child_id if one_to_many else None,
        created_by_id=viewer.id,
    )
    session.add(link)
    # Read before flushing: a failed flush expires every loaded object.
    name, inverse_name = relation.name, relation.inverse_name
    try:
        await session.flush()
    except IntegrityError:
        raise UserFacingError.one(
            f"The card already has a {inverse_name}; a {name} relation allows only one",
            code=ErrorCode.CONFLICT,
            field=["toId" if direction.forward else "fromId"],
        ) from None
    await _record_link(session, ActivityKind.CONTACT_LINKED, viewer.id, direction, from_id, to_id)
    return link


async def _record_link(
    session: AsyncSession,
    kind: ActivityKind,
    actor_id: int,
    direction: Direction,
    from_id: int,
    to_id: int,
) -> None:
    """An entry in the history of both cards, each naming the relation as seen from it."""
    relation = direction.relation
    ends = ((from_id, to_id, direction.forward), (to_id, from_id, not direction.forward))
    for contact_id, other_id, forward in ends:
        await record(
            session,
            kind,
            actor_id=actor_id,
            contact_id=contact_id,
            subject=("Contact", other_id),
            details={
                "relation": relation.key if forward else relation.inverse_key,
                "relationName": relation.name if forward else relation.inverse_name,
            },
        )


async def _drop_link_to_deleted_parent(
    session: AsyncSession, relation_id: int, child_id: int
) -> None:
    """A parent in the bin no longer holds its child: a new parent takes its place."""
    deleted_parents = select(col(Contact.id)).where(col(Contact.deleted_at).is_not(None))
    await session.execute(
        delete(ContactLink).where(
            col(ContactLink.relation_id) == relation_id,
            col(ContactLink.to_contact_id) == child_id,
            col(ContactLink.from_contact_id).in_(deleted_parents),
        )
    )


async def unlink_contacts(
    session: AsyncSession, *, actor_id: int, relation_name: str, from_id: int, to_id: int
) -> None:
    direction, parent_id, child_id = await _link_ends(session, relation_name, from_id, to_id)
    result = await session.execute(
        delete(ContactLink).where(
            col(ContactLink.relation_id) == direction.relation.id,
            col(ContactLink.from_contact_id) == parent_id,
            col(ContactLink.to_contact_id) == child_id,
        )
    )
    if cast(CursorResult[Any], result).rowcount == 0:
        raise UserFacingError.one(
            "The cards are not linked", code=ErrorCode.NOT_FOUND, field=["toId"]
        )
    await _record_link(session, ActivityKind.CONTACT_UNLINKED, actor_id, direction, from_id, to_id)

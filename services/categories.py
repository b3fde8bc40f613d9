"""Categories, their custom field definitions, and relations between categories (admin work)."""

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.categories import (
    Category,
    CategoryRelation,
    FieldDefinition,
    FieldType,
    RelationCardinality,
)
from models.contacts import Contact
from models.types import utcnow
from services.errors import ErrorCode, Problem, UserFacingError, not_found, refuse_clearing
from services.field_index import KEY_RE, create_field_index, drop_field_index, value_expression
from services.locks import lock_category_shapes
from services.search import refresh_search_text
from services.values import (
    NOT_UNIQUE_TYPES,
    NUMERIC_TYPES,
    TEXT_TYPES,
    UNINDEXABLE_TYPES,
    coerce,
    compile_pattern,
    convert,
)
from services.wording import a_or_an

COLOR_RE = re.compile(r"\A#[0-9a-fA-F]{6}\Z")
CURRENCY_RE = re.compile(r"\A[A-Z]{3}\Z")
MAX_FIELDS_PER_CATEGORY = 200
MAX_OPTIONS = 500
MAX_PATTERN_LENGTH = 300


def check_key(key: str, what: str, field_name: str = "key") -> str:
    if not KEY_RE.match(key):
        raise UserFacingError.one(
            f"The {what} key {key!r} must start with a lower-case letter and contain only letters, "
            "digits and underscores (at most 64 characters)",
            field=[field_name],
        )
    return key


def check_label(label: str, field_name: str) -> str:
    label = label.strip()
    if not label or len(label) > 200:
        raise UserFacingError.one(
            f"The {field_name} must be 1 to 200 characters long", field=[field_name]
        )
    return label


# --- categories --------------------------------------------------------------------------------


async def get_category(session: AsyncSession, category_id: int) -> Category:
    category = await session.get(Category, category_id)
    if category is None:
        raise not_found("The category", ["categoryId"])
    return category


async def _reshape(session: AsyncSession, *category_ids: int) -> None:
    """Take the categories' shape for ourselves (services/locks.py): fields, relations and the
    cards' values change only one admin at a time, and never under a card being written."""
    await lock_category_shapes(session, category_ids, exclusive=True)


async def category_by_key(session: AsyncSession, key: str) -> Category | None:
    return (
        await session.execute(select(Category).where(col(Category.key) == key))
    ).scalar_one_or_none()


async def list_categories(session: AsyncSession) -> list[Category]:
    rows = await session.execute(select(Category).order_by(Category.name, col(Category.id)))
    return list(rows.scalars())


async def create_category(
    session: AsyncSession, *, key: str, name: str, description: str | None
) -> Category:
    check_key(key, "category")
    if await category_by_key(session, key) is not None:
        raise UserFacingError.one(
            f"A category with the key {key!r} already exists",
            code=ErrorCode.DUPLICATE,
            field=["key"],
        )
    category = Category(
        key=key, name=check_label(name, "name"), description=_description(description)
    )
    session.add(category)
    await session.flush()
    return category


def _description(description: str | None) -> str | None:
    if description is not None and len(description) > 2000:
        raise UserFacingError.one(
            "The description is longer than 2000 characters", field=["description"]
        )
    return description


async def update_category(
    session: AsyncSession,
    *,
    category_id: int,
    changes: Mapping[str, Any],
) -> Category:
    """Rename or describe a category; `changes` holds what the client sent (null clears the
    description; the name cannot be cleared)."""
    refuse_clearing(changes, "name")
    category = await get_category(session, category_id)
    if "name" in changes:
        category.name = check_label(changes["name"], "name")
    if "description" in changes:
        category.description = _description(changes["description"])
    category.updated_at = utcnow()
    await session.flush()
    return category


async def delete_category(session: AsyncSession, *, category_id: int) -> None:
    """Delete a category that has no live cards; its deleted cards go with it."""
    await _reshape(session, category_id)
    category = await get_category(session, category_id)
    live = (
        await session.execute(
            select(func.count())
            .select_from(Contact)
            .where(
                col(Contact.category_id) == category_id,
                col(Contact.deleted_at).is_(None),
            )
        )
    ).scalar_one()
    if live:
        raise UserFacingError.one(
            f"The category still has {live} contact card(s); delete or move them first",
            code=ErrorCode.IN_USE,
            field=["id"],
        )
    field_ids = (
        await session.execute(
            select(col(FieldDefinition.id)).where(col(FieldDefinition.category_id) == category_id)
        )
    ).scalars()
    for field_id in field_ids:
        assert field_id is not None
        await drop_field_index(session, field_id)
    await session.execute(delete(Contact).where(col(Contact.category_id) == category_id))
    await session.delete(category)
    await session.flush()


# --- field definitions ------------------------------------------------------------------------


async def fields_of(session: AsyncSession, category_ids: Sequence[int]) -> list[FieldDefinition]:
    """Every field (archived included) of the categories, in display order."""
    rows = await session.execute(
        select(FieldDefinition)
        .where(col(FieldDefinition.category_id).in_(category_ids))
        .order_by(col(FieldDefinition.position), col(FieldDefinition.id))
    )
    return list(rows.scalars())


async def get_field(session: AsyncSession, field_id: int) -> FieldDefinition:
    definition = await session.get(FieldDefinition, field_id)
    if definition is None:
        raise not_found("The field definition", ["id"])
    return definition


async def _reshaped_field(session: AsyncSession, field_id: int) -> FieldDefinition:
    """A field to change, read afresh once its category's shape is ours."""
    await _reshape(session, (await get_field(session, field_id)).category_id)
    definition = await session.get(FieldDefinition, field_id, populate_existing=True)
    if definition is None:
        raise not_found("The field definition", ["id"])
    return definition


@dataclass
class FieldSpec:
    """What an admin may set on a field; None means 'unchanged' on update."""

    label: str | None = None
    type: FieldType | None = None
    required: bool | None = None
    unique: bool | None = None
    indexed: bool | None = None
    options: list[dict[str, Any]] | None = None
    validation: dict[str, Any] | None = None
    default_value: Any = None
    currency: str | None = None
    clear: set[str] = field(default_factory=set)  # names of settings to reset to nothing

    @classmethod
    def of(cls, changes: Mapping[str, Any]) -> "FieldSpec":
        """The settings a client sent: null clears options, validation, the default value and
        the currency; the label, the type and the flags cannot be cleared."""
        refuse_clearing(changes, "label", "type", "required", "unique", "indexed")
        cleared = {name for name in CLEARABLE if name in changes and changes[name] is None}
        given = {name: value for name, value in changes.items() if value is not None}
        return cls(**given, clear={CLEARABLE[name] for name in cleared})


# Settings a field may be without, by their names here and in the API.
CLEARABLE = {
    "options": "options",
    "validation": "validation",
    "default_value": "defaultValue",
    "currency": "currency",
}


def _check_options(
    field_type: FieldType, options: list[dict[str, Any]] | None
) -> list[dict[str, Any]] | None:
    if field_type not in (FieldType.SELECT, FieldType.MULTI_SELECT):
        if options:
            raise UserFacingError.one(
                f"Only SELECT and MULTI_SELECT fields have options, not {field_type}",
                field=["options"],
            )
        return None
    if not options:
        raise UserFacingError.one(
            f"{a_or_an(field_type, sentence_start=True)} field needs at least one option",
            field=["options"],
        )
    if len(options) > MAX_OPTIONS:
        raise UserFacingError.one(f"A field has at most {MAX_OPTIONS} options", field=["options"])
    cleaned = []
    for index, option in enumerate(options):
        value = str(option.get("value") or "").strip()
        if not value or len(value) > 100:
            raise UserFacingError.one(
                "An option value must be 1 to 100 characters long",
                field=["options", str(index), "value"],
            )
        label = str(option.get("label") or value).strip()[:200]
        color = option.get("color")
        if color is not None and not COLOR_RE.match(color):
            raise UserFacingError.one(
                f"The colour {color!r} must be written as #RRGGBB",
                field=["options", str(index), "color"],
            )
        cleaned.append({"value": value, "label": label, "color": color})
    duplicates = [str(v) for v, n in Counter(o["value"] for o in cleaned).items() if n > 1]
    if duplicates:
        raise UserFacingError.one(
            f"Option values must be unique; repeated: {', '.join(duplicates)}", field=["options"]
        )
    return cleaned


def _check_validation(field_type: FieldType, rules: dict[str, Any] | None) -> dict[str, Any] | None:
    if not rules:
        return None
    rules = {k: v for k, v in rules.items() if v is not None}
    allowed: set[str] = set()
    if field_type in NUMERIC_TYPES or field_type in (FieldType.DATE,):
        allowed |= {"min", "max"}
    if field_type in TEXT_TYPES:
        allowed |= {"minLength", "maxLength", "pattern"}
    unknown = set(rules) - allowed
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        raise UserFacingError.one(
            f"{a_or_an(field_type, sentence_start=True)} field does not take "
            f"{', '.join(sorted(unknown))} (accepted: {accepted})",
            field=["validation"],
        )
    for bound in ("min", "max"):
        if bound in rules:
            if field_type == FieldType.DATE:
                try:
                    from services.values import parse_date

                    parse_date(rules[bound])
                except ValueError as exc:
                    raise UserFacingError.one(
                        f"{bound}: {exc}", field=["validation", bound]
                    ) from None
            elif isinstance(rules[bound], bool) or not isinstance(rules[bound], int | float):
                raise UserFacingError.one(f"{bound} must be a number", field=["validation", bound])
    if "min" in rules and "max" in rules and rules["min"] > rules["max"]:
        raise UserFacingError.one("min is greater than max", field=["validation"])
    for bound in ("minLength", "maxLength"):
        if bound in rules and (
            isinstance(rules[bound], bool) or not isinstance(rules[bound], int) or rules[bound] < 0
        ):
            raise UserFacingError.one(
                f"{bound} must be a whole number ≥ 0", field=["validation", bound]
            )
    if rules.get("minLength", 0) > rules.get("maxLength", float("inf")):
        raise UserFacingError.one("minLength is greater than maxLength", field=["validation"])
    if "pattern" in rules:
        pattern = rules["pattern"]
        if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_LENGTH:
            raise UserFacingError.one(
                f"pattern must be a regular expression of at most {MAX_PATTERN_LENGTH} characters",
                field=["validation", "pattern"],
            )
        try:
            compile_pattern(pattern)
        except ValueError as exc:
            raise UserFacingError.one(
                f"pattern is not a regular expression that can be used: {exc}",
                field=["validation", "pattern"],
            ) from None
    return rules or None


def _apply_spec(definition: FieldDefinition, spec: FieldSpec) -> None:
    """Set and check every setting of a (new or changed) definition, except the key."""
    if spec.label is not None:
        definition.label = check_label(spec.label, "label")
    if spec.type is not None:
        definition.type = spec.type
    field_type = FieldType(definition.type)
    for flag in ("required", "unique", "indexed"):
        if getattr(spec, flag) is not None:
            setattr(definition, flag, getattr(spec, flag))
    if definition.unique and field_type in NOT_UNIQUE_TYPES:
        raise UserFacingError.one(
            f"{a_or_an(field_type, sentence_start=True)} field cannot be unique", field=["unique"]
        )
    if definition.indexed and field_type in UNINDEXABLE_TYPES:
        raise UserFacingError.one(
            f"{a_or_an(field_type, sentence_start=True)} field cannot be indexed", field=["indexed"]
        )
    if definition.unique:
        definition.indexed = True  # a unique index serves filters and sorts too
    options = spec.options if spec.options is not None else definition.options
    definition.options = _check_options(field_type, None if "options" in spec.clear else options)
    rules = spec.validation if spec.validation is not None else definition.validation
    definition.validation = _check_validation(
        field_type, None if "validation" in spec.clear else rules
    )
    if spec.currency is not None and field_type != FieldType.MONEY:
        raise UserFacingError.one(
            f"Only MONEY fields have a currency, not {field_type}", field=["currency"]
        )
    currency = spec.currency if spec.currency is not None else definition.currency
    if "currency" in spec.clear or field_type != FieldType.MONEY:
        currency = None
    if currency is not None and not CURRENCY_RE.match(currency):
        raise UserFacingError.one(
            f"The currency {currency!r} must be an ISO 4217 code such as EUR", field=["currency"]
        )
    definition.currency = currency
    default = spec.default_value if spec.default_value is not None else definition.default_value
    if "defaultValue" in spec.clear:
        default = None
    # A default is checked when it is given, or when what it must fit changes; one kept as it
    # is stays, so that a rename never trips over a rule made after the default was set.
    reshaped = spec.type is not None or spec.options is not None or spec.validation is not None
    reshaped = reshaped or bool({"options", "validation"} & set(spec.clear))
    if default is not None and (spec.default_value is not None or reshaped):
        if field_type == FieldType.USER:
            raise UserFacingError.one("A USER field cannot have a default", field=["defaultValue"])
        try:
            default = coerce(definition, default)
        except ValueError as exc:
            raise UserFacingError.one(f"The default value {exc}", field=["defaultValue"]) from None
    definition.default_value = default


async def create_field(
    session: AsyncSession, *, category_id: int, key: str, spec: FieldSpec, position: int | None
) -> FieldDefinition:
    await _reshape(session, category_id)
    await get_category(session, category_id)
    check_key(key, "field")
    existing = await fields_of(session, [category_id])
    if any(f.key == key for f in existing):
        raise UserFacingError.one(
            f"The category already has a field with the key {key!r}",
            code=ErrorCode.DUPLICATE,
            field=["key"],
        )
    if len(existing) >= MAX_FIELDS_PER_CATEGORY:
        raise UserFacingError.one(
            f"A category has at most {MAX_FIELDS_PER_CATEGORY} fields", field=["key"]
        )
    if spec.label is None or spec.type is None:
        raise UserFacingError.one("A field needs a label and a type", field=["label"])
    if position is not None and position < 0:
        raise UserFacingError.one("The position must be 0 or more", field=["position"])
    definition = FieldDefinition(category_id=category_id, key=key, label="", type=spec.type)
    _apply_spec(definition, spec)
    # Insert at the asked position (the end by default) and renumber the others 0..n.
    ordered = sorted(existing, key=lambda f: (f.position, f.id or 0))
    ordered.insert(len(ordered) if position is None else min(position, len(ordered)), definition)
    for index, field_definition in enumerate(ordered):
        field_definition.position = index
    session.add(definition)
    await session.flush()
    if definition.unique:
        await _refuse_duplicates(session, definition)
    await create_field_index(session, definition)
    return definition


async def update_field(session: AsyncSession, *, field_id: int, spec: FieldSpec) -> FieldDefinition:
    definition = await _reshaped_field(session, field_id)
    before = FieldDefinition.model_validate(definition.model_dump())
    _apply_spec(definition, spec)
    definition.updated_at = utcnow()
    shape_changed = any(
        getattr(before, name) != getattr(definition, name)
        for name in ("type", "options", "validation")
    )
    if before.type != definition.type:
        # The old index types the old values; converted values may collide in it before the
        # duplicate check below can say so. It is rebuilt further down.
        await drop_field_index(session, field_id)
    if shape_changed:
        await _convert_values(session, before, definition)
    if definition.unique and (not before.unique or before.type != definition.type):
        await _refuse_duplicates(session, definition)
    await session.flush()
    index_changed = any(
        getattr(before, name) != getattr(definition, name) for name in ("type", "unique", "indexed")
    )
    if index_changed:
        await create_field_index(session, definition)
    if before.type != definition.type:
        await _refresh_search(session, definition.category_id)
    return definition


async def _refresh_search(session: AsyncSession, category_id: int) -> None:
    await refresh_search_text(session, category_id, await fields_of(session, [category_id]))


async def _convert_values(
    session: AsyncSession, before: FieldDefinition, after: FieldDefinition
) -> None:
    """Convert every stored value to the changed definition, or refuse and say how many block it."""
    dialect = (await session.connection()).dialect.name
    expression = value_expression(dialect, before.key, FieldType(before.type))
    rows = await session.execute(
        select(col(Contact.id), col(Contact.custom_values), col(Contact.version)).where(
            col(Contact.category_id) == before.category_id, expression.is_not(None)
        )
    )
    changed: dict[int, tuple[dict[str, Any], int]] = {}
    blocking: list[str] = []
    for contact_id, values, version in rows:
        stored = values.get(before.key)
        try:
            converted = convert(stored, before, after)
        except ValueError as exc:
            blocking.append(str(exc))
            continue
        if converted != stored or type(converted) is not type(stored):
            changed[contact_id] = ({**values, before.key: converted}, version)
    if blocking:
        raise UserFacingError(
            [
                Problem(
                    f"{len(blocking)} existing value(s) of {before.key!r} do not fit the new "
                    "definition "
                    f"(for example: {blocking[0]}); change or clear them first",
                    ErrorCode.CONFLICT,
                    ("type" if before.type != after.type else "options",),
                )
            ]
        )
    if changed:
        # A converted value is a change of the card: its version moves on.
        await session.execute(
            update(Contact),
            [
                {"id": contact_id, "custom_values": values, "version": version + 1}
                for contact_id, (values, version) in changed.items()
            ],
        )


async def _refuse_duplicates(session: AsyncSession, definition: FieldDefinition) -> None:
    dialect = (await session.connection()).dialect.name
    expression = value_expression(dialect, definition.key, FieldType(definition.type))
    duplicates = (
        await session.execute(
            select(func.count()).select_from(
                select(expression)
                .where(
                    col(Contact.category_id) == definition.category_id,
                    col(Contact.deleted_at).is_(None),
                    expression.is_not(None),
                )
                .group_by(expression)
                .having(func.count() > 1)
                .subquery()
            )
        )
    ).scalar_one()
    if duplicates:
        raise UserFacingError.one(
            f"{duplicates} value(s) of {definition.key!r} appear on more than one card; "
            "make them unique before marking the field unique",
            code=ErrorCode.CONFLICT,
            field=["unique"],
        )


async def set_field_archived(
    session: AsyncSession, *, field_id: int, archived: bool
) -> FieldDefinition:
    """Archive (hide, keep values) or restore a field."""
    definition = await _reshaped_field(session, field_id)
    if archived == (definition.archived_at is not None):
        return definition
    definition.archived_at = utcnow() if archived else None
    definition.updated_at = utcnow()
    await session.flush()
    # Archived values stay stored but are no longer searched (and are again once restored).
    await _refresh_search(session, definition.category_id)
    return definition


async def reorder_fields(
    session: AsyncSession, *, category_id: int, field_ids: Sequence[int]
) -> list[FieldDefinition]:
    await _reshape(session, category_id)
    await get_category(session, category_id)
    fields = await fields_of(session, [category_id])
    by_id = {f.id: f for f in fields}
    active = {f.id for f in fields if f.archived_at is None}
    given = list(field_ids)
    if len(set(given)) != len(given) or not set(given) <= set(by_id) or not active <= set(given):
        raise UserFacingError.one(
            "List every active field of the category exactly once "
            "(archived fields may be included)",
            field=["fieldIds"],
        )
    for position, field_id in enumerate(given):
        by_id[field_id].position = position
    rest = [f for f in fields if f.id not in set(given)]
    for offset, definition in enumerate(rest, start=len(given)):
        definition.position = offset
    await session.flush()
    return sorted(fields, key=lambda f: f.position)


# --- relations ---------------------------------------------------------------------------------


async def relations_of(
    session: AsyncSession, category_ids: Sequence[int]
) -> list[CategoryRelation]:
    """Relations that start or end at any of the categories."""
    rows = await session.execute(
        select(CategoryRelation)
        .where(
            or_(
                col(CategoryRelation.from_category_id).in_(category_ids),
                col(CategoryRelation.to_category_id).in_(category_ids),
            )
        )
        .order_by(col(CategoryRelation.id))
    )
    return list(rows.scalars())


def relation_keys(relations: Sequence[CategoryRelation], category_id: int) -> set[str]:
    """The names by which cards of a category reach their related cards."""
    keys = {r.key for r in relations if r.from_category_id == category_id}
    return keys | {r.inverse_key for r in relations if r.to_category_id == category_id}


async def create_relation(
    session: AsyncSession,
    *,
    key: str,
    name: str,
    inverse_key: str,
    inverse_name: str,
    from_category_id: int,
    to_category_id: int,
    cardinality: RelationCardinality,
) -> CategoryRelation:
    check_key(key, "relation")
    check_key(inverse_key, "inverse relation", "inverseKey")
    if key == inverse_key:
        raise UserFacingError.one("The key and the inverse key must differ", field=["inverseKey"])
    await _reshape(session, from_category_id, to_category_id)
    for category_id, field_name in (
        (from_category_id, "fromCategoryId"),
        (to_category_id, "toCategoryId"),
    ):
        if await session.get(Category, category_id) is None:
            raise not_found("The category", [field_name])
    existing = await relations_of(session, [from_category_id, to_category_id])
    if key in relation_keys(existing, from_category_id):
        raise UserFacingError.one(
            f"Cards of the source category already have a relation called {key!r}",
            code=ErrorCode.DUPLICATE,
            field=["key"],
        )
    if inverse_key in relation_keys(existing, to_category_id):
        raise UserFacingError.one(
            f"Cards of the target category already have a relation called {inverse_key!r}",
            code=ErrorCode.DUPLICATE,
            field=["inverseKey"],
        )
    relation = CategoryRelation(
        key=key,
        name=check_label(name, "name"),
        inverse_key=inverse_key,
        inverse_name=check_label(inverse_name, "inverseName"),
        from_category_id=from_category_id,
        to_category_id=to_category_id,
        cardinality=cardinality,
    )
    session.add(relation)
    await session.flush()
    return relation


async def delete_relation(session: AsyncSession, *, relation_id: int) -> None:
    relation = await session.get(CategoryRelation, relation_id)
    if relation is None:
        raise not_found("The relation", ["id"])
    await _reshape(session, relation.from_category_id, relation.to_category_id)
    await session.delete(relation)
    await session.flush()

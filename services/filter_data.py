"""A card filter as data: the JSON form of the API's ContactFilter (its own names, dates as
ISO 8601 text), in which statistics keep the filter that picks their cards; and back."""

from collections.abc import Mapping
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import Any

from services.contact_query import (
    ContactCondition,
    FieldCondition,
    TextCondition,
    TimeCondition,
)
from services.errors import UserFacingError
from services.wording import api_name

_TEXTS = ("name", "org_number", "email", "city", "country")
_TIMES = ("created_at", "updated_at")
# The same by their API names.
_TEXT_KEYS = {api_name(name): name for name in _TEXTS}
_TIME_KEYS = {api_name(name): name for name in _TIMES}
_TEXT_OPERATORS = {api_name(f.name.rstrip("_")): f.name for f in dataclass_fields(TextCondition)}
_TIME_OPERATORS = {f.name: f.name for f in dataclass_fields(TimeCondition)}
_FIELD_OPERATORS = {api_name(f.name.rstrip("_")): f.name for f in dataclass_fields(FieldCondition)}


def condition_to_data(condition: ContactCondition) -> dict[str, Any]:
    """The filter as the API spells it, without what is not set."""
    data: dict[str, Any] = {}
    if condition.and_:
        data["and"] = [condition_to_data(c) for c in condition.and_]
    if condition.or_:
        data["or"] = [condition_to_data(c) for c in condition.or_]
    if condition.not_ is not None:
        data["not"] = condition_to_data(condition.not_)
    for name in _TEXTS:
        if (text := getattr(condition, name)) is not None:
            data[api_name(name)] = _operators(text, _TEXT_OPERATORS)
    for name in _TIMES:
        if (time := getattr(condition, name)) is not None:
            data[api_name(name)] = {
                operator: value.isoformat()
                for operator, value in _operators(time, _TIME_OPERATORS).items()
            }
    if condition.fields:
        data["fields"] = [_operators(f, _FIELD_OPERATORS) for f in condition.fields]
    return data


def _operators(condition: Any, names: Mapping[str, str]) -> dict[str, Any]:
    return {
        api: getattr(condition, attribute)
        for api, attribute in names.items()
        if getattr(condition, attribute) is not None
    }


def condition_from_data(data: Any, path: list[str]) -> ContactCondition:
    """A filter kept as data, read back; what is not a filter is refused naming its place."""
    mapping = _mapping(data, path)
    condition = ContactCondition()
    for key, value in mapping.items():
        at = [*path, key]
        if key in ("and", "or"):
            items = _list(value, at)
            parts = [condition_from_data(item, [*at, str(i)]) for i, item in enumerate(items)]
            setattr(condition, f"{key}_", parts)
        elif key == "not":
            condition.not_ = condition_from_data(value, at)
        elif key in _TEXT_KEYS:
            setattr(condition, _TEXT_KEYS[key], TextCondition(**_given(value, _TEXT_OPERATORS, at)))
        elif key in _TIME_KEYS:
            given = _given(value, _TIME_OPERATORS, at)
            times = {name: _instant(moment, [*at, name]) for name, moment in given.items()}
            setattr(condition, _TIME_KEYS[key], TimeCondition(**times))
        elif key == "fields":
            items = _list(value, at)
            condition.fields = [_field(item, [*at, str(i)]) for i, item in enumerate(items)]
        else:
            raise UserFacingError.one(f"A filter has no condition {key!r}", field=at)
    return condition


def _field(value: Any, path: list[str]) -> FieldCondition:
    given = _given(value, _FIELD_OPERATORS, path)
    if not isinstance(given.get("key"), str):
        raise UserFacingError.one("A field condition names its field's key", field=[*path, "key"])
    return FieldCondition(**given)


def _mapping(value: Any, path: list[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UserFacingError.one("A filter is an object of conditions", field=path)
    return value


def _list(value: Any, path: list[str]) -> list[Any]:
    if not isinstance(value, list):
        raise UserFacingError.one("Expected a list of filters", field=path)
    return value


def _given(value: Any, names: Mapping[str, str], path: list[str]) -> dict[str, Any]:
    given = {}
    for key, operand in _mapping(value, path).items():
        if key not in names:
            raise UserFacingError.one(f"Unknown operator {key!r}", field=[*path, key])
        given[names[key]] = operand
    return given


def _instant(value: Any, path: list[str]) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise UserFacingError.one("Expected a date and time (ISO 8601)", field=path) from None

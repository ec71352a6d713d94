"""Date rules a form declares that need today's date: `x-not-past` (today or later: a trip's first
day) and `x-not-future` (today or earlier: the day a passport came back). JSON Schema cannot say
"today", so the engine checks these on every start and completion with its own clock (tests move
it), after the schema's own validation, for the fields the submission holds."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from engine.errors import FieldError

NOT_PAST, NOT_FUTURE = "x-not-past", "x-not-future"
#: the code of a date that has passed (the office may file such a request anyway: `Engine.start`)
PAST = "date_in_the_past"


def _dated(schema: Mapping[str, Any], data: Any, path: str = "") -> Iterator[tuple[str, Mapping[str, Any], Any]]:
    """(path, field schema, value) of every submitted value under `schema`'s properties."""
    if not isinstance(data, Mapping):
        return
    for key, child in (schema.get("properties") or {}).items():
        if key not in data or not isinstance(child, Mapping):
            continue
        where, value = f"{path}{key}", data[key]
        yield where, child, value
        if child.get("type") == "object":
            yield from _dated(child, value, f"{where}.")
        elif child.get("type") == "array" and isinstance(child.get("items"), Mapping) and isinstance(value, list):
            for index, item in enumerate(value):
                yield from _dated(child["items"], item, f"{where}.{index}.")


def date_rule_errors(schema: Mapping[str, Any] | None, data: Mapping[str, Any], today: date) -> list[FieldError]:
    """Each submitted date that breaks its field's `x-not-past` / `x-not-future` rule."""
    errors = []
    for path, field, value in _dated(schema or {}, data):
        if not (field.get(NOT_PAST) or field.get(NOT_FUTURE)) or not isinstance(value, str):
            continue
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            continue  # the schema's `format: date` already said so
        if field.get(NOT_PAST) and day < today:
            errors.append(FieldError(path, PAST, today=today.isoformat()))
        elif field.get(NOT_FUTURE) and day > today:
            errors.append(FieldError(path, "date_in_the_future", today=today.isoformat()))
    return errors

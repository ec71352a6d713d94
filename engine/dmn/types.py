"""Type references of a DMN model: a value that does not conform to its `typeRef` (base type,
item definition, allowed values) becomes null, as DMN 1.5 §7.3.4 says for decisions and input data."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from engine.dmn.model import PYTHON, ItemDefinition, Model
from engine.feel import YearsMonths, satisfies, scope_of

_BASE: dict[str, type | tuple[type, ...]] = {
    "number": Decimal,
    "string": str,
    "boolean": bool,
    "date": date,
    "time": time,
    "date and time": datetime,
    "dateTime": datetime,
    "days and time duration": timedelta,
    "dayTimeDuration": timedelta,
    "years and months duration": YearsMonths,
    "yearMonthDuration": YearsMonths,
    "context": dict,
    "list": list,
}
MAX_DEPTH = 16


def _base(type_ref: str) -> str:
    return type_ref.split(":", 1)[1] if type_ref.startswith(("feel:", "FEEL:")) else type_ref


def _is(value: Any, kind: str) -> bool:
    expected = _BASE[kind]
    if kind == "number" and isinstance(value, bool):
        return False
    if kind == "date" and isinstance(value, datetime):
        return False
    return isinstance(value, expected)


def conform(model: Model, type_ref: str | None, value: Any, depth: int = 0) -> Any:
    """`value` if it conforms to `type_ref` in `model`, else null (unknown types accept anything)."""
    if value is None or not type_ref or depth > MAX_DEPTH:
        return value
    kind = _base(type_ref)
    if kind in _BASE:
        return value if _is(value, kind) else None
    item = model.types.get(type_ref) or model.types.get(kind)
    return _conform_item(model, item, value, depth) if item is not None else value


def _conform_item(model: Model, item: ItemDefinition, value: Any, depth: int) -> Any:
    if item.is_collection:
        items = value if isinstance(value, list) else [value]
        single = ItemDefinition(item.name, item.type_ref, item.allowed, item.components)
        checked = [_conform_item(model, single, v, depth + 1) for v in items]
        return None if any(c is None and v is not None for c, v in zip(checked, items, strict=True)) else checked
    if item.components:
        if not isinstance(value, dict):
            return None
        return {k: conform_component(model, item.components.get(k), v, depth) for k, v in value.items()}
    if item.type_ref:
        value = conform(model, item.type_ref, value, depth + 1)
    allowed = item.allowed
    if value is not None and allowed is not None and allowed.language != PYTHON:
        return value if satisfies(allowed.text, value, scope_of({})) else None
    return value


def conform_component(model: Model, item: ItemDefinition | None, value: Any, depth: int) -> Any:
    return value if item is None else _conform_item(model, item, value, depth + 1)

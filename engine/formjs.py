"""Camunda Forms (`.form`, form-js JSON) as JSON Schema, converted once at deploy.

Waypoint renders and validates every form through one path (JSON Schema: web/render.py and
`engine.forms.validate_submission`), so a form-js file is translated into it with the same care:
field types (textfield/textarea → string, number → number, checkbox → boolean, datetime → date,
time or date-time string, checklist/taglist → array of choices), `validate.required`, select and
radio options (`values`), and the validation rules min/max, minLength/maxLength, pattern and
email. Groups (`path`) become nested objects. What cannot be translated faithfully (options
fetched at run time, expression or file-picker fields) raises `FormNotConvertible` naming the
field, which the check reports; display-only components (text, images, spacers) are left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: components that show something but hold no value
DISPLAY_ONLY = frozenset({"text", "html", "image", "spacer", "separator", "button", "iframe", "table", "default"})
_STRING_KINDS = frozenset({"textfield", "textarea"})
_CHOICE_KINDS = frozenset({"select", "radio"})
_MULTI_KINDS = frozenset({"checklist", "taglist"})
_DATETIME_FORMATS = {"date": "date", "time": "time", "datetime": "date-time"}


class FormNotConvertible(ValueError):
    """A form-js file Waypoint cannot render faithfully; `field` names the component."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def is_formjs(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("components"), list)


def convert_text(text: str) -> dict[str, Any]:
    """A `.form` file's text as a JSON Schema; FormNotConvertible when it is not a form Waypoint can show."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormNotConvertible(f"not valid JSON: {exc.msg} (line {exc.lineno})") from exc
    if not is_formjs(value):
        raise FormNotConvertible('not a Camunda form: it has no "components" list')
    return convert(value)


def convert(form: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a form-js document (see the module's docstring)."""
    schema: dict[str, Any] = {"type": "object", "properties": {}, "x-formjs": form.get("id") or True}
    _add_components(schema, form.get("components") or [])
    if not schema["properties"]:
        schema.pop("required", None)
    return schema


def _add_components(schema: dict[str, Any], components: list[Any]) -> None:
    for component in components:
        if not isinstance(component, Mapping):
            raise FormNotConvertible("a component is not an object")
        kind = str(component.get("type") or "")
        if kind in DISPLAY_ONLY:
            continue
        if kind in ("group", "dynamiclist"):
            _add_group(schema, component, kind)
            continue
        key = component.get("key")
        if not isinstance(key, str) or not key.strip():
            raise FormNotConvertible(f"a {kind or 'component'} field has no key", component.get("id"))
        target, name = _owner(schema, key)
        target["properties"][name] = _field(component, kind, key)
        if (component.get("validate") or {}).get("required"):
            target.setdefault("required", []).append(name)


def _add_group(schema: dict[str, Any], component: Mapping[str, Any], kind: str) -> None:
    path = (component.get("path") or "").strip()
    inner = component.get("components") or []
    if kind == "dynamiclist":
        if not path:
            raise FormNotConvertible("a dynamic list has no path", component.get("id"))
        item: dict[str, Any] = {"type": "object", "properties": {}}
        _add_components(item, inner)
        target, name = _owner(schema, path)
        target["properties"][name] = {"type": "array", "title": component.get("label") or name, "items": item}
        return
    if not path:  # a group without a path only lays its fields out
        _add_components(schema, inner)
        return
    target, name = _owner(schema, path)
    node = target["properties"].setdefault(name, {"type": "object", "properties": {}})
    node.setdefault("title", component.get("label") or name)
    _add_components(node, inner)


def _owner(schema: dict[str, Any], dotted: str) -> tuple[dict[str, Any], str]:
    """The object schema that holds the last part of a dotted key (`a.b.c` → the node of `a.b`, "c")."""
    parts = [p for p in dotted.split(".") if p]
    node = schema
    for part in parts[:-1]:
        node = node["properties"].setdefault(part, {"type": "object", "properties": {}, "title": part})
        if node.get("type") != "object":
            raise FormNotConvertible(f"'{dotted}' puts a field inside '{part}', which is not a group")
    return node, parts[-1]


def _field(component: Mapping[str, Any], kind: str, key: str) -> dict[str, Any]:
    validate = component.get("validate") or {}
    node: dict[str, Any] = {"title": component.get("label") or key}
    if component.get("description"):
        node["description"] = component["description"]
    if kind in _STRING_KINDS:
        node["type"] = "string"
        if kind == "textarea":
            node["x-widget"] = "textarea"
        _copy(validate, node, {"minLength": "minLength", "maxLength": "maxLength", "pattern": "pattern"})
        if validate.get("validationType") == "email":
            node["format"] = "email"
    elif kind == "number":
        node["type"] = "integer" if component.get("decimalDigits") == 0 else "number"
        _copy(validate, node, {"min": "minimum", "max": "maximum"})
    elif kind == "checkbox":
        node["type"] = "boolean"
    elif kind == "datetime":
        node["type"] = "string"
        node["format"] = _DATETIME_FORMATS.get(str(component.get("subtype") or "date"), "date")
    elif kind in _CHOICE_KINDS:
        node["oneOf"] = _options(component, key)
        if kind == "radio":
            node["x-widget"] = "radio"
    elif kind in _MULTI_KINDS:
        node.update(type="array", items={"oneOf": _options(component, key)}, uniqueItems=True)
    else:
        raise FormNotConvertible(f"field '{key}' is a '{kind}' component, which Waypoint cannot show", key)
    if "defaultValue" in component:
        node["default"] = component["defaultValue"]
    return node


def _copy(validate: Mapping[str, Any], node: dict[str, Any], names: Mapping[str, str]) -> None:
    for source, target in names.items():
        value = validate.get(source)
        if value is not None and value != "":
            node[target] = value


def _options(component: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    values = component.get("values")
    if not isinstance(values, list) or not values:
        raise FormNotConvertible(
            f"field '{key}' takes its options from process data (valuesKey/valuesExpression): "
            "list them in the form (values) instead",
            key,
        )
    options = []
    for entry in values:
        if not isinstance(entry, Mapping) or "value" not in entry:
            raise FormNotConvertible(f"an option of field '{key}' has no value", key)
        options.append({"const": entry["value"], "title": str(entry.get("label") or entry["value"])})
    return options

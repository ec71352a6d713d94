"""JSON Schema ↔ HTML forms: build field trees to render, parse posted forms back to JSON data.

Field names are dotted paths (`costs.airfare`, `members.0.name`), the same paths jsonschema
reports errors under, so every error lands next to its field. Supported: strings (text,
textarea, date), numbers (number, money), integers, booleans, labelled choices (`oneOf`
consts or `enum`, as select or radio), nested objects and arrays of objects or choices. A
`readOnly` property (a script fills it in) gets no input: only its title, for read-only display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from engine import forms

from .i18n import localized

INTERNAL_KEYS = frozenset({"instance_id", "process_key", "requester"})
#: rows of a repeated group are numbered `name.0.field`, `name.1.field`...: at most 4 digits
MAX_ROW_DIGITS = 4
_INDEXED = re.compile(r"^(?P<prefix>.+)\.(?P<index>\d+)(?:\.(?P<rest>.+))?$")


@dataclass
class Field:
    name: str
    key: str
    label: str
    help: str
    kind: str
    required: bool = False
    value: Any = None
    error: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)
    children: list[Field] = field(default_factory=list)
    rows: list[list[Field]] = field(default_factory=list)
    template: list[Field] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    #: whether this field is the form's decision, shown as one button per choice: the decision
    #: field of `engine.forms.decision_form` (one rule for one click, bulk, email and this page)
    decision: bool = False

    @property
    def id(self) -> str:
        return "f-" + self.name.replace(".", "-")


def choices(node: dict[str, Any]) -> list[tuple[str, str]] | None:
    """(value, label) pairs of a labelled choice (`engine.forms.choices`, labels in the page's
    language), or None when the node is not a choice."""
    options = forms.choices(node)
    if options is None:
        return None
    return [(str(value), localized(dict(label), "title", str(value))) for value, label in options]


def _kind(node: dict[str, Any]) -> str:
    if choices(node) is not None:
        return "radio" if node.get("x-widget") == "radio" else "select"
    kind = node.get("type")
    if kind == "object":
        return "object"
    if kind == "array":
        return "array"
    if kind == "boolean":
        return "checkbox"
    if kind in ("number", "integer"):
        return "money" if node.get("x-widget") == "money" else kind
    if node.get("format") == "date":
        return "date"
    if node.get("x-widget") == "textarea":
        return "textarea"
    return "text"


def build_fields(
    schema: dict[str, Any] | None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    prefix: str = "",
) -> list[Field]:
    """Fields for every property of an object schema, filled with `values` and `errors`."""
    if not schema:
        return []
    values = values or {}
    errors = errors or {}
    required = set(schema.get("required", []))
    fields = [
        _field(key, node, values.get(key), errors, prefix, key in required)
        for key, node in schema.get("properties", {}).items()
        if not _read_only(node)
    ]
    rule = forms.decision_form(schema) if not prefix else None
    for f in fields:
        f.decision = rule is not None and f.key == rule.decision_field and f.kind in ("radio", "select")
    return fields


def _read_only(node: Any) -> bool:
    """A property Waypoint fills in (JSON Schema `readOnly`, such as a member's reference): no
    input for it, nothing taken from a post, but its title labels it where the request is shown."""
    return isinstance(node, dict) and node.get("readOnly") is True


def _field(key: str, node: dict[str, Any], value: Any, errors: dict[str, str], prefix: str, required: bool) -> Field:
    name = f"{prefix}{key}"
    f = Field(
        name=name,
        key=key,
        label=localized(node, "title", key.replace("_", " ").capitalize()),
        help=localized(node, "description"),
        kind=_kind(node),
        required=required,
        value=value,
        error=errors.get(name),
    )
    f.options = choices(node) or []
    for attr, schema_key in (
        ("minlength", "minLength"),
        ("maxlength", "maxLength"),
        ("min", "minimum"),
        ("max", "maximum"),
    ):
        if schema_key in node:
            f.attrs[attr] = node[schema_key]
    if f.kind == "money":
        f.attrs.setdefault("step", "0.01")
    elif f.kind == "number":
        f.attrs.setdefault("step", "any")
    if f.kind == "object":
        f.children = build_fields(node, value if isinstance(value, dict) else {}, errors, f"{name}.")
    elif f.kind == "array":
        items = node.get("items", {})
        if items.get("type") == "object":
            rows = value if isinstance(value, list) else []
            f.rows = [
                build_fields(items, r if isinstance(r, dict) else {}, errors, f"{name}.{i}.")
                for i, r in enumerate(rows)
            ]
            if not f.rows and required:
                f.rows = [build_fields(items, {}, errors, f"{name}.0.")]
            f.template = build_fields(items, {}, {}, f"{name}.__index__.")
        else:
            f.options = choices(items) or []
            f.kind = "multi" if f.options else "list"
            f.value = value if isinstance(value, list) else []
    return f


def parse_form(schema: dict[str, Any] | None, form: MultiDict) -> tuple[dict[str, Any], dict[str, str]]:
    """Posted form → JSON data for `schema`, plus conversion errors by field path."""
    errors: dict[str, str] = {}
    data = _parse_object(schema or {}, form, "", errors)
    return data, errors


def _parse_object(schema: dict[str, Any], form: MultiDict, prefix: str, errors: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, node in schema.get("properties", {}).items():
        if _read_only(node):
            continue
        name = f"{prefix}{key}"
        value = _parse_value(node, form, name, errors)
        if value is not None:
            out[key] = value
    return out


def _parse_value(node: dict[str, Any], form: MultiDict, name: str, errors: dict[str, str]) -> Any:
    kind = _kind(node)
    if kind == "object":
        inner = _parse_object(node, form, f"{name}.", errors)
        return inner or None
    if kind == "array":
        items = node.get("items", {})
        if items.get("type") == "object":
            found = [m.group("index") for k in form if (m := _INDEXED.match(k)) and m.group("prefix") == name]
            if any(len(index) > MAX_ROW_DIGITS for index in found):  # a 5,000-digit index: no int() of it
                errors[name] = _("give at most %(limit)s", limit=10**MAX_ROW_DIGITS)
                return None
            indexes = sorted({int(index) for index in found})
            rows = [_parse_object(items, form, f"{name}.{i}.", errors) for i in indexes]
            return [r for r in rows if r] or None
        entries = [line.strip() for v in form.getlist(name) for line in v.splitlines() if line.strip()]
        return [_const(items, v) if choices(items) else v for v in entries] or None
    if kind == "checkbox":
        return name in form
    raw = (form.get(name) or "").strip()
    if raw == "":
        return None
    if kind in ("select", "radio"):
        return _const(node, raw)
    if kind in ("number", "money", "integer"):
        cleaned = raw.replace(" ", "").replace("\u00a0", "").replace("$", "")
        if "," in cleaned and "." not in cleaned:
            cleaned = cleaned.replace(",", ".")  # French decimal comma
        cleaned = cleaned.replace(",", "")
        try:
            number = float(cleaned)
        except ValueError:
            errors[name] = _("enter a number")
            return None
        if kind == "integer":
            if not number.is_integer():
                errors[name] = _("enter a whole number")
                return None
            return int(number)
        return int(number) if number.is_integer() and kind != "money" else number
    return raw


def _const(node: dict[str, Any], raw: str) -> Any:
    """The choice whose text is `raw`, with its JSON type (1, not "1"); `raw` when none matches."""
    return next((c for c, _ in forms.choices(node) or () if str(c) == raw), raw)


def label_map(schemas: list[dict[str, Any]]) -> dict[Any, str]:
    """Localized titles over every form of a process version, for read-only data: field path
    ("members.name", array items without an index) → title, the bare key → the first title found
    for it, and (field key, choice value) → the choice's label. Paths keep two forms' `name`
    fields apart (a member's name is no "Site")."""
    labels: dict[Any, str] = {}

    def walk(node: dict[str, Any], prefix: str = "") -> None:
        for key, child in (node.get("properties") or {}).items():
            title = localized(child, "title", key)
            labels.setdefault(prefix + key, title)
            labels.setdefault(key, title)
            for value, label in choices(child) or []:
                labels.setdefault((key, value), label)
            if child.get("type") == "object":
                walk(child, f"{prefix}{key}.")
            elif child.get("type") == "array" and isinstance(child.get("items"), dict):
                for value, label in choices(child["items"]) or []:  # a list of choices: countries...
                    labels.setdefault((key, value), label)
                walk(child["items"], f"{prefix}{key}.")

    for schema in schemas:
        walk(schema)
    return labels


def label_of(labels: dict[Any, str], path: str, key: str) -> str:
    """A read-only field's title: by its path, else by its key, else its key in words."""
    return labels.get(path) or labels.get(key) or key.replace("_", " ").capitalize()


def visible_data(data: dict[str, Any]) -> dict[str, Any]:
    """Task data without engine bookkeeping and empty values, for read-only display."""
    return {k: v for k, v in data.items() if k not in INTERNAL_KEYS and not k.startswith("_") and v not in (None, "")}


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(visible_data=visible_data, label_of=label_of)
    app.jinja_env.tests["mapping"] = lambda v: isinstance(v, dict)
    app.jinja_env.tests["sequence_of_mappings"] = lambda v: (
        isinstance(v, list) and bool(v) and all(isinstance(i, dict) for i in v)
    )
    app.jinja_env.tests["number"] = lambda v: isinstance(v, int | float) and not isinstance(v, bool)
    # the audit details a timeline shows: decisions and comments (engine.forms names them), outcome, reason
    app.jinja_env.tests["shown_detail"] = lambda k: (
        forms.is_decision_field(k) or forms.is_comment_field(k) or k in ("outcome", "reason", "message")
    )

"""Forms: server-side validation of submissions against a task's JSON Schema, and the decision rule.

The decision rule is the naming convention of decision and comment fields and the answer to
"can this step be decided in one click?", which serves email links, reply-to-approve, bulk
approval, the task page's decision buttons and the audit trail alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from engine import countries
from engine.errors import FieldError, ValidationFailed, schema_field_error

MAX_SUBMISSION_BYTES = 256 * 1024
#: how deep lists and objects may nest in submitted data (real forms use 3)
MAX_NESTING = 16
_FORMATS = FormatChecker()


def validate_submission(
    schema: Mapping[str, Any] | None,
    data: Mapping[str, Any] | None,
    *,
    reserved: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Return the submitted data when it satisfies `schema`; raise ValidationFailed otherwise.

    Only fields the form declares are accepted, so a submission cannot overwrite other
    process variables; without a form, no data is accepted at all.
    """
    data = dict(data or {})
    if not all(isinstance(k, str) for k in data):
        raise ValidationFailed("field_names_not_strings")
    if _too_deep(data, MAX_NESTING):  # before anything below recurses into it
        raise ValidationFailed("submission_too_deep", limit=MAX_NESTING)
    try:
        size = len(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("not_plain_json", detail=str(exc)) from exc
    if size > MAX_SUBMISSION_BYTES:
        raise ValidationFailed("submission_too_large", size=f"{size:,}", limit=f"{MAX_SUBMISSION_BYTES:,}")
    nul = sorted(_nul_paths(data))
    if nul:  # PostgreSQL text cannot hold NUL: refuse it here rather than fail at the database
        raise ValidationFailed("form_has_errors", [FieldError(path, "nul_character") for path in nul])
    declared = set((schema or {}).get("properties", {}))
    errors = [FieldError(key, "unknown_field") for key in sorted(data) if key not in declared or key in reserved]
    if schema is not None:
        validator = Draft202012Validator(schema, format_checker=_FORMATS)
        for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
            errors.append(schema_field_error(error))
    if errors:
        raise ValidationFailed("form_has_errors", errors)
    return data


def _too_deep(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` levels (walked without recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list | tuple):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _nul_paths(value: Any, path: str = "") -> list[str]:
    """Dotted paths of the strings (keys or values) under `value` that contain a NUL character."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, Mapping):
        found = []
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            found += [child] if "\x00" in str(key) else _nul_paths(item, child)
        return found
    if isinstance(value, list | tuple):
        return [p for i, item in enumerate(value) for p in _nul_paths(item, f"{path}.{i}" if path else str(i))]
    return []


# --- decision forms ---------------------------------------------------------------------------------
#: The words a person can give in one click (an email link or reply, bulk approval).
ONE_CLICK_VERBS = ("approve", "reject")


def is_decision_field(key: str) -> bool:
    """A form's decision is its field named `decision` or ending in `_decision`."""
    return key == "decision" or key.endswith("_decision")


def is_comment_field(key: str) -> bool:
    """A form's comment is its field named `comment` or ending in `_comment`."""
    return key == "comment" or key.endswith("_comment")


def decision_details(data: Mapping[str, Any]) -> dict[str, str]:
    """The decision and comment texts of a submission, as the audit trail keeps them."""
    return {
        key: value[:1000]
        for key, value in data.items()
        if (is_decision_field(key) or is_comment_field(key)) and isinstance(value, str)
    }


@dataclass(frozen=True)
class DecisionForm:
    """How a task's form takes a one-word decision."""

    decision_field: str
    comment_field: str | None
    values: tuple[str, ...]
    other_required: tuple[str, ...]

    def allows(self, verb: str) -> bool:
        """Whether `verb` can be given in one click: a one-click word the decision offers, and
        nothing else required than an optional comment."""
        return verb in ONE_CLICK_VERBS and verb in self.values and not self.other_required

    def submission(self, verb: str, comment: str = "") -> dict[str, Any]:
        """The form data that gives `verb`, with `comment` in the comment field when there is one."""
        data: dict[str, Any] = {self.decision_field: verb}
        comment = comment.strip()
        if comment and self.comment_field:
            data[self.comment_field] = comment[:2000]
        return data


def decision_form(schema: Mapping[str, Any] | None) -> DecisionForm | None:
    """The decision and comment fields of a form, or None unless it has exactly one decision field
    (a field marked `"x-decision": true`, as default forms mark their outcome, else by its name)."""
    properties = (schema or {}).get("properties") or {}
    marked = [key for key, node in properties.items() if isinstance(node, Mapping) and node.get("x-decision")]
    decisions = marked or [key for key in properties if is_decision_field(key)]
    if len(decisions) != 1:
        return None
    decision = decisions[0]
    prefix = decision[: -len("decision")]
    comments = [k for k in properties if k == f"{prefix}comment"] or [k for k in properties if is_comment_field(k)]
    comment = comments[0] if comments else None
    required = tuple(r for r in (schema or {}).get("required") or () if r not in (decision, comment))
    values = tuple(str(v) for v, _ in choices(properties[decision]) or ())
    return DecisionForm(decision, comment, values, required)


def choices(node: Mapping[str, Any]) -> list[tuple[Any, Mapping[str, Any]]] | None:
    """A labelled choice's options, in order, or None when `node` is not a choice.

    Each option is (its JSON value, the node that labels it: `title`, French in `x-fr.title`).
    A choice is a `oneOf` of consts (each const's node labels it) or an `enum` (labelled by
    `x-enumLabels`, French in `x-fr.x-enumLabels`). Pages, the decision rule and the demo read
    choices only through this.
    """
    if node.get("x-widget") == "country":  # the country picker: ISO codes named in both languages
        return list(countries.choices())
    one_of = node.get("oneOf")
    if isinstance(one_of, list) and all(isinstance(o, Mapping) and "const" in o for o in one_of):
        return [(o["const"], o) for o in one_of]
    enum = node.get("enum")
    if isinstance(enum, list):
        labels = _mapping(node.get("x-enumLabels"))
        french = _mapping(_mapping(node.get("x-fr")).get("x-enumLabels"))
        return [(v, {"title": labels.get(str(v)), "x-fr": {"title": french.get(str(v))}}) for v in enum]
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}

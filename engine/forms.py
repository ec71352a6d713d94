"""Server-side validation of form submissions against the task's JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from engine.errors import ValidationFailed

MAX_SUBMISSION_BYTES = 256 * 1024
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
        raise ValidationFailed("field names must be strings")
    try:
        size = len(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"data is not plain JSON (finite numbers, strings, lists, objects): {exc}") from exc
    if size > MAX_SUBMISSION_BYTES:
        raise ValidationFailed(f"submission is {size:,} bytes, over the {MAX_SUBMISSION_BYTES:,}-byte limit")
    nul = sorted(_nul_paths(data))
    if nul:  # PostgreSQL text cannot hold NUL: refuse it here rather than fail at the database
        raise ValidationFailed("the form has errors", [(path, "text may not contain NUL characters") for path in nul])
    errors: list[tuple[str, str]] = []
    declared = set((schema or {}).get("properties", {}))
    for key in sorted(data):
        if key not in declared or key in reserved:
            errors.append((key, "this form has no such field"))
    if schema is not None:
        validator = Draft202012Validator(schema, format_checker=_FORMATS)
        for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
            path = ".".join(str(p) for p in error.absolute_path)
            if error.validator == "required":
                missing = error.message.split("'")[1] if "'" in error.message else ""
                path = ".".join(p for p in (path, missing) if p)
                errors.append((path, "this field is required"))
            else:
                errors.append((path, error.message))
    if errors:
        raise ValidationFailed("the form has errors", errors)
    return data


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

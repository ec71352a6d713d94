"""Opaque page cursors: the sort key of the last row of a page, as URL-safe base64 JSON."""

from __future__ import annotations

import base64
import json
from typing import Any

from engine import ValidationFailed
from engine.errors import FieldError


def _fits(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 2**31 - 1
    return isinstance(value, kind) and len(str(value)) <= 64


def encode(kind: str, key: list[Any]) -> str:
    """A cursor continuing after `key` in a list of `kind`."""
    text = json.dumps({"k": kind, "v": key}, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(kind: str, cursor: str | None, types: tuple[type, ...]) -> list[Any] | None:
    """The key in a cursor made by `encode(kind, ...)`, of these item types; None for no cursor.

    :raise ValidationFailed: the cursor is malformed or from another list.
    """
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        key = data["v"]
        if (
            data["k"] == kind
            and isinstance(key, list)
            and len(key) == len(types)
            and all(_fits(v, t) for v, t in zip(key, types, strict=True))
        ):
            return key
    except (ValueError, KeyError, TypeError):
        pass
    raise ValidationFailed("invalid_cursor", [FieldError("cursor", "use_next_cursor")])

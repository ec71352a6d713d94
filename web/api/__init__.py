"""Waypoint's JSON REST API (`/api/v1/`), its OpenAPI document, and the token pages of the web UI.

`bp` (blueprint `api`) holds the bearer-authenticated JSON endpoints; it is CSRF-exempt because
it never reads the session cookie. `ui_bp` (blueprint `api_ui`) holds the signed-in pages where
people manage their tokens and admins manage service accounts (ordinary CSRF-protected forms).
"""

from __future__ import annotations

from . import (  # noqa: F401  (register routes)
    attachments,
    instances,
    messages,
    meta,
    processes,
    roles,
    signals,
    task_events,
    tasks,
)
from .blueprint import bp
from .ui import bp as ui_bp

__all__ = ["bp", "ui_bp"]

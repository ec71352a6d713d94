"""CSRF protection: every POST carries the session's token (form field or X-CSRF-Token header)."""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, request, session

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def token() -> str:
    """This session's token, created on first use."""
    if FIELD not in session:
        session[FIELD] = secrets.token_urlsafe(32)
    return session[FIELD]


def rotate() -> None:
    session[FIELD] = secrets.token_urlsafe(32)


def _check() -> None:
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    if request.blueprint in _EXEMPT:
        return
    sent = request.form.get(FIELD) or request.headers.get(HEADER) or ""
    expected = session.get(FIELD)
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="csrf")


_EXEMPT: set[str] = set()


def exempt(blueprint_name: str) -> None:
    """Exclude a blueprint whose POSTs authenticate otherwise (signed single-use tokens, API bearer)."""
    _EXEMPT.add(blueprint_name)


def init_app(app: Flask) -> None:
    app.before_request(_check)
    app.jinja_env.globals["csrf_token"] = token

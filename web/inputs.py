"""Input hygiene for every request: NUL characters are refused with 400 before any view runs.

PostgreSQL cannot store NUL in text, so a NUL in a task id, a search, a sign-in name or a form
field would otherwise surface as a database error (a 500) on PostgreSQL only.
"""

from __future__ import annotations

from flask import Flask, abort, request
from flask_babel import gettext as _


def _has_nul() -> bool:
    if "\x00" in request.path:
        return True
    if any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
        return True
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.is_json:
            body = request.get_data(cache=True)
            return b"\x00" in body or b"\\u0000" in body
        if request.blueprint == "api":
            return False  # its bodies are read raw (idempotency hashes): parse nothing here
        if any("\x00" in (k or "") or "\x00" in (v or "") for k, v in request.form.items(multi=True)):
            return True
        if any("\x00" in (f.filename or "") for f in request.files.values()):
            return True
    return False


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_nul():
        if _has_nul():
            abort(400, description=_("Text may not contain NUL characters."))

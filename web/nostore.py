"""`Cache-Control: no-store` on every page, export and API answer: any of them may show personal
data (a revealed request, a task form, a subject access export, a CSV), and a shared or
back-button cache must not keep it. Static files and vendored scripts stay cacheable."""

from __future__ import annotations

from flask import Flask, Response, request

#: endpoints that serve the same files to everyone
CACHEABLE = frozenset({"static", "vendor"})


def init_app(app: Flask) -> None:
    """Send `no-store` on every answer but static files."""

    @app.after_request
    def no_store(response: Response) -> Response:
        if request.endpoint not in CACHEABLE:
            response.headers["Cache-Control"] = "no-store"
        return response

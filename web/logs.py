"""Request logging: a request id on every request (kept from X-Request-Id or made up), echoed in
the response, and one log line per request, as JSON when `Settings.log_json` (WAYPOINT_LOG_JSON=1)."""

from __future__ import annotations

import logging
import re
import secrets
import time

from flask import Flask, g, request

from engine.config import Settings
from engine.logs import configure

log = logging.getLogger("waypoint.requests")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def init_app(app: Flask, settings: Settings) -> None:
    """Log set-up (shared with the worker: engine/logs.py) and the request id and log line hooks."""
    if not app.testing:
        configure(settings.log_json)

    @app.before_request
    def start() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _SAFE_ID.match(incoming) else secrets.token_hex(8)
        g.started = time.perf_counter()

    @app.after_request
    def finish(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if request.endpoint not in ("static", "vendor"):
            user = g.get("user")
            fields = {
                "request_id": g.get("request_id"),
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1),
                "user": user.username if user is not None else None,
            }
            log.info("%(method)s %(path)s %(status)s %(ms)sms", fields, extra={"fields": fields})
        return response

"""Request logging: a request id on every request (kept from X-Request-Id or made up), echoed in
the response, and one log line per request, as JSON when WAYPOINT_LOG_JSON=1."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time

from flask import Flask, g, request

log = logging.getLogger("waypoint.requests")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any request fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(json_lines: bool) -> None:
    """Log to stderr at INFO, as JSON lines or plain text."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger("waypoint")
    if not any(isinstance(h, logging.StreamHandler) for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(logging.INFO)


def init_app(app: Flask) -> None:
    if not app.testing:
        configure(os.environ.get("WAYPOINT_LOG_JSON") == "1")

    @app.before_request
    def start() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _SAFE_ID.match(incoming) else secrets.token_hex(8)
        g.started = time.perf_counter()

    @app.after_request
    def finish(response):  # type: ignore[no-untyped-def]
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

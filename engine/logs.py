"""Logging set-up shared by the web process and the worker: `waypoint.*` loggers to stderr at INFO
(and APScheduler's, which the worker runs on, at WARNING), one JSON object per line when
`Settings.log_json` (WAYPOINT_LOG_JSON=1), else plain text."""

from __future__ import annotations

import json
import logging

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


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


#: the loggers Waypoint's processes write, and the level each starts at
LOGGERS = {"waypoint": logging.INFO, "apscheduler": logging.WARNING}


def configure(json_lines: bool) -> None:
    """Log Waypoint's loggers to stderr, as JSON lines or plain text (once per process)."""
    for name, level in LOGGERS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.StreamHandler) for h in logger.handlers):
            handler = logging.StreamHandler()
            handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(PLAIN_FORMAT))
            logger.addHandler(handler)
        logger.setLevel(level)

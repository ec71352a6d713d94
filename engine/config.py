"""Settings read from `WAYPOINT_*` environment variables, with safe defaults for a laptop."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SECRET_KEY = "dev-insecure-change-me"
DEFAULT_DATABASE_URL = "sqlite:///instance/waypoint.db"


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class SmtpSettings:
    """Where outgoing mail goes (`WAYPOINT_SMTP_*`)."""

    host: str = "127.0.0.1"
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    sender: str = "waypoint@localhost"
    timeout: float = 10.0


@dataclass(frozen=True)
class Settings:
    """Everything configurable about a Waypoint process."""

    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str = DEFAULT_SECRET_KEY
    environment: str = "development"
    timezone: str = "America/Toronto"
    base_url: str = "http://127.0.0.1:5000"
    https: bool = False
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    #: `kid:base64key[,...]` for personal data at rest (engine/privacy.py)
    data_key: str | None = None

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Build settings from `env` (default: the process environment)."""
        e = os.environ if env is None else env
        smtp = SmtpSettings(
            host=e.get("WAYPOINT_SMTP_HOST", "127.0.0.1"),
            port=int(e.get("WAYPOINT_SMTP_PORT", "25")),
            username=e.get("WAYPOINT_SMTP_USER") or None,
            password=e.get("WAYPOINT_SMTP_PASSWORD") or None,
            starttls=_bool(e.get("WAYPOINT_SMTP_STARTTLS")),
            ssl=_bool(e.get("WAYPOINT_SMTP_SSL")),
            sender=e.get("WAYPOINT_SMTP_FROM", "waypoint@localhost"),
            timeout=float(e.get("WAYPOINT_SMTP_TIMEOUT", "10")),
        )
        return cls(
            database_url=e.get("WAYPOINT_DATABASE_URL") or DEFAULT_DATABASE_URL,
            secret_key=e.get("WAYPOINT_SECRET_KEY") or DEFAULT_SECRET_KEY,
            environment=e.get("WAYPOINT_ENV", "development"),
            timezone=e.get("WAYPOINT_TIMEZONE", "America/Toronto"),
            base_url=e.get("WAYPOINT_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
            https=_bool(e.get("WAYPOINT_HTTPS")),
            smtp=smtp,
            data_key=e.get("WAYPOINT_DATA_KEY") or _read_key_file(e.get("WAYPOINT_DATA_KEY_FILE", "instance/data.key")),
        )


def _read_key_file(path: str) -> str | None:
    """The key in `path` when the file exists (how `make run` keeps its development key)."""
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


def ensure_sqlite_directory(database_url: str) -> None:
    """Create the folder of a file-based SQLite URL so a fresh checkout just works."""
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and ":memory:" not in database_url:
        path = Path(database_url[len(prefix) :].split("?", 1)[0])
        if str(path):
            path.parent.mkdir(parents=True, exist_ok=True)

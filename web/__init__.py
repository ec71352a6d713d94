"""Waypoint's web application (Flask app factory; the inbox lands in its own issue)."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template

from engine import Database, Engine, Settings
from engine.config import DEFAULT_SECRET_KEY
from engine.queries import list_processes


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment, then `config` overrides (tests)."""
    settings = Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        WAYPOINT_SETTINGS=settings,
        DATABASE_URL=settings.database_url,
    )
    if config:
        app.config.update(config)
    if settings.is_production and app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY:
        raise RuntimeError("WAYPOINT_SECRET_KEY must be set in production")
    db = app.config.get("WAYPOINT_DB") or Database(app.config["DATABASE_URL"])
    db.check_schema()  # refuse to start on a schema that is behind
    engine = app.config.get("WAYPOINT_ENGINE") or Engine(office_tz=settings.timezone)
    app.extensions["waypoint.db"] = db
    app.extensions["waypoint.engine"] = engine

    @app.get("/")
    def home() -> str:
        """Placeholder home page: what is deployed."""
        with db.reading() as session:
            processes = list_processes(session)
        return render_template("home.html", processes=processes)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the database answers."""
        db.check_schema()
        return {"status": "ok"}

    return app

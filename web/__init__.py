"""Waypoint's web application: the Flask app factory, wiring blueprints, security and errors.

`web/` talks only to `engine/`: views open a transaction with `db.transaction()` (or
`db.reading()`), call the engine facade or its query modules, and render Jinja2 templates.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, abort, redirect, request, send_from_directory, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

import workflows
from engine import Database, Engine, Settings
from engine.attachments import AttachmentStore
from engine.config import DEFAULT_SECRET_KEY
from engine.heap import settle
from engine.people.throttle import Policy

from . import csrf, email_actions, errors, i18n, inputs, logs, nostore, process_text, render, request_status

#: Front-end packages installed from the npm registry (package.json), served read-only.
NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
VENDOR_PACKAGES = frozenset({"bpmn-js", "dmn-js", "@bpmn-io/form-js"})


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment (read here, once), then `config` overrides (tests).

    The composition root: one `Settings` (or `config["WAYPOINT_SETTINGS"]`), one `Engine` with the
    `workflows` glue (or `config["WAYPOINT_ENGINE"]`), one database."""
    settings = (config or {}).get("WAYPOINT_SETTINGS") or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        WAYPOINT_SETTINGS=settings,
        DATABASE_URL=settings.database_url,
        ATTACHMENTS_DIR=str(settings.attachments_dir),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        SESSION_COOKIE_NAME="waypoint_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
        MAX_CONTENT_LENGTH=12 * 1024 * 1024,
        LOGIN_POLICY=Policy(free=5, window=timedelta(hours=1)),
        API_AUTH_POLICY=Policy(free=20, window=timedelta(hours=1), first=timedelta(seconds=10)),
    )
    if config:
        app.config.update(config)
    if settings.is_production and app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY:
        raise RuntimeError("WAYPOINT_SECRET_KEY must be set to a long random value in production")
    if settings.is_production and not settings.data_key:
        raise RuntimeError("WAYPOINT_DATA_KEY must be set in production (personal data is encrypted with it)")
    if settings.is_production and not app.config["SESSION_COOKIE_SECURE"]:
        raise RuntimeError("production serves over HTTPS: set WAYPOINT_HTTPS=1 (Secure session cookie, HSTS)")
    if settings.security.trusted_proxies:
        n = settings.security.trusted_proxies  # only these hops may say who the client is
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    db = app.config.get("WAYPOINT_DB") or Database(app.config["DATABASE_URL"])
    db.check_schema()  # refuse to start on a schema that is behind
    engine = app.config.get("WAYPOINT_ENGINE") or Engine.from_settings(settings, workflows.registry())
    engine.vault.check()  # a malformed key is a clear error now, not on the first request
    app.extensions["waypoint.db"] = db
    app.extensions["waypoint.engine"] = engine
    app.extensions["waypoint.attachments"] = AttachmentStore(app.config["ATTACHMENTS_DIR"], engine.vault)

    logs.init_app(app, settings)
    i18n.init_app(app)
    process_text.init_app(app)
    request_status.init_app(app)
    inputs.init_app(app)  # before the CSRF check: NUL anywhere in a request is a 400
    csrf.init_app(app)
    errors.init_app(app)
    render.init_app(app)

    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .api import ui_bp as api_ui_bp
    from .auth import bp as auth_bp
    from .auth import load_user
    from .delegation import bp as delegation_bp
    from .designer import bp as designer_bp
    from .dev_mail import bp as dev_mail_bp
    from .inbox import bp as inbox_bp
    from .login_oidc import bp as login_oidc_bp
    from .ops import bp as ops_bp
    from .people_admin import bp as people_admin_bp
    from .register import bp as register_bp
    from .reports import bp as reports_bp
    from .requests import bp as requests_bp
    from .roles import bp as roles_bp
    from .task_events import bp as task_events_bp

    app.before_request(load_user)
    blueprints = [auth_bp, inbox_bp, requests_bp, register_bp, admin_bp, designer_bp, api_bp, api_ui_bp, reports_bp]
    blueprints += [delegation_bp, dev_mail_bp]
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.register_blueprint(roles_bp)  # /admin/roles: roles as data
    app.register_blueprint(task_events_bp)  # /tasks/<id>/raise: a task's error and escalation buttons
    app.register_blueprint(ops_bp)  # /healthz and /metrics, for the load balancer and Prometheus
    app.register_blueprint(login_oidc_bp)  # single sign-on: /login/oidc, its callback, the provider's sign-out
    app.register_blueprint(people_admin_bp)  # /admin/people and /admin/groups
    csrf.exempt(api_bp.name)  # bearer tokens, never the session cookie
    email_actions.init_app(app)  # links in emails: confirm-then-act pages
    nostore.init_app(app)  # pages and exports may show personal data: no cache keeps them

    @app.after_request
    def security_headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if settings.https or request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.get("/")
    def home():
        """The inbox is the home page."""
        return redirect(url_for("inbox.index"))

    @app.get("/vendor/<path:filename>", endpoint="vendor")
    def vendor(filename: str):
        """Files of allow-listed npm packages (404 when `npm install` has not run)."""
        parts = filename.split("/")
        if "/".join(parts[:2] if parts[0].startswith("@") else parts[:1]) not in VENDOR_PACKAGES:
            abort(404)
        return send_from_directory(NODE_MODULES, filename, max_age=86400)

    settle()  # the process's first app: its start-up objects leave the full garbage collections
    return app

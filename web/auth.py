"""Sign-in and sign-out with local accounts; rate-limited; the session is cleared at sign-in."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from engine.people import throttle
from engine.people.users import active_user, find_user, verify_password
from engine.people.users import set_language as remember_language

from . import csrf
from .context import db, engine
from .i18n import LANGUAGES

bp = Blueprint("auth", __name__)


def load_user() -> None:
    """Put the signed-in, still active user on `g.user` (or None)."""
    g.user = None
    uid = session.get("uid")
    if uid is None or request.endpoint == "static":
        return
    with db().reading() as s:
        g.user = active_user(s, uid)
    if g.user is None:
        session.clear()


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send anonymous visitors to the sign-in page, then back."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def role_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """:raise 403: unless the signed-in user holds one of `roles`."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not g.user.roles & set(roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("inbox.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("inbox.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form; check the password; start a fresh session."""
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next=next_url, username="")
    username = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    limits = throttle.sign_in_limits(username, request.remote_addr, current_app.config["LOGIN_MAX_FAILURES"])
    now, window = engine().clock.now(), current_app.config["LOGIN_WINDOW"]
    with db().transaction() as s:
        if throttle.too_many(s, limits, now, window):
            return render_template(
                "auth/login.html",
                next=next_url,
                username=username,
                error=_("Too many failed attempts. Wait 15 minutes and try again."),
            ), 429
        user = find_user(s, username)
        ok = user is not None and user.active and verify_password(user, password)
        if not ok:
            throttle.record_failure(s, limits, now, window)
        uid, lang = (user.id, user.language) if ok and user else (None, None)
    if uid is None:
        return render_template(
            "auth/login.html", next=next_url, username=username, error=_("Unknown username or wrong password.")
        ), 401
    session.clear()
    session["uid"] = uid
    session["lang"] = lang
    session.permanent = True
    csrf.rotate()
    return redirect(next_url)


@bp.post("/logout")
def logout():
    """End the session."""
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def set_language():
    """Switch the page language (and remember it for a signed-in user)."""
    lang = request.form.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
        if g.get("user") is not None:
            with db().transaction() as s:
                remember_language(s, g.user.id, lang)
    return redirect(_safe_next(request.form.get("next")))

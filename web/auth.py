"""Sign-in and sign-out with local accounts; rate-limited; the session is cleared at sign-in."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from engine.models import LoginFailure, User
from engine.users import find_user, verify_password

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
        user = s.get(User, uid)
        if user is not None and user.active:
            _ = user.roles  # loaded while the session is open
            g.user = user
        else:
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


def _too_many_failures(s: Any, keys: list[str]) -> bool:
    now = engine().clock.now()
    since = now - current_app.config["LOGIN_WINDOW"]
    s.execute(delete(LoginFailure).where(LoginFailure.at < since))
    counts = s.execute(
        select(LoginFailure.key, func.count())
        .where(LoginFailure.key.in_(keys), LoginFailure.at >= since)
        .group_by(LoginFailure.key)
    ).all()
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    return any(n >= (limit if key.startswith("user:") else limit * 4) for key, n in counts)


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    """Show the sign-in form; check the password; start a fresh session."""
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next=next_url, username="")
    username = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    keys = [f"user:{username.lower()}", f"addr:{request.remote_addr}"]
    with db().transaction() as s:
        if _too_many_failures(s, keys):
            return render_template(
                "auth/login.html",
                next=next_url,
                username=username,
                error=_("Too many failed attempts. Wait 15 minutes and try again."),
            ), 429
        user = find_user(s, username)
        ok = user is not None and user.active and verify_password(user, password)
        if not ok:
            now = engine().clock.now()
            s.add_all([LoginFailure(key=k, at=now) for k in keys])
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
def logout():  # type: ignore[no-untyped-def]
    """End the session."""
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def set_language():  # type: ignore[no-untyped-def]
    """Switch the page language (and remember it for a signed-in user)."""
    lang = request.form.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
        if g.get("user") is not None:
            with db().transaction() as s:
                s.get(User, g.user.id).language = lang
    return redirect(_safe_next(request.form.get("next")))

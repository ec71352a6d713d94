"""Sign-in and sign-out with local accounts; throttled per account and address; the session is
cleared at sign-in and carries the person's session generation, which sign-out raises."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from engine.people import sessions, throttle
from engine.people.signin import check_password
from engine.people.users import set_language as remember_language

from . import csrf
from .context import db, engine
from .i18n import LANGUAGES
from .redirects import safe_next

bp = Blueprint("auth", __name__)


def load_user() -> None:
    """Put the signed-in, still active user on `g.user` (or None)."""
    g.user = None
    uid = session.get("uid")
    if uid is None or request.endpoint == "static":
        return
    with db().reading() as s:  # None if signed out elsewhere, a new password, or a role taken away
        g.user = sessions.signed_in_user(s, uid, session.get("gen", 0))
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


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form; check the password; start a fresh session."""
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next=next_url, username="")
    username = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    key = throttle.sign_in_key(username, request.remote_addr)
    now, policy = engine().clock.now(), current_app.config["LOGIN_POLICY"]
    with db().transaction() as s:
        wait = throttle.wait(s, key, now, policy)
        if wait:
            minutes = max(1, -(-int(wait.total_seconds()) // 60))
            return (
                render_template(
                    "auth/login.html",
                    next=next_url,
                    username=username,
                    error=_("Too many failed attempts. Wait %(minutes)s minute(s) and try again.", minutes=minutes),
                ),
                429,
                {"Retry-After": str(max(1, int(wait.total_seconds())))},
            )
        user = check_password(s, username, password)
        if user is None:
            throttle.record_failure(s, [key], now, policy.window)
            uid, lang, gen = None, None, 0
        else:
            throttle.forget(s, key)
            uid, lang, gen = user.id, user.language, sessions.generation(s, user.id)
    if uid is None:
        return render_template(
            "auth/login.html", next=next_url, username=username, error=_("Unknown username or wrong password.")
        ), 401
    session.clear()
    session["uid"] = uid
    session["gen"] = gen
    session["lang"] = lang
    session.permanent = True
    csrf.rotate()
    return redirect(next_url)


@bp.post("/logout")
def logout():
    """End the session, and every copy of its cookie (the person's generation moves on)."""
    if g.get("user") is not None:
        with db().transaction() as s:
            sessions.bump(s, g.user.id)
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
    return redirect(safe_next(request.form.get("next")))

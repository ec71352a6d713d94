"""Sign-in through the organisation's OpenID Connect provider, and sign-out of both.

`/login/oidc` sends the browser to the provider (authorization code with PKCE, state and nonce
kept in the session); `/login/oidc/callback` takes them out again (once), has the engine validate
the answer and provision the person, and starts a fresh session. Signing out of Waypoint
(`auth.logout`) then passes through `/logout/oidc`, which sends the browser to the provider's
end-session endpoint (RP-initiated logout). When local passwords are switched off, the password
form accepts only the break-glass accounts.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, session, url_for

from engine.config import Settings
from engine.errors import PermissionDenied, WaypointError
from engine.identity import oidc
from engine.people import sessions

from . import csrf
from .context import db, engine
from .errors import error_message
from .redirects import safe_next

bp = Blueprint("login_oidc", __name__)

PENDING, NEXT, ID_TOKEN, LOGOUT = "oidc_pending", "oidc_next", "oidc_id_token", "oidc_logout"
#: an ID token longer than this (Entra ID's, with many groups) stays out of the cookie, which browsers cap
#: at 4 KB; sign-out then names the client instead of hinting with the token
HINT_LIMIT = 1500


def _settings() -> Settings:
    return current_app.config["WAYPOINT_SETTINGS"]


def client() -> oidc.OidcClient:
    """The app's provider client (discovery document and keys cached for the app's life)."""
    if not _settings().oidc.enabled:
        abort(404)
    return current_app.extensions.setdefault("waypoint.oidc", oidc.OidcClient(_settings().oidc))


def _callback_url() -> str:
    return f"{_settings().base_url}{url_for('login_oidc.callback')}"


@bp.get("/login/oidc")
def start():
    """Send the browser to the provider, remembering state, nonce and PKCE verifier for the callback."""
    try:
        url, pending = client().begin(_callback_url())
    except WaypointError as exc:
        return _refused(exc)
    session[PENDING] = pending
    session[NEXT] = safe_next(request.args.get("next"))
    return redirect(url)


@bp.get("/login/oidc/callback")
def callback():
    """The provider's answer: validated once (a replayed state finds nothing), then a fresh session."""
    pending, next_url = session.pop(PENDING, None), safe_next(session.pop(NEXT, None))
    now = engine().clock.now()
    try:
        claims = client().finish(pending, request.args, now)
        with db().transaction() as s:
            user = oidc.sign_in(s, claims, _settings().oidc, now)
            uid, lang, gen = user.id, user.language, sessions.generation(s, user.id)
    except WaypointError as exc:
        return _refused(exc)
    session.clear()
    session.update(uid=uid, gen=gen, lang=lang)
    session[ID_TOKEN] = claims["id_token"] if len(claims["id_token"]) <= HINT_LIMIT else ""
    session.permanent = True
    csrf.rotate()
    return redirect(next_url)


def _refused(exc: WaypointError) -> tuple[str, int]:
    """The sign-in page with the reason, in the page's language; nothing was changed."""
    page = render_template("auth/login.html", next=url_for("inbox.index"), username="", error=error_message(exc))
    return page, exc.status


@bp.get("/logout/oidc")
def provider_logout():
    """After Waypoint's sign-out: on to the provider's end-session page (a link, followed at once)."""
    target = session.pop(LOGOUT, None)
    if not target:
        return redirect(url_for("auth.login"))
    return render_template("auth/provider_logout.html", target=target)


@bp.before_app_request
def _guard_passwords() -> Any:
    """Refuse a password sign-in when local passwords are off, except for the break-glass accounts."""
    if request.endpoint == "auth.login" and request.method == "POST":
        username = (request.form.get("username") or "").strip()
        if not oidc.may_use_password(_settings(), username):
            return _refused(PermissionDenied("local_passwords_off", provider=_settings().oidc.label))
    if request.endpoint == "auth.logout" and request.method == "POST" and ID_TOKEN in session:
        g.oidc_logout = session[ID_TOKEN]
    return None


@bp.after_app_request
def _on_to_the_provider(response: Response) -> Response:
    """Waypoint's sign-out is done: send the browser on to the provider's (RP-initiated logout)."""
    id_token = g.pop("oidc_logout", None)
    if id_token is None or request.endpoint != "auth.logout" or response.status_code >= 400:
        return response
    target = client().logout_url(id_token or None, f"{_settings().base_url}{url_for('auth.login')}")
    if target:
        session[LOGOUT] = target
        return redirect(url_for("login_oidc.provider_logout"))  # type: ignore[return-value]
    return response


@bp.app_context_processor
def _sign_in_options() -> dict[str, Any]:
    """What the sign-in page offers: the provider's button, and whether passwords are the break-glass only."""
    settings = _settings()
    return {
        "oidc_label": settings.oidc.label if settings.oidc.enabled else None,
        "passwords_break_glass_only": settings.oidc.enabled and not settings.local_passwords,
    }

"""Token pages of the web UI: people manage their own API tokens, admins manage service accounts.

A new token's text is rendered once in the response to the form that created it (never put in
a flash message, which would travel in the session cookie) and sent with `Cache-Control: no-store`.
"""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import ValidationFailed, WaypointError
from engine.errors import FieldError
from engine.people.api_tokens import create_token, revoke, token_view, tokens_of
from engine.people.roles import roles as active_roles
from engine.people.service_accounts import account_view, add_service_account, list_service_accounts, service_account
from engine.people.users import get_user

from ..auth import login_required, role_required
from ..context import db, engine, user
from ..errors import error_message
from ..redirects import safe_next

bp = Blueprint("api_ui", __name__)


def _expiry() -> int | None:
    raw = (request.form.get("expires_in_days") or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ValidationFailed("invalid_expiry", [FieldError("expires_in_days", "expiry_days")]) from exc


def _shown_once(owner: str, name: str, secret: str, back: str):
    response = make_response(
        render_template("api/token_created.html", owner=owner, name=name, secret=secret, back=back)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/account/tokens")
@login_required
def tokens():
    """The signed-in person's API tokens."""
    now = engine().clock.now()
    with db().reading() as s:
        rows = [token_view(t, now) for t in tokens_of(s, user())]
    return render_template("api/tokens.html", tokens=rows)


@bp.post("/account/tokens")
@login_required
def create():
    """Create a token for the signed-in person and show it once."""
    name = request.form.get("name") or ""
    try:
        with db().transaction() as s:
            new = create_token(
                s, user(), name, now=engine().clock.now(), expires_in_days=_expiry(), created_by=user().username
            )
            secret, token_name = new.secret, new.token.name
    except ValidationFailed as exc:
        flash(error_message(exc), "error")
        return redirect(url_for("api_ui.tokens"))
    return _shown_once(user().username, token_name, secret, url_for("api_ui.tokens"))


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke one's own token (or, for admins, anyone's)."""
    try:
        with db().transaction() as s:
            revoke(s, token_id, user(), engine().clock.now())
        flash(_("Token revoked: it no longer works."), "success")
    except WaypointError as exc:
        flash(error_message(exc), "error")
    return redirect(safe_next(request.form.get("next"), url_for("api_ui.tokens")))


@bp.get("/admin/service-accounts")
@role_required("admin")
def service_accounts():
    """Integrations: their roles, grants and tokens."""
    now = engine().clock.now()
    with db().reading() as s:
        rows = [
            {
                "username": a.user.username,
                "display_name": a.user.display_name,
                "roles": sorted(a.user.roles),
                "grants": account_view(a),
                "tokens": [token_view(t, now) for t in tokens_of(s, a.user)],
            }
            for a in list_service_accounts(s)
        ]
        choices = [r.key for r in active_roles(s, include_retired=False) if r.key not in ("admin", "process_designer")]
    return render_template("api/service_accounts.html", accounts=rows, roles=choices)


@bp.post("/admin/service-accounts")
@role_required("admin")
def add_account():
    """Create or update a service account."""
    form = request.form
    messages = [m.strip() for m in (form.get("messages") or "").replace(",", " ").split() if m.strip()]
    try:
        with db().transaction() as s:
            add_service_account(
                s,
                (form.get("username") or "").strip(),
                now=engine().clock.now(),
                roles=form.getlist("roles"),
                messages=messages,
                start_on_behalf=form.get("start_on_behalf") == "1",
                display_name=(form.get("display_name") or "").strip() or None,
                description=form.get("description") or "",
                created_by=user().username,
            )
        flash(_("Service account saved."), "success")
    except ValidationFailed as exc:
        flash(error_message(exc), "error")
    return redirect(url_for("api_ui.service_accounts"))


@bp.post("/admin/service-accounts/<username>/tokens")
@role_required("admin")
def create_service_token(username: str):
    """Create a token for a service account and show it once."""
    back = url_for("api_ui.service_accounts")
    try:
        with db().transaction() as s:
            account_user = get_user(s, username)
            if service_account(s, account_user) is None:
                raise ValidationFailed("not_a_service_account", username=username)
            new = create_token(
                s,
                account_user,
                request.form.get("name") or "",
                now=engine().clock.now(),
                expires_in_days=_expiry(),
                created_by=user().username,
            )
            secret, token_name = new.secret, new.token.name
    except WaypointError as exc:
        flash(error_message(exc), "error")
        return redirect(back)
    return _shown_once(username, token_name, secret, back)

"""The admin's people pages: list and search, a person's roles, manager, language, delegations
and tokens, deactivation; and the group → role mapping. Every change is audited by the engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import WaypointError
from engine.identity import accounts, profiles
from engine.people import lifecycle, roles

from .auth import role_required
from .context import db, engine, user
from .errors import error_message

bp = Blueprint("people_admin", __name__, url_prefix="/admin")


@bp.get("/people")
@role_required("admin")
def index():
    """Everyone, searchable by username, name or email; active, deactivated or both."""
    text, status = (request.args.get("q") or "").strip()[:100], request.args.get("status") or "all"
    page = max(1, request.args.get("page", 1, type=int) or 1)
    active = {"active": True, "inactive": False}.get(status)
    with db().reading() as s:
        people, total = profiles.search(s, text, active=active, page=page)
        response = make_response(
            render_template(
                "people_admin/index.html",
                people=people,
                total=total,
                q=text,
                status=status,
                page=page,
                pages=max(1, -(-total // profiles.PAGE)),
            )
        )
    response.headers["Cache-Control"] = "no-store"  # names and emails
    return response


@bp.get("/people/<username>")
@role_required("admin")
def person(username: str):
    """One person: roles (and which came from groups), manager, reports, language, delegations, tokens, history."""
    with db().reading() as s:
        shown = profiles.profile(s, username, engine().clock.now().date())
        response = make_response(
            render_template(
                "people_admin/person.html",
                p=shown,
                all_roles=roles.roles(s, include_retired=False),
            )
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def _change(username: str, action: Callable[[Any], object], done: str) -> Any:
    """Run one audited change in a transaction; flash the outcome; back to the person's page."""
    try:
        with db().transaction() as s:
            action(s)
        flash(done, "success")
    except WaypointError as exc:
        flash(error_message(exc), "error")
    return redirect(url_for("people_admin.person", username=username))


@bp.post("/people/<username>/roles")
@role_required("admin")
def change_role(username: str):
    """Grant or remove one role."""
    role, grant = request.form.get("role") or "", request.form.get("action") == "grant"
    change = roles.grant if grant else roles.revoke
    message = _("Role granted.") if grant else _("Role removed.")
    return _change(username, lambda s: change(s, username, role, user().username), message)


@bp.post("/people/<username>/manager")
@role_required("admin")
def change_manager(username: str):
    """Set (or clear) the person's manager."""
    manager = (request.form.get("manager") or "").strip() or None
    now = engine().clock.now()
    return _change(
        username, lambda s: profiles.set_manager(s, username, manager, user().username, now), _("Manager saved.")
    )


@bp.post("/people/<username>/language")
@role_required("admin")
def change_language(username: str):
    """Set the person's language for pages and email."""
    language, now = request.form.get("language") or "", engine().clock.now()
    return _change(
        username, lambda s: profiles.set_language(s, username, language, user().username, now), _("Language saved.")
    )


@bp.post("/people/<username>/deactivate")
@role_required("admin")
def deactivate(username: str):
    """Deactivate: open tasks to the role's queue or the manager, tokens end, the ITV office is told."""
    reason, now, mail = (request.form.get("reason") or "").strip(), engine().clock.now(), engine().mail.config
    return _change(
        username,
        lambda s: lifecycle.deactivate(s, username, user().username, now, mail, reason=reason),
        _("%(name)s is deactivated.", name=username),
    )


@bp.post("/people/<username>/reactivate")
@role_required("admin")
def reactivate(username: str):
    """Let a deactivated person sign in again."""
    now = engine().clock.now()
    return _change(
        username,
        lambda s: lifecycle.reactivate(s, username, user().username, now),
        _("%(name)s can sign in again.", name=username),
    )


@bp.route("/groups", methods=["GET", "POST"])
@role_required("admin")
def groups():
    """The group → role mapping: members of a directory or provider group hold a role."""
    if request.method == "POST":
        group, role, now = request.form.get("group") or "", request.form.get("role") or "", engine().clock.now()
        remove = request.form.get("action") == "remove"
        try:
            with db().transaction() as s:
                if remove:
                    accounts.remove_mapping(s, group, role, user().username, now)
                else:
                    accounts.add_mapping(s, group, role, user().username, now)
            flash(_("Mapping removed.") if remove else _("Mapping saved."), "success")
        except WaypointError as exc:
            flash(error_message(exc), "error")
        return redirect(url_for("people_admin.groups"))
    with db().reading() as s:
        return render_template(
            "people_admin/groups.html", mappings=accounts.mappings(s), all_roles=roles.roles(s, include_retired=False)
        )

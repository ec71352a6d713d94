"""Roles as data, in the browser (/admin/roles): list, create, rename, retire, members, grant, revoke.

Process designers and admins see the roles and create or rename them (a designer adding a lane
needs its role); only admins retire roles and grant or revoke them. The engine owns every rule
(engine/people/roles.py); each change is one transaction and one audit row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engine.errors import WaypointError
from engine.people import roles as engine_roles
from engine.people.users import everyone

from .auth import role_required
from .context import db
from .errors import error_message

bp = Blueprint("roles", __name__, url_prefix="/admin/roles")
#: who may see and create roles; granting, revoking and retiring stay with admins
EDITORS = ("admin", "process_designer")
#: the actions of a role's history (`role_events.action`)
EVENT_NAMES = {
    "created": _l("created"),
    "renamed": _l("renamed"),
    "retired": _l("retired"),
    "granted": _l("granted"),
    "revoked": _l("revoked"),
}


@bp.app_template_global()
def role_event_name(action: str) -> str:
    """A role history action in the page's language."""
    return str(EVENT_NAMES[action]) if action in EVENT_NAMES else action


def _field(name: str, limit: int = 100) -> str:
    return (request.form.get(name) or "").strip()[:limit]


def _act(action: Callable[[Any], Any], done: str, back: str) -> Any:
    """Run one change in a write transaction; flash what happened or the engine's refusal."""
    try:
        with db().transaction() as s:
            action(s)
        flash(done, "success")
    except WaypointError as exc:
        flash(error_message(exc), "error")
    return redirect(back)


@bp.get("")
@role_required(*EDITORS)
def index():
    """Every role with its names in both languages and how many people hold it."""
    with db().reading() as s:
        rows = engine_roles.roles(s)
    return render_template("roles/index.html", rows=rows, may_grant="admin" in g.user.roles)


@bp.post("")
@role_required(*EDITORS)
def create():
    """Create a role from its English and French names (its key comes from the English name)."""
    name_en, name_fr = _field("name_en"), _field("name_fr")
    key = engine_roles.role_key(_field("key", 40) or name_en)
    return _act(
        lambda s: engine_roles.create_role(s, name_en, name_fr or None, g.user.username, key=key or None),
        _("Role %(key)s created.", key=key),
        url_for("roles.detail", key=key) if key else url_for("roles.index"),
    )


@bp.get("/<key>")
@role_required(*EDITORS)
def detail(key: str):
    """One role: names, members, who else could be granted it, and its history."""
    with db().reading() as s:
        try:
            role = engine_roles.get_role(s, key)
        except WaypointError:
            abort(404)
        members = engine_roles.members(s, role.key)
        held = {u.username for u in members}
        others = [u for u in everyone(s) if u.active and u.username not in held]
        history = engine_roles.history(s, role.key)
        return render_template(
            "roles/detail.html",
            role=role,
            members=members,
            others=others,
            history=history,
            may_grant="admin" in g.user.roles,
        )


@bp.post("/<key>/rename")
@role_required(*EDITORS)
def rename(key: str):
    """New names; the key stays."""
    name_en, name_fr = _field("name_en"), _field("name_fr")
    return _act(
        lambda s: engine_roles.rename(s, key, name_en, name_fr or None, g.user.username),
        _("Role %(key)s renamed.", key=key),
        url_for("roles.detail", key=key),
    )


@bp.post("/<key>/retire")
@role_required("admin")
def retire(key: str):
    """Retire a role: no new grants or lanes."""
    return _act(
        lambda s: engine_roles.retire(s, key, g.user.username),
        _("Role %(key)s retired.", key=key),
        url_for("roles.detail", key=key),
    )


@bp.post("/<key>/grant")
@role_required("admin")
def grant(key: str):
    """Give the role to a person."""
    username = _field("username", 64)
    return _act(
        lambda s: engine_roles.grant(s, username, key, g.user.username),
        _("%(who)s now holds the role %(key)s.", who=username, key=key),
        url_for("roles.detail", key=key),
    )


@bp.post("/<key>/revoke")
@role_required("admin")
def revoke(key: str):
    """Take the role from a person."""
    username = _field("username", 64)
    return _act(
        lambda s: engine_roles.revoke(s, username, key, g.user.username),
        _("%(who)s no longer holds the role %(key)s.", who=username, key=key),
        url_for("roles.detail", key=key),
    )

"""Out-of-office delegation pages, and reassigning tasks (one or many) with a reason."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import WaypointError
from engine.people.delegation import colleagues, delegate, delegations_of, revoke, suggested_delegate
from engine.people.users import get_user

from .auth import login_required
from .context import db, engine, user
from .errors import error_message, field_messages
from .redirects import safe_next

bp = Blueprint("delegation", __name__)


def _day(name: str, default: date) -> date:
    try:
        return date.fromisoformat(request.form.get(name) or "") if request.form.get(name) else default
    except ValueError:
        return default


@bp.route("/account/out-of-office", methods=["GET", "POST"])
@login_required
def out_of_office():
    """Name a delegate for a date range (prefilled: a colleague, today to a week from now)."""
    today = engine().today()
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            with db().transaction() as s:
                me = get_user(s, user().username)
                row = delegate(
                    s,
                    me,
                    request.form.get("delegate", ""),
                    _day("starts_on", today),
                    _day("ends_on", today + timedelta(days=7)),
                    request.form.get("reason", ""),
                    engine().clock.now(),
                )
                name = row.delegate.display_name
            flash(_("%(name)s handles your tasks while you are away.", name=name), "success")
            return redirect(url_for("delegation.out_of_office"))
        except WaypointError as exc:
            errors = field_messages(exc)
    with db().reading() as s:
        me = get_user(s, user().username)
        given, received = delegations_of(s, me, today)
        return render_template(
            "delegation/out_of_office.html",
            given=given,
            received=received,
            colleagues=colleagues(s, me),
            suggested=request.form.get("delegate") or suggested_delegate(s, me),
            today=today,
            ends=today + timedelta(days=7),
            errors=errors,
        ), 400 if errors else 200


@bp.post("/account/out-of-office/<int:delegation_id>/end")
@login_required
def end(delegation_id: int):
    """End a delegation now."""
    try:
        with db().transaction() as s:
            revoke(s, delegation_id, get_user(s, user().username), engine().clock.now())
        flash(_("The delegation has ended."), "success")
    except WaypointError as exc:
        flash(error_message(exc), "error")
    return redirect(url_for("delegation.out_of_office"))


@bp.post("/tasks/reassign")
@login_required
def reassign():
    """Move one or more tasks to a person (or back to their queue) with a reason; each on its own."""
    ids = list(dict.fromkeys(request.form.getlist("task_ids")))[:100]
    target = (request.form.get("to") or "").strip() or "__queue__"
    reason = request.form.get("reason", "")
    done, failed = 0, []
    for task_id in ids:
        try:
            with db().transaction() as s:
                engine().reassign(s, task_id, user().username, None if target == "__queue__" else target, reason)
            done += 1
        except WaypointError as exc:
            failed.append(error_message(exc))
    if done:
        flash(_("%(n)s task(s) reassigned.", n=done), "success")
    for message in sorted(set(failed)):
        flash(message, "error")
    return redirect(safe_next(request.form.get("next")))

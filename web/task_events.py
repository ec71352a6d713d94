"""The task page's action buttons for BPMN errors and escalations: one per error or escalation
boundary event attached to the task (the designer places the event and names the button)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import object_session

from engine import NotFound, WaypointError
from engine.models import TaskRecord
from engine.queries.inbox import task_to_act_on

from .auth import login_required
from .context import db, engine, user
from .errors import error_message
from .process_text import task_name

bp = Blueprint("task_events", __name__)


@bp.app_template_global()
def boundary_actions(task: TaskRecord) -> list[Any]:
    """The errors and escalations open task `task` offers (empty when it is closed)."""
    session = object_session(task)
    if task.status != "ready" or session is None:
        return []
    return engine().task_boundary_actions(session, task)


@bp.post("/tasks/<task_id>/raise")
@login_required
def raise_event(task_id: str):
    """Raise the error or escalation of the button pressed (`boundary` = "kind:code")."""
    kind, _sep, code = request.form.get("boundary", "").partition(":")
    with db().reading() as s:
        try:  # a task of a request this person may not see: no hint that it exists
            task_to_act_on(s, user(), task_id, engine().today())
        except NotFound:
            abort(404)
    try:
        with db().transaction() as s:
            row = engine().raise_boundary_event(s, task_id, user().username, kind, code)
            name = task_name(row.process_key, row.name, row.element_id)
            flash(_("“%(name)s”: the request moved on.", name=name), "success")
    except WaypointError as exc:  # a conflict, a refusal, or no such boundary event
        flash(error_message(exc), "error")
        return redirect(url_for("inbox.task", task_id=task_id))
    return redirect(url_for("inbox.index"))

"""Requests: the catalogue and start forms, the request page (data, timeline, diagram), files."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from engine import NotFound, PermissionDenied, ValidationFailed, WaypointError
from engine import audit as audit_trail
from engine.attachments import check_files, list_for, start_files_rule, start_with_files
from engine.bilingual import french_diagram
from engine.models import Attachment
from engine.queries.inbox import visible_instance
from engine.queries.tasks import list_tasks
from engine.request_so_far import request_so_far
from engine.route_preview import preview_route

from .auth import login_required
from .context import attachments, db, engine, user
from .errors import error_message, field_messages
from .i18n import language
from .office_filing import files_for_others, office_options, office_values
from .outside import outside_waits_view
from .process_text import role_name
from .redirects import safe_next
from .render import build_fields, label_map, parse_form

bp = Blueprint("requests", __name__)


@bp.get("/requests/new")
@login_required
def new():
    """The processes this person may start."""
    with db().reading() as s:
        entries = engine().start_catalogue(s, user())
    return render_template("requests/catalogue.html", entries=entries)


def _start_entry(key: str) -> dict:
    with db().reading() as s:
        entry = next((e for e in engine().start_catalogue(s, user()) if e["key"] == key), None)
    if entry is None:
        abort(404)
    return entry


@bp.route("/requests/new/<key>", methods=["GET", "POST"])
@login_required
def start(key: str):
    """Show a start form; on POST start the request."""
    entry = _start_entry(key)
    schema = entry["form"]
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    required, files_rule = start_files_rule(schema)
    if request.method == "POST":
        values, errors = parse_form(schema, request.form)
        files = [(f.filename, f.read()) for f in request.files.getlist("attachments") if f and f.filename]
        try:
            check_files(files, required)  # before anything is stored: a refused file starts nothing
        except ValidationFailed as exc:
            errors.update(field_messages(exc))
        if not errors:
            try:
                instance_id = _start_with_files(key, values, files, request.form)
                flash(_("Request #%(id)s submitted.", id=instance_id), "success")
                return redirect(url_for("requests.detail", instance_id=instance_id))
            except ValidationFailed as exc:
                errors = field_messages(exc)
        flash(_("Please correct the highlighted fields."), "error")
    fields = build_fields(schema, values, errors)
    context = {"entry": entry, "fields": fields, "errors": errors, "files_rule": files_rule, "files_required": required}
    context.update(office=files_for_others(user()), office_values=office_values(request.form))
    return render_template("requests/start.html", **context), 400 if errors else 200


def _start_with_files(key: str, values: dict[str, Any], files: list[tuple[str, bytes]], form: Any) -> int:
    """Start the request (for someone, or late, when the office says so) and attach its files in one
    transaction (both or neither)."""
    with db().transaction() as s:
        options = office_options(s, user(), form)
        return start_with_files(engine(), attachments(), s, key, values, user(), files, **options).id


@bp.post("/requests/new/<key>/route")
@login_required
def route(key: str):
    """Who would approve the form as it stands (JSON for the start page; POST carries the CSRF token)."""
    entry = _start_entry(key)
    values, _errors = parse_form(entry["form"], request.form)
    with db().reading() as s:
        found = preview_route(engine(), s, key, values, user())
    french = language() == "fr"
    steps = [
        {
            "step": a.step_fr if french else a.step,
            "who": a.person or ((a.role_fr if french else a.role) or ""),
        }
        for a in found.approvers
    ]
    if not found.complete:
        text = _("The approval route appears once the form holds what the rules need (costs, country…).")
    elif not steps:
        text = _("No approval: the request goes straight on.")
    else:
        text = _("Approvals: %(route)s", route=" → ".join(f"{s['who']} ({s['step']})" for s in steps))
    reason = (found.reason_fr if french else found.reason) or found.reason
    return jsonify(complete=found.complete, approvers=steps, reason=reason, text=text)


def detail_page(s, instance_id: int, revealed: dict | None = None, outside: tuple | None = None):
    """The request page; `outside`: (wait id, values, errors) of a record form that came back."""
    instance = visible_instance(s, user(), instance_id, engine().today())
    parsed = engine().definition_for(s, instance)
    context = {
        "instance": instance,
        "version": instance.definition.version,
        "open_tasks": list_tasks(s, instance_id=instance.id),
        "labels": label_map(list(parsed.forms.values())),
        "data": (data := revealed if revealed is not None else engine().display_data(s, instance)),
        "so_far_steps": request_so_far(s, parsed, instance, data),
        "revealed": revealed is not None,
        "can_reveal": engine().holds_personal(instance) and engine().may_reveal(user(), instance),
        "events": audit_trail.events(s, instance.id),
        "attachments": list_for(s, instance.id),
        "diagram": engine().diagram_state(s, instance),
        "can_cancel": engine().may_cancel(s, user(), instance) is None,
        "outside_waits": outside_waits_view(s, instance, *(outside or ())),
        "request_status": engine().request_status(s, instance),
    }
    return render_template("requests/detail.html", **context)


@bp.get("/requests/<int:instance_id>")
@login_required
def detail(instance_id: int):
    """Status, current steps and who holds them, data (personal fields masked), timeline, diagram."""
    with db().reading() as s:
        return detail_page(s, instance_id)


@bp.post("/requests/<int:instance_id>/reveal")
@login_required
def reveal(instance_id: int):
    """The request page with its personal data in clear, for roles that need it; the view is logged."""
    with db().transaction() as s:
        instance = visible_instance(s, user(), instance_id, engine().today())
        data = engine().reveal(s, instance, user(), f"request page ({_reason()})")
        return detail_page(s, instance_id, data)


def _reason() -> str:
    """Why the person may see personal data: their office roles, else as the requester."""
    roles = sorted(user().roles - {"requester"}) or ["requester"]
    return "roles: " + ", ".join(roles)


@bp.get("/requests/<int:instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id: int):
    """The BPMN XML of the request's process version (for the diagram viewer), its labels in French
    for a French reader."""
    with db().reading() as s:
        instance = visible_instance(s, user(), instance_id, engine().today())
        xml = engine().diagram_state(s, instance)["xml"]
    return Response(french_diagram(xml, role_name) if language() == "fr" else xml, mimetype="application/xml")


@bp.post("/requests/<int:instance_id>/cancel")
@login_required
def cancel(instance_id: int):
    """Withdraw (requester) or cancel (admin) a running request."""
    reason = (request.form.get("reason") or "").strip()
    try:
        with db().transaction() as s:
            visible_instance(s, user(), instance_id, engine().today())
            engine().cancel(s, instance_id, user().username, reason)
        flash(_("Request #%(id)s was withdrawn.", id=instance_id), "success")
    except NotFound:
        raise  # a request one may not see: 404, as on its page
    except (PermissionDenied, WaypointError) as exc:
        flash(error_message(exc), "error")
    return redirect(url_for("requests.detail", instance_id=instance_id))


@bp.post("/requests/<int:instance_id>/attachments")
@login_required
def upload(instance_id: int):
    """Attach a PDF or image to the request."""
    file = request.files.get("file")
    task_id = request.form.get("task_id") or None
    back = safe_next(request.form.get("next"), url_for("requests.detail", instance_id=instance_id))
    if file is None or not file.filename:
        flash(_("Choose a file to upload."), "error")
        return redirect(back)
    try:
        with db().transaction() as s:
            instance = visible_instance(s, user(), instance_id, engine().today())
            attachments().add(s, instance, user(), file.filename, file.read(), engine().clock.now(), task_id)
        flash(_("File attached."), "success")
    except ValidationFailed as exc:
        flash(error_message(exc), "error")
    return redirect(back)


@bp.get("/attachments/<int:attachment_id>")
@login_required
def download(attachment_id: int):
    """Download a file, for people who may see its request."""
    with db().reading() as s:
        attachment = s.get(Attachment, attachment_id)
        if attachment is None:
            abort(404)
        visible_instance(s, user(), attachment.instance_id, engine().today())
        name, content_type = attachment.filename, attachment.content_type
        try:
            content = attachments().read(attachment)  # decrypted here, never written out in clear
        except NotFound:
            abort(404)
    return send_file(io.BytesIO(content), mimetype=content_type, as_attachment=True, download_name=name)


@bp.post("/requests/<int:instance_id>/record/<int:wait_id>")
@login_required
def record(instance_id: int, wait_id: int):
    """Record what wait `wait_id` of the request waits for, as the signed-in person."""
    with db().reading() as s:
        instance = visible_instance(s, user(), instance_id, engine().today())
        wait = next((w for w in engine().outside_waits(s, instance) if w.subscription_id == wait_id), None)
        if wait is None:
            flash(_("This request no longer waits for that."), "error")
            return redirect(url_for("requests.detail", instance_id=instance_id))
        schema = engine().record_form(s, instance, wait)
    values, errors = parse_form(schema, request.form)
    if not errors:
        try:
            with db().transaction() as s:
                engine().record_outside_event(s, instance_id, wait_id, user().username, values)
            flash(_("Recorded. The request has moved on."), "success")
            return redirect(url_for("requests.detail", instance_id=instance_id))
        except ValidationFailed as exc:
            errors = field_messages(exc)
        except PermissionDenied:
            abort(403)
    flash(_("Please correct the highlighted fields."), "error")
    with db().reading() as s:
        return detail_page(s, instance_id, outside=(wait_id, values, errors)), 400

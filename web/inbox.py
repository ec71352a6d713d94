"""The inbox: task lists by tab, claim/release, the task page with its form, bulk approve."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import Conflict, PermissionDenied, ValidationFailed, WaypointError, task_drafts
from engine import audit as audit_trail
from engine.attachments import list_for
from engine.forms import DecisionForm, decision_form, is_comment_field
from engine.one_click import bulk_approvable
from engine.people.users import find_user, users_with_role
from engine.privacy.vault import mask
from engine.queries import latest_definitions
from engine.queries.inbox import (
    InboxQuery,
    inbox_page,
    task_to_act_on,
    visible_task,
)
from engine.request_so_far import request_so_far

from .auth import login_required
from .context import db, engine, user
from .errors import error_message, field_messages
from .i18n import language
from .process_text import task_name
from .redirects import safe_next
from .render import build_fields, label_map, parse_form
from .request_status import statuses_for

bp = Blueprint("inbox", __name__)


def _query_from_args() -> InboxQuery:
    args = request.args
    return InboxQuery(
        tab=args.get("tab", "mine"),
        process=args.get("process"),
        step=args.get("step"),
        overdue_only=args.get("overdue") == "1",
        search=args.get("q"),
        sort=args.get("sort", "due"),
        page=_int(args.get("page"), 1),
        per_page=_int(args.get("per_page"), 25),
    ).normalized()


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


@bp.get("/inbox")
@login_required
def index():
    """A tab of the inbox with filters, sorting, search and pagination."""
    query = _query_from_args()
    with db().reading() as s:
        page = inbox_page(s, user(), query, engine().clock.now())
        definitions = latest_definitions(s)
        steps = engine().step_choices(s, definitions)
        processes = [{"key": d.key, "name": d.name} for d in definitions]
        approvable = bulk_approvable(s, engine(), [r.task_id for r in page.rows if r.task_id])
        statuses = statuses_for(s, [r.instance_id for r in page.rows]) if query.tab == "started" else {}

    def page_url(number: int) -> str:
        args: dict[str, Any] = {**request.args.to_dict(), "page": number}
        return url_for("inbox.index", **args)

    return render_template(
        "inbox/index.html",
        page=page,
        steps=steps,
        processes=processes,
        now=engine().clock.now(),
        page_url=page_url,
        approvable=approvable,
        statuses=statuses,
    )


def _back() -> str:
    return safe_next(request.form.get("next"))


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str):
    """Take a queue task."""
    try:
        with db().transaction() as s:
            task_to_act_on(s, user(), task_id, engine().today())  # a task of a request one may not see: 404, no name
            row = engine().claim(s, task_id, user().username)
            name = task_name(row.process_key, row.name, row.element_id)
            flash(_("You took “%(name)s”.", name=name), "success")
    except (Conflict, PermissionDenied) as exc:
        flash(error_message(exc), "error")
    return redirect(_back())


@bp.post("/tasks/<task_id>/release")
@login_required
def release(task_id: str):
    """Give a claimed task back to its queue."""
    try:
        with db().transaction() as s:
            task_to_act_on(s, user(), task_id, engine().today())
            row = engine().release(s, task_id, user().username)
            name = task_name(row.process_key, row.name, row.element_id)
            flash(_("“%(name)s” is back in the queue.", name=name), "success")
    except (Conflict, PermissionDenied) as exc:
        flash(error_message(exc), "error")
    return redirect(_back())


def _reassign_targets(s: Any, row: Any) -> list[Any]:
    """Who the task may be reassigned to, as the engine decides (nobody once it is closed)."""
    if row.status != "ready" or not row.role:
        return []
    return [person for person in users_with_role(s, row.role) if engine().may_hold(s, person, row) is None]


def _returned(s: Any, instance_id: int) -> dict[str, Any] | None:
    """Who sent the request back for changes, when and why (the amend task's banner)."""
    event = audit_trail.returned_for_changes(s, instance_id)
    if event is None:
        return None
    person = find_user(s, event.actor)
    reasons = [str(v) for k, v in (event.details or {}).items() if is_comment_field(k) and v]
    return {"who": person.display_name if person else event.actor, "at": event.at, "reasons": reasons}


def _task_context(
    s: Any, task_id: str, values: dict | None = None, errors: dict | None = None, revealed: bool = False
) -> dict:
    eng = engine()
    row = visible_task(s, user(), task_id, engine().today())
    instance = row.instance
    parsed = eng.definition_for(s, instance)
    schema = parsed.form(row.form)
    data = eng.task_data(s, row)
    draft = task_drafts.get(s, row.id, user()) if row.status == "ready" else None
    if values is None:
        values = {
            **{k: data.get(k) for k in (schema or {}).get("properties", {}) if k in data},
            **(eng.vault.unseal(draft.data) if draft else {}),
        }
    reason = eng.may_work(s, user(), row)
    in_queue = row.assignee_id is None and row.claimed_by_id is None
    return {
        "task": row,
        "instance": instance,
        "schema": schema,
        "fields": build_fields(schema, values, errors),
        "data": (shown := data if revealed else mask(data, parsed.personal)),
        "so_far_steps": request_so_far(s, parsed, instance, shown),
        "revealed": revealed,
        "can_reveal": eng.holds_personal(instance) and eng.may_reveal(user(), instance),
        "labels": label_map(list(parsed.forms.values())),
        "draft": draft,
        "may_work": reason is None,
        "reason": reason,
        "can_reassign": eng.may_reassign(s, user(), row) is None,
        "reassign_to": _reassign_targets(s, row),
        "can_claim": in_queue and eng.may_claim(s, user(), row) is None,
        "can_release": eng.may_release(s, user(), row) is None,
        "events": audit_trail.events(s, instance.id),
        "returned": _returned(s, instance.id) if row.status == "ready" else None,
        "attachments": list_for(s, instance.id),
        "errors": errors or {},
    }


@bp.get("/tasks/<task_id>")
@login_required
def task(task_id: str):
    """The task page: the request so far, this step's form, the timeline."""
    with db().reading() as s:  # rendered inside: the template follows relationships
        return render_template("inbox/task.html", **_task_context(s, task_id))


@bp.post("/tasks/<task_id>/reveal")
@login_required
def reveal(task_id: str):
    """The task page with the request's personal data in clear, for roles that need it (logged)."""
    with db().transaction() as s:
        row = visible_task(s, user(), task_id, engine().today())
        engine().reveal(s, row.instance, user(), f"task “{row.name}”")
        return render_template("inbox/task.html", **_task_context(s, task_id, revealed=True))


@bp.post("/tasks/<task_id>")
@login_required
def submit(task_id: str):
    """Complete the task (or save a draft) with the posted form."""
    eng = engine()
    with db().reading() as s:
        row = task_to_act_on(s, user(), task_id, engine().today())
        parsed = eng.definition_for(s, row.instance)
        schema = parsed.form(row.form)
    data, errors = parse_form(schema, request.form)
    if request.form.get("action") == "draft":
        with db().transaction() as s:
            row = visible_task(s, user(), task_id, engine().today())
            task_drafts.save(s, row, user(), data, eng.clock.now(), schema, eng.vault, parsed.personal)
        flash(_("Draft saved."), "success")
        return redirect(url_for("inbox.task", task_id=task_id))
    if not errors:
        try:
            with db().transaction() as s:
                done = eng.complete(
                    s,
                    task_id,
                    user().username,
                    data,
                    expected_version=_int(request.form.get("version"), 0) or None,
                    channel="web",
                )
                name, instance_id = task_name(done.process_key, done.name, done.element_id), done.instance_id
            flash(_("Done: “%(name)s” on request #%(id)s.", name=name, id=instance_id), "success")
            return redirect(url_for("inbox.index"))
        except ValidationFailed as exc:
            errors = field_messages(exc)
        except Conflict as exc:
            return render_template(
                "inbox/conflict.html", message=error_message(exc), task_id=task_id, instance_id=row.instance_id
            ), 409
    flash(_("Please correct the highlighted fields."), "error")
    with db().reading() as s:
        return render_template("inbox/task.html", **_task_context(s, task_id, values=data, errors=errors)), 400


def _not_one_click(form: DecisionForm | None, titles: dict[Any, str]) -> str:
    """Why a step cannot be approved in bulk: no approve decision, or other required fields (by title)."""
    if form is None or "approve" not in form.values:
        return _("this step has no approve decision: open it")
    fields = ", ".join(titles.get(key, key.replace("_", " ")) for key in form.other_required)
    return _("needs more than an approval: %(detail)s", detail=fields)


@bp.post("/inbox/bulk")
@login_required
def bulk():
    """Approve several tasks of one step with one comment; each in its own transaction."""
    ids = list(dict.fromkeys(request.form.getlist("task_ids")))[:100]
    comment = (request.form.get("comment") or "").strip()
    if not ids:
        flash(_("Select at least one task."), "error")
        return redirect(_back())
    eng = engine()
    results = []
    with db().reading() as s:
        rows = []
        for task_id in ids:
            try:
                rows.append(task_to_act_on(s, user(), task_id, engine().today()))
            except WaypointError:
                results.append({"task_id": task_id, "name": "?", "ok": False, "message": _("not found")})
        steps = {(r.process_key, r.element_id) for r in rows}
        schemas = {r.id: eng.definition_for(s, r.instance).form(r.form) for r in rows}
        forms = {task_id: decision_form(schema) for task_id, schema in schemas.items()}
        titles = {task_id: label_map([schema] if schema else []) for task_id, schema in schemas.items()}
        labels = {r.id: (r.name, r.instance_id, r.instance.summary_in(language())) for r in rows}
    if len(steps) > 1:
        flash(_("Bulk approval works on tasks of one and the same step: select tasks of one step."), "error")
        return redirect(_back())
    for row in rows:
        name, instance_id, summary = labels[row.id]
        form = forms[row.id]
        entry = {"task_id": row.id, "name": name, "instance_id": instance_id, "summary": summary}
        if form is None or not form.allows("approve"):  # the rule of email links and replies
            results.append({**entry, "ok": False, "message": _not_one_click(form, titles[row.id])})
            continue
        try:
            with db().transaction() as s:
                eng.complete(s, row.id, user().username, form.submission("approve", comment), channel="web")
            results.append({**entry, "ok": True, "message": _("approved")})
        except ValidationFailed as exc:
            detail = error_message(exc)
            refusal = _("needs more than an approval: %(detail)s", detail=detail)
            results.append({**entry, "ok": False, "message": refusal})
        except WaypointError as exc:
            results.append({**entry, "ok": False, "message": error_message(exc)})
    return render_template("inbox/bulk_result.html", results=results)

"""Administration pages (admins only): people and roles, personal-data access log, subject access,
retention, and the email outbox with open incidents."""

from __future__ import annotations

import json
import re

from flask import Blueprint, Response, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.mail.outbox import overview
from engine.people.users import everyone
from engine.privacy import records as privacy_records
from engine.worker.incidents import open_incidents

from .auth import role_required
from .context import db, engine, user
from .csvexport import csv_response

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users")
@role_required("admin")
def users():
    """Everyone with their roles and manager."""
    with db().reading() as s:
        people = everyone(s)
        rows = [(u, sorted(u.roles), u.manager.display_name if u.manager else "") for u in people]
    return render_template("admin/users.html", rows=rows)


@bp.get("/access-log")
@role_required("admin")
def access_log():
    """Who saw personal data in clear: filter by person or request."""
    username = request.args.get("user") or None
    instance_id = request.args.get("instance", type=int)
    with db().reading() as s:
        rows = privacy_records.access_log(s, username=username, instance_id=instance_id)
        return render_template(
            "admin/access_log.html", rows=rows, username=username or "", instance_id=instance_id or ""
        )


@bp.get("/subject-access")
@role_required("admin")
def subject_access():
    """The search form and the latest searches (a search is a POST, never in a URL or a server log)."""
    with db().reading() as s:
        searches = privacy_records.subject_searches(s)
        return render_template("admin/subject_access.html", person="", reason="", export=None, searches=searches)


@bp.post("/subject-access")
@role_required("admin")
def subject_search():
    """Everything held about one person (by username or name), as a summary page or a JSON or CSV
    download; every search is recorded with its reason, and downloads go in the access log."""
    person, reason = (request.form.get(k, "").strip() for k in ("person", "reason"))
    output = {"json": "json", "csv": "csv"}.get(request.form.get("format", ""), "page")
    if not person or not reason:
        flash(_("Give the person's username or name, and the reason for the search."), "error")
        with db().reading() as s:
            searches = privacy_records.subject_searches(s)
            page = render_template(
                "admin/subject_access.html", person=person, reason=reason, export=None, searches=searches
            )
        return page, 400
    with db().transaction() as s:
        export = privacy_records.subject_search(s, engine(), person, user(), reason, output)
        if output == "page":
            return render_template(
                "admin/subject_access.html", person=person, reason=reason, export=export, searches=[]
            )
    name = "subject-access-" + re.sub(r"[^A-Za-z0-9_-]+", "_", person)[:40]
    if output == "csv":
        return csv_response(list(privacy_records.subject_rows(export)), name)
    body = json.dumps(export, indent=2, default=str, ensure_ascii=False)
    return Response(
        body, mimetype="application/json", headers={"Content-Disposition": f'attachment; filename="{name}.json"'}
    )


@bp.route("/retention", methods=["GET", "POST"])
@role_required("admin")
def retention():
    """Dry run of the retention purge; POST purges now (the worker also runs it daily)."""
    if request.method == "POST":
        purged = privacy_records.run_retention(db(), engine(), actor=user().username)
        flash(_("Personal data removed from %(n)s request(s).", n=len(purged)), "success")
        return redirect(url_for("admin.retention"))
    with db().reading() as s:
        due = privacy_records.retention_due(s, engine(), engine().clock.now())
    return render_template("admin/retention.html", due=due)


@bp.get("/outbox")
@role_required("admin")
def outbox():
    """Outgoing email and open incidents, read-only (no bodies, no links), never cached."""
    with db().reading() as s:
        counts, rows = overview(s)
        incidents = open_incidents(s)
    response = make_response(render_template("admin/outbox.html", counts=counts, rows=rows, incidents=incidents))
    response.headers["Cache-Control"] = "no-store"
    return response

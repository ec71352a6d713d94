"""Designer views: what changed between versions (in words and on the diagram), and migrating
running requests onto a version (dry run first, then per request in its own transaction)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.designer import drafts as store
from engine.designer import move_instances
from engine.designer.diff import Diff, diff_files
from engine.versions import find_definition

from ..auth import role_required
from ..context import db, engine, user
from .blueprint import bp
from .views import ROLE


def _diagrams(diff: Diff, old: dict[str, str], new: dict[str, str], old_url: Any, new_url: Any) -> list[dict]:
    """For each BPMN file that changed: where to load its two versions and which elements to mark."""
    changed = sorted({c.file for c in diff.changes if c.file.endswith(".bpmn")})
    out = []
    for path in changed:
        markers = diff.markers(path)
        out.append(
            {
                "path": path,
                "old_url": old_url(path) if path in old else None,
                "new_url": new_url(path) if path in new else None,
                "old_markers": {"removed": markers["removed"], "changed": markers["changed"]},
                "new_markers": {"added": markers["added"], "changed": markers["changed"]},
            }
        )
    return out


@bp.get("/drafts/<int:draft_id>/diff")
@role_required(ROLE)
def draft_diff(draft_id: int):
    """What the draft changes against the version it started from."""
    with db().reading() as s:
        draft = store.draft_for(s, draft_id, user())
        key, base, new = draft.key, draft.base_version, dict(draft.files)
        old = store.version_files(s, key, base) if base else {}
    new = {p: c for p, c in new.items() if p.endswith((".bpmn", ".dmn")) or p.startswith("forms/") or p in old}
    diff = diff_files(old, new)
    diagrams = _diagrams(
        diff,
        old,
        new,
        lambda p: url_for("designer.version_file", key=key, version=base, path=p),
        lambda p: url_for("designer.draft_file", draft_id=draft_id, path=p),
    )
    title = _("Draft #%(id)s against version %(v)s", id=draft_id, v=base)
    return render_template("designer/diff.html", key=key, title=title, diff=diff, diagrams=diagrams, draft_id=draft_id)


@bp.get("/processes/<key>/diff")
@role_required(ROLE)
def version_diff(key: str):
    """What changed between two deployed versions (`from`, `to`; default: the last two)."""
    with db().reading() as s:
        versions = [v["version"] for p in store.library(s) if p["key"] == key for v in p["versions"]]
        if not versions:
            abort(404)
        to = request.args.get("to", type=int) or versions[0]
        frm = request.args.get("from", type=int) or next((v for v in versions if v < to), to)
        old, new = store.version_files(s, key, frm), store.version_files(s, key, to)
    diff = diff_files(old, new)
    diagrams = _diagrams(
        diff,
        old,
        new,
        lambda p: url_for("designer.version_file", key=key, version=frm, path=p),
        lambda p: url_for("designer.version_file", key=key, version=to, path=p),
    )
    title = _("Version %(a)s → version %(b)s", a=frm, b=to)
    return render_template("designer/diff.html", key=key, title=title, diff=diff, diagrams=diagrams, draft_id=None)


@bp.get("/processes/<key>/migrate")
@role_required(ROLE)
def migrate_plan(key: str):
    """Dry run: per running request, whether its waiting steps exist in the target version and
    what moving it would do. Nothing is written."""
    reapply = request.args.get("reapply") == "1"
    with db().reading() as s:
        versions = [v["version"] for p in store.library(s) if p["key"] == key for v in p["versions"]]
        if not versions:
            abort(404)
        to = request.args.get("to", type=int) or versions[0]
        target = find_definition(s, key, to)
        plans = move_instances.dry_run(engine(), s, target, reapply)
    return render_template("designer/migrate.html", key=key, to=to, versions=versions, plans=plans, reapply=reapply)


@bp.post("/processes/<key>/migrate")
@role_required(ROLE)
def migrate_apply(key: str):
    """Move the chosen requests, each in its own transaction; the rest stay untouched."""
    to = request.form.get("to", type=int)
    reapply = request.form.get("reapply") == "1"
    chosen = [int(i) for i in request.form.getlist("instance_ids") if i.isdigit()]
    if to is None:
        abort(400)
    if not chosen:
        flash(_("Choose at least one request to move."), "error")
        return redirect(url_for("designer.migrate_plan", key=key, to=to, reapply=int(reapply)))
    with db().reading() as s:
        target_id = find_definition(s, key, to).id
    report = move_instances.migrate_instances(engine(), db(), target_id, user().username, chosen, reapply)
    flash(
        _(
            "%(moved)s request(s) moved to version %(v)s; %(left)s left as they were.",
            moved=len(report.moved),
            v=to,
            left=len(report.left),
        ),
        "success" if not report.left else "info",
    )
    return render_template("designer/migrated.html", key=key, report=report)

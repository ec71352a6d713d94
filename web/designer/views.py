"""Designer views: the process library, downloads, drafts and their files, check, simulate, deploy."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from flask import (
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from engine import Conflict, DefinitionError, WaypointError
from engine.designer import drafts as store
from engine.designer.simulate import run_scenarios, scenario_path
from engine.people.roles import roles
from engine.sources import source_kind

from ..auth import role_required
from ..context import db, engine, user
from ..errors import error_message
from ..render import build_fields
from .blueprint import bp

ROLE = "process_designer"
#: A new Camunda form: no field yet (the designer adds them in form-js's editor)
NEW_CAMUNDA_FORM = {"type": "default", "schemaVersion": 16, "components": []}
#: Where bundled scenario files live (bpmn/scenarios/ next to the BPMN of this checkout).
DEFAULT_SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "bpmn" / "scenarios"
NEW_FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "New form",
    "x-fr": {"title": "Nouveau formulaire"},
    "type": "object",
    "required": ["decision"],
    "properties": {
        "decision": {
            "title": "Decision",
            "x-fr": {"title": "Décision"},
            "oneOf": [
                {"const": "approve", "title": "Approve", "x-fr": {"title": "Approuver"}},
                {"const": "reject", "title": "Reject", "x-fr": {"title": "Rejeter"}},
            ],
        },
        "comment": {
            "type": "string",
            "title": "Comment",
            "x-fr": {"title": "Commentaire"},
            "x-widget": "textarea",
            "maxLength": 2000,
        },
    },
}


def _json_error(exc: WaypointError) -> tuple[Response, int]:
    findings = getattr(exc, "findings", None) or []
    return jsonify({"error": str(exc).splitlines()[0], "findings": findings}), exc.status


def _default_scenarios(key: str) -> str:
    with db().reading() as s:
        deployed = store.last_scenarios(s, key)
    if deployed:
        return deployed
    folder = Path(current_app.config.get("DESIGNER_SCENARIOS_DIR") or DEFAULT_SCENARIOS_DIR)
    bundled = folder / f"{key}.json"
    if bundled.is_file():
        return bundled.read_text(encoding="utf-8")
    return json.dumps({"process": key, "start": {"as": "jdoe", "data": {}}, "scenarios": []}, indent=2) + "\n"


def _zip(files: dict[str, str], name: str) -> Response:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in sorted(files.items()):
            archive.writestr(path, content)
    buffer.seek(0)
    return send_file(buffer, mimetype="application/zip", as_attachment=True, download_name=name)


def _raw(text: str) -> Response:
    """A stored file as plain text: never rendered by the browser as XML/XHTML (stored markup stays inert)."""
    return Response(text, mimetype="text/plain")


# --- library ------------------------------------------------------------------------------
@bp.get("/")
@role_required(ROLE)
def library():
    """Every process with its versions, running requests per version, drafts and recent deployments."""
    with db().reading() as s:
        processes = store.library(s)
        log = {p["key"]: store.log_of(s, p["key"], limit=5) for p in processes}
        drafts = store.drafts_of(s, None if "admin" in user().roles else user().username)
    return render_template("designer/library.html", processes=processes, log=log, drafts=drafts)


@bp.get("/processes/<key>/versions/<int:version>.zip")
@role_required(ROLE)
def download_version(key: str, version: int):
    """Every file of one deployed version, as a zip."""
    with db().reading() as s:
        files = store.version_files(s, key, version)
    return _zip(files, f"{key}-v{version}.zip")


@bp.get("/processes/<key>/versions/<int:version>/files/<path:path>")
@role_required(ROLE)
def version_file(key: str, version: int, path: str):
    """One file of a deployed version (diagrams load their XML from here)."""
    with db().reading() as s:
        files = store.version_files(s, key, version)
    if path not in files:
        return Response(status=404)
    return _raw(files[path])


@bp.post("/processes/<key>/drafts")
@role_required(ROLE)
def new_draft(key: str):
    """Start a draft from a deployed version (default: the latest) and open it."""
    version = request.form.get("version", type=int)
    scenarios = _default_scenarios(key)
    with db().transaction() as s:
        draft = store.new_draft(s, key, user().username, engine().clock.now(), version, scenarios)
        draft_id = draft.id
    return redirect(url_for("designer.workspace", draft_id=draft_id))


# --- a draft ------------------------------------------------------------------------------
@bp.get("/drafts/<int:draft_id>")
@role_required(ROLE)
def workspace(draft_id: int):
    """The modeler: files, diagram with its properties panel, tables, forms, scenarios, results."""
    with db().reading() as s:
        draft = store.draft_for(s, draft_id, user())
        paths, files = sorted(draft.files), dict(draft.files)
        role_keys = [r.key for r in roles(s) if not r.retired]
        info: dict[str, Any] = {
            "id": draft.id,
            "key": draft.key,
            "base_version": draft.base_version,
            "main_file": draft.main_file,
        }
        created_by, updated_at = draft.created_by, draft.updated_at
    config = {
        "draft": info,
        "files": paths,
        "scenarioFile": scenario_path(info["key"]),
        "roles": role_keys,
        "helpers": sorted(engine().helpers),
        "messages": sorted(engine().glue.messages),
        "urls": {
            "files": url_for("designer.draft_file", draft_id=draft_id, path="x")[:-1],
            "check": url_for("designer.check", draft_id=draft_id),
            "simulate": url_for("designer.simulate", draft_id=draft_id),
            "preview": url_for("designer.preview", draft_id=draft_id),
            "moddle": url_for("static", filename="designer/spiffworkflow.json"),
        },
    }
    groups = {
        "bpmn": [p for p in paths if source_kind(p, files[p]) == "bpmn"],
        "dmn": [p for p in paths if source_kind(p, files[p]) == "dmn"],
        "forms": [p for p in paths if source_kind(p) == "json" and p != config["scenarioFile"]],
        "formjs": [p for p in paths if source_kind(p) == "form"],
        "scenarios": [p for p in paths if p == config["scenarioFile"]],
    }
    return render_template(
        "designer/workspace.html",
        info=info,
        groups=groups,
        config=config,
        created_by=created_by,
        updated_at=updated_at,
    )


@bp.get("/drafts/<int:draft_id>/files/<path:path>")
@role_required(ROLE)
def draft_file(draft_id: int, path: str):
    """One file of a draft, as stored."""
    with db().reading() as s:
        files = store.draft_for(s, draft_id, user()).files
    if path not in files:
        return Response(status=404)
    return _raw(files[path])


@bp.post("/drafts/<int:draft_id>/files/<path:path>")
@role_required(ROLE)
def save_file(draft_id: int, path: str):
    """Store one file of a draft (the request body is the file); JSON answer."""
    try:
        with db().transaction() as s:
            draft = store.draft_for(s, draft_id, user(), for_update=True)
            store.save_file(s, draft, path, request.get_data(cache=False), engine().clock.now())
    except WaypointError as exc:
        return _json_error(exc)
    return jsonify({"saved": path})


@bp.post("/drafts/<int:draft_id>/upload")
@role_required(ROLE)
def upload(draft_id: int):
    """Add or replace a file of the draft from an upload (checked like any saved file)."""
    file = request.files.get("file")
    folder = (request.form.get("folder") or "").strip().strip("/")
    back = redirect(url_for("designer.workspace", draft_id=draft_id))
    if file is None or not file.filename:
        flash(_("Choose a file to upload."), "error")
        return back
    path = f"{folder}/{Path(file.filename).name}" if folder else Path(file.filename).name
    try:
        with db().transaction() as s:
            draft = store.draft_for(s, draft_id, user(), for_update=True)
            store.save_file(s, draft, path, file.read(store.MAX_FILE_BYTES + 1), engine().clock.now())
    except DefinitionError as exc:
        flash(_("The file was refused: %(why)s", why=error_message(exc)), "error")
        return back
    flash(_("%(path)s saved in the draft.", path=path), "success")
    return back


@bp.post("/drafts/<int:draft_id>/forms")
@role_required(ROLE)
def new_form(draft_id: int):
    """Add a new form file: a small approve/reject JSON Schema to start from, or an empty Camunda
    form (`.form`) that the visual editor (form-js) edits."""
    name = (request.form.get("name") or "").strip().removesuffix(".schema.json").removesuffix(".json")
    visual = request.form.get("kind") == "formjs"
    path = f"forms/{name}.form" if visual else f"forms/{name}.schema.json"
    content = json.dumps({**NEW_CAMUNDA_FORM, "id": name}, indent=2) if visual else json.dumps(NEW_FORM, indent=2)
    try:
        with db().transaction() as s:
            draft = store.draft_for(s, draft_id, user(), for_update=True)
            if path in draft.files:
                raise DefinitionError("draft_file_exists", path=path)
            store.save_file(s, draft, path, content + "\n", engine().clock.now())
    except DefinitionError as exc:
        flash(error_message(exc), "error")
    else:
        flash(_("%(path)s added.", path=path), "success")
    return redirect(url_for("designer.workspace", draft_id=draft_id, file=path))


@bp.post("/drafts/<int:draft_id>/files-delete")
@role_required(ROLE)
def delete_file(draft_id: int):
    """Remove a file from the draft."""
    path = request.form.get("path") or ""
    try:
        with db().transaction() as s:
            store.delete_file(s, store.draft_for(s, draft_id, user(), for_update=True), path, engine().clock.now())
        flash(_("%(path)s removed from the draft.", path=path), "success")
    except WaypointError as exc:
        flash(error_message(exc), "error")
    return redirect(url_for("designer.workspace", draft_id=draft_id))


@bp.get("/drafts/<int:draft_id>.zip")
@role_required(ROLE)
def download_draft(draft_id: int):
    """Every file of the draft (scenarios included), as a zip to commit next to the BPMN."""
    with db().reading() as s:
        draft = store.draft_for(s, draft_id, user())
        files, name = dict(draft.files), f"{draft.key}-draft{draft.id}.zip"
    return _zip(files, name)


@bp.post("/drafts/<int:draft_id>/discard")
@role_required(ROLE)
def discard(draft_id: int):
    """Throw a draft away."""
    with db().transaction() as s:
        store.discard_draft(s, draft_id, user())
    flash(_("Draft #%(id)s discarded.", id=draft_id), "success")
    return redirect(url_for("designer.library"))


# --- check, simulate, preview, deploy -----------------------------------------------------------
@bp.post("/drafts/<int:draft_id>/check")
@role_required(ROLE)
def check(draft_id: int):
    """SpiffWorkflow's parse plus Waypoint's rules on the draft (the deploy's check); JSON findings naming elements."""
    with db().reading() as s:
        draft = store.draft_for(s, draft_id, user())
        snapshot = {"files": dict(draft.files), "main_file": draft.main_file}
    try:
        with db().reading() as s:  # the deploy's verdict: roles and deployed definitions known
            findings = engine().check(store.sources_of(snapshot), s)
    except DefinitionError as exc:
        findings = exc.findings or [{"message": str(exc)}]
    errors = [f for f in findings if f.get("severity") != "warning"]
    return jsonify({"ok": not errors, "findings": findings})


@bp.post("/drafts/<int:draft_id>/simulate")
@role_required(ROLE)
def simulate(draft_id: int):
    """Run the draft's scenarios (or one, by name) on a throwaway database; JSON results."""
    wanted = (request.get_json(silent=True, force=True) or {}).get("scenario")
    with db().reading() as s:
        draft = store.draft_for(s, draft_id, user())
        key = draft.key
        snapshot: dict[str, Any] = {"files": dict(draft.files), "main_file": draft.main_file}
    path = scenario_path(key)
    try:
        text = snapshot["files"].get(path)
        if text is None:
            raise DefinitionError("draft_has_no_scenarios", path=path)
        ran = run_scenarios(store.sources_of(snapshot), text, path, key, [wanted] if wanted else [], engine())
        results = [result.as_dict() for result in ran]
    except WaypointError as exc:
        return _json_error(exc)
    return jsonify({"results": results, "main_file": snapshot["main_file"]})


@bp.post("/drafts/<int:draft_id>/preview")
@role_required(ROLE)
def preview(draft_id: int):
    """The form a JSON Schema (the request body) renders to, as an HTML fragment."""
    error, fields = None, []
    try:
        schema: Any = json.loads(request.get_data(as_text=True) or "{}")
        Draft202012Validator.check_schema(schema)
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise ValueError(_('A form is a schema with "type": "object".'))
        fields = build_fields(schema)
    except json.JSONDecodeError as exc:
        error = _(
            "Not valid JSON (line %(line)s, column %(col)s): %(msg)s", line=exc.lineno, col=exc.colno, msg=exc.msg
        )
    except SchemaError as exc:
        error = _("Not a valid JSON Schema: %(msg)s", msg=exc.message)
    except (ValueError, TypeError, AttributeError) as exc:
        error = str(exc)
    title = schema.get("title") if not error and isinstance(schema, dict) else None
    return render_template("designer/_preview.html", fields=fields, error=error, title=title)


@bp.post("/drafts/<int:draft_id>/deploy")
@role_required(ROLE)
def deploy(draft_id: int):
    """Deploy the draft as the process's next version (only when the check passes); logged."""
    note = (request.form.get("note") or "").strip()
    try:
        with db().transaction() as s:
            draft = store.draft_for(s, draft_id, user(), for_update=True)
            result = store.deploy_draft(engine(), s, draft, user().username, note)
            key = draft.key
    except DefinitionError as exc:
        count = len(exc.findings) or 1
        flash(_("Not deployed: the check found %(n)s problem(s). Run Check to see them.", n=count), "error")
        return redirect(url_for("designer.workspace", draft_id=draft_id))
    except Conflict as exc:  # another deploy of this key took the version number
        flash(_("Not deployed: %(why)s", why=error_message(exc)), "error")
        return redirect(url_for("designer.workspace", draft_id=draft_id))
    if result.created:
        flash(_("Version %(v)s of %(key)s deployed.", v=result.version, key=key), "success")
    else:
        flash(
            _("Nothing changed: version %(v)s of %(key)s already has these files.", v=result.version, key=key), "info"
        )
    return redirect(url_for("designer.library", _anchor=f"process-{key}"))

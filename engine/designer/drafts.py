"""The process designer's side of definitions: the library, drafts, deploying and the deployment log.

A draft is a copy of every file one deployed version needs (plus the process's scenario file),
edited in the browser file by file. Every file is checked on the way in: size-capped, XML
through the hardened parser (no DTDs, entities or network), JSON parsed; a hostile or broken
file is refused with a `DefinitionError` that says why. Deploying a draft goes through
`Engine.deploy` (which checks first) and is written to the deployment log with who, when and
what; so are bulk migrations (engine/designer/move_instances.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.definitions import NS, SourceSet
from engine.designer.simulate import scenario_path
from engine.errors import Conflict, DefinitionError, NotFound, PermissionDenied
from engine.models import DeploymentLog, ProcessDefinition, ProcessDraft, ProcessInstance, User
from engine.runtime import Engine
from engine.sources import as_utf8, is_diagram
from engine.versions import DeployResult, find_definition, latest_definition
from engine.xmlsafe import MAX_FILE_BYTES, parse_xml, to_bytes

_PATH = re.compile(r"^(?:[A-Za-z0-9_-]+/)*[A-Za-z0-9_.-]+\.(?:bpmn|bpmn20\.xml|xml|dmn|json|form)$", re.IGNORECASE)
MAX_FILES = 200


def library(session: Session) -> list[dict[str, Any]]:
    """Every process key with its versions, newest first, and running instances per version."""
    running = dict(
        session.execute(
            select(ProcessInstance.definition_id, func.count(ProcessInstance.id))
            .where(ProcessInstance.status == "running")
            .group_by(ProcessInstance.definition_id)
        ).all()
    )
    keys: dict[str, dict[str, Any]] = {}
    for d in session.scalars(
        select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
    ):
        entry = keys.setdefault(d.key, {"key": d.key, "name": d.name, "versions": [], "running": 0})
        count = running.get(d.id, 0)
        entry["running"] += count
        entry["versions"].append(
            {
                "version": d.version,
                "definition_id": d.id,
                "deployed_by": d.deployed_by,
                "deployed_at": d.deployed_at,
                "content_hash": d.content_hash,
                "running": count,
            }
        )
    return list(keys.values())


def version_files(session: Session, key: str, version: int) -> dict[str, str]:
    """The files of one deployed version."""
    definition = session.scalars(
        select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
    ).first()
    if definition is None:
        raise NotFound("no_such_process_version", key=key, version=version)
    return {f.path: f.content for f in definition.files}


def check_path(path: str) -> str:
    """A safe relative file path (`forms/x.schema.json`); DefinitionError otherwise."""
    if not _PATH.match(path or "") or ".." in path.split("/"):
        raise DefinitionError("draft_file_name_refused", path=path)
    return path


def check_content(path: str, content: str | bytes) -> str:
    """The file's text if it is acceptable for its kind; DefinitionError saying why not."""
    raw = as_utf8(to_bytes(content))  # an ISO-8859-1 diagram, as some modelers save it, becomes UTF-8
    if len(raw) > MAX_FILE_BYTES:
        raise DefinitionError("file_over_limit", path=path, size=f"{len(raw):,}", limit=f"{MAX_FILE_BYTES:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError("not_utf8", path=path) from exc
    if path.lower().endswith((".bpmn", ".dmn", ".xml")):
        parse_xml(raw, path)  # raises DefinitionError for DTDs, entities, broken XML
    else:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise DefinitionError(
                "invalid_json_at", path=path, line=exc.lineno, column=exc.colno, detail=exc.msg
            ) from exc
    return text


def new_draft(
    session: Session,
    key: str,
    user: str,
    now: datetime,
    version: int | None = None,
    scenarios: str | None = None,
) -> ProcessDraft:
    """A draft holding the files of `key` at `version` (default: latest), plus its scenarios."""
    definition = latest_definition(session, key) if version is None else find_definition(session, key, version)
    files = {f.path: f.content for f in definition.files}
    if scenarios is not None:
        files.setdefault(scenario_path(key), scenarios)
    draft = ProcessDraft(
        key=key,
        base_version=definition.version,
        main_file=main_file(files, key),
        files=files,
        created_by=user,
        created_at=now,
        updated_at=now,
    )
    session.add(draft)
    session.flush()
    return draft


def main_file(files: Mapping[str, str], key: str) -> str:
    """The BPMN file that defines process `key`."""
    for path in sorted(files):
        if is_diagram(path, files[path]) and parse_xml(files[path], path).xpath(
            "//bpmn:process[@id=$key]", namespaces=NS, key=key
        ):
            return path
    raise DefinitionError("no_bpmn_defines_process", key=key)


def get_draft(session: Session, draft_id: int, user: str | None = None, *, for_update: bool = False) -> ProcessDraft:
    """A draft by id; NotFound when missing, PermissionDenied when `user` did not create it."""
    draft = session.get(ProcessDraft, draft_id, with_for_update=for_update)
    if draft is None:
        raise NotFound("no_such_draft", id=draft_id)
    if user is not None and draft.created_by != user:
        raise PermissionDenied("draft_of_someone_else", id=draft_id, who=draft.created_by)
    return draft


def draft_for(session: Session, draft_id: int, actor: User, *, for_update: bool = False) -> ProcessDraft:
    """A draft its creator or an admin works on (opens, edits, checks, deploys, discards);
    NotFound when missing, PermissionDenied for another designer."""
    draft = get_draft(session, draft_id, for_update=for_update)
    if draft.created_by != actor.username and "admin" not in actor.roles:
        raise PermissionDenied("draft_of_someone_else", id=draft_id, who=draft.created_by)
    return draft


def discard_draft(session: Session, draft_id: int, actor: User) -> None:
    """Throw a draft away (its creator or an admin); NotFound when missing."""
    session.delete(draft_for(session, draft_id, actor))


def drafts_of(session: Session, user: str | None = None) -> list[ProcessDraft]:
    """Drafts (of `user`, default everyone's), most recently changed first."""
    query = select(ProcessDraft).order_by(ProcessDraft.updated_at.desc(), ProcessDraft.id.desc())
    if user is not None:
        query = query.where(ProcessDraft.created_by == user)
    return list(session.scalars(query))


def save_file(session: Session, draft: ProcessDraft, path: str, content: str | bytes, now: datetime) -> None:
    """Store one file of a draft (new or replaced) after checking its name and content."""
    path = check_path(path)
    text = check_content(path, content)
    if path not in draft.files and len(draft.files) >= MAX_FILES:
        raise DefinitionError("draft_too_many_files", limit=MAX_FILES)
    draft.files = {**draft.files, path: text}  # a new dict, so the JSON column sees the change
    draft.updated_at = now


def delete_file(session: Session, draft: ProcessDraft, path: str, now: datetime) -> None:
    """Remove one file from a draft (never its main BPMN file)."""
    if path == draft.main_file:
        raise DefinitionError("draft_main_file_kept")
    if path not in draft.files:
        raise NotFound("draft_has_no_file", path=path)
    draft.files = {p: c for p, c in draft.files.items() if p != path}
    draft.updated_at = now


def sources_of(draft: ProcessDraft | Mapping[str, Any]) -> SourceSet:
    """The draft's files as a SourceSet asking to deploy its main BPMN file."""
    files = draft.files if isinstance(draft, ProcessDraft) else draft["files"]
    main = draft.main_file if isinstance(draft, ProcessDraft) else draft["main_file"]
    sources = SourceSet()
    for path, content in files.items():
        sources.add(path, content)
    sources.requested = [main]
    return sources


def deploy_draft(engine: Engine, session: Session, draft: ProcessDraft, user: str, note: str = "") -> DeployResult:
    """Deploy the draft's process (checked first; nothing stored on findings), log it, and base
    the draft on the version it became."""
    try:
        results = engine.deploy(session, sources=sources_of(draft), deployed_by=user)
    except IntegrityError as exc:  # (key, version) is unique: another deploy took the number
        raise Conflict("deployed_meanwhile", key=draft.key) from exc
    result = next((r for r in results if r.key == draft.key), None)
    if result is None:
        raise DefinitionError("draft_main_file_lost", key=draft.key)
    log_event(
        session,
        draft.key,
        "deploy",
        user,
        engine.clock.now(),
        version=result.version,
        definition_id=result.definition_id,
        content_hash=result.content_hash,
        details={
            "draft": draft.id,
            "base_version": draft.base_version,
            "created": result.created,
            "note": note[:1000],
            "scenarios": draft.files.get(scenario_path(draft.key)),
        },
    )
    draft.base_version = result.version
    return result


def log_event(
    session: Session,
    key: str,
    action: str,
    actor: str,
    at: datetime,
    *,
    version: int | None = None,
    definition_id: int | None = None,
    content_hash: str | None = None,
    details: dict | None = None,
) -> DeploymentLog:
    """Append one entry to the deployment log."""
    entry = DeploymentLog(
        key=key,
        action=action,
        actor=actor,
        at=at,
        version=version,
        definition_id=definition_id,
        content_hash=content_hash,
        details=details or {},
    )
    session.add(entry)
    return entry


def log_of(session: Session, key: str | None = None, limit: int = 50) -> list[DeploymentLog]:
    """Recent deployment log entries (of one key), newest first."""
    query = select(DeploymentLog).order_by(DeploymentLog.at.desc(), DeploymentLog.id.desc()).limit(limit)
    if key is not None:
        query = query.where(DeploymentLog.key == key)
    return list(session.scalars(query))


def last_scenarios(session: Session, key: str) -> str | None:
    """The scenario file deployed with the latest designer deployment of `key`, if any."""
    for entry in log_of(session, key, limit=20):
        if entry.action == "deploy" and entry.details.get("scenarios"):
            return entry.details["scenarios"]
    return None

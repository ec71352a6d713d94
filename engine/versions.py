"""Stored versions of process definitions: deploy new ones, find the newest or a given one.

A deployment stores, per process key, every file the key needs (its BPMN, the BPMN of the
processes it calls, the DMN its rule tasks use, the forms its tasks show) as a new version,
unless the latest version already has the same content hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from engine.definitions import ParsedSources, content_hash, finding_from_validation
from engine.errors import DefinitionError, NotFound
from engine.models import DefinitionFile, ProcessDefinition
from engine.sources import References, SourceSet, defined_ids, missing_references, source_kind


@dataclass(frozen=True)
class DeployResult:
    key: str
    version: int
    definition_id: int
    created: bool
    content_hash: str


_NEWEST = (  # built once: every start reads it
    select(ProcessDefinition)
    .where(ProcessDefinition.key == bindparam("key"))
    .order_by(ProcessDefinition.version.desc())
    .limit(1)
)


def _newest(session: Session, key: str) -> ProcessDefinition | None:
    return session.scalars(_NEWEST, {"key": key}).first()


def latest_definition(session: Session, key: str) -> ProcessDefinition:
    """The newest version of `key`; NotFound when it was never deployed."""
    definition = _newest(session, key)
    if definition is None:
        raise NotFound("process_not_deployed", key=key)
    return definition


def find_definition(session: Session, key: str, version: int) -> ProcessDefinition:
    """Version `version` of `key`; NotFound otherwise."""
    found = session.scalars(
        select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
    ).first()
    if found is None:
        raise NotFound("no_such_process_version", key=key, version=version)
    return found


def store_versions(
    session: Session,
    sources: ParsedSources,
    keys: list[str],
    deployed_by: str | None,
    now: datetime,
) -> list[DeployResult]:
    """Store a new version for each key whose files changed; identical content is a no-op."""
    results = []
    for key in keys:
        try:
            files = sources.files_for(key)
        except ValidationException as exc:
            raise DefinitionError("process_cannot_be_built", [finding_from_validation(exc)], key=key) from exc
        digest = content_hash(files)
        latest = _newest(session, key)
        if latest is not None and latest.content_hash == digest:
            results.append(DeployResult(key, latest.version, latest.id, False, digest))
            continue
        version = latest.version + 1 if latest is not None else 1
        definition = ProcessDefinition(
            key=key,
            version=version,
            name=sources.parser.get_process_parser(key).get_name(),
            content_hash=digest,
            deployed_by=deployed_by,
            deployed_at=now,
            files=[DefinitionFile(path=p, content=c) for p, c in files.items()],
        )
        session.add(definition)
        session.flush()
        results.append(DeployResult(key, version, definition.id, True, digest))
    return results


def add_deployed(session: Session, sources: SourceSet) -> None:
    """Add to `sources` the deployed files that define what its files reference and it lacks
    (called processes, decisions, forms), from the newest version of each process; the last place
    a deploy looks (engine/sources.py)."""
    for _ in range(10):
        missing = missing_references(sources)
        if not missing:
            return
        added = False
        newest = (
            select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("version"))
            .group_by(ProcessDefinition.key)
            .subquery()
        )
        query = select(ProcessDefinition).join(
            newest, (ProcessDefinition.key == newest.c.key) & (ProcessDefinition.version == newest.c.version)
        )
        for definition in session.scalars(query.order_by(ProcessDefinition.key)):
            files = {f.path: f.content for f in definition.files}
            for path, text in files.items():
                if path in sources.files or not _defines(missing, definition.key, path, text):
                    continue
                sources.files[path] = text
                added = True
        if not added:
            return


def _defines(missing: References, key: str, path: str, text: str) -> bool:
    kind = source_kind(path, text)
    if path in missing.form_paths:
        return True
    ids = defined_ids(kind, text)
    wanted = {"bpmn": missing.processes, "dmn": missing.decisions, "form": missing.form_ids}.get(kind or "", set())
    return bool(ids & wanted)

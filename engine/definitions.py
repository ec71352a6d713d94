"""Process definitions: read BPMN/DMN/form files, parse them, cache specs, read their properties.

Parsed specs are cached per (key, content hash), so a request never re-parses XML. Storing
versions (deployment) is engine/versions.py.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from sqlalchemy.orm import Session

from engine.dmn.spiff import DMN_ROOTS, WaypointParser
from engine.errors import DefinitionError
from engine.models import ProcessDefinition
from engine.parsing import prepare_bpmn
from engine.parsing.events import read_every_start_event
from engine.people.roles import role_key
from engine.privacy.taint import classify_process
from engine.privacy.vault import Classification, classify
from engine.sources import (  # SourceSet and read_sources: read here by the designer, the CLI and tests
    FORM_PROPERTY,
    NS,
    decision_references,
    defined_ids,
    form_references,
    source_kind,
)
from engine.sources import (
    SourceSet as SourceSet,
)
from engine.sources import read_sources as read_sources
from engine.task_forms import attach_forms, load_forms
from engine.xmlsafe import parse_xml


def role_for_lane(lane: str | None) -> str | None:
    """The role a lane stands for, by the roles' one normalisation (`engine.people.roles.role_key`):
    `Passport officer` → `passport_officer`, "Légal" → `legal`."""
    return role_key(lane) or None


@dataclass
class ParsedSources:
    """A parser loaded with a source set, plus each file's XML root."""

    parser: SpiffBpmnParser
    trees: dict[str, Any]
    files: dict[str, str]
    #: the files SpiffWorkflow refused (their findings were reported); their trees are kept for the rules
    refused: set[str] = field(default_factory=set)

    def kind(self, path: str) -> str | None:
        return source_kind(path, self.files.get(path))

    def process_file(self, process_id: str) -> str:
        return self.parser.get_process_parser(process_id).filename

    def executable_ids(self, path: str) -> list[str]:
        root = self.trees.get(path)
        if root is None:
            return []
        return [
            p.get("id") for p in root.xpath("//bpmn:process", namespaces=NS) if p.get("isExecutable", "true") == "true"
        ]

    def files_for(self, key: str) -> dict[str, str]:
        """Every file process `key` needs: its BPMN, called BPMN, DMN and forms."""
        process_ids = [key, *self.parser.get_subprocess_specs(key)]
        paths = {self.process_file(pid) for pid in process_ids}
        form_ids = form_files_by_id(self.files)
        for pid in process_ids:
            node = self.parser.get_process_parser(pid).node
            for decision in decision_references(node):
                dmn = self.parser.dmn_parsers.get(decision)
                if dmn is not None:
                    paths.add(dmn.filename)
            form_paths, ids = form_references(node)
            paths.update(form_paths)
            paths.update(form_ids[i] for i in ids if i in form_ids)
            paths.update(f for p in form_paths for f in self.files if f.endswith("/" + p))
        return {p: self.files[p] for p in sorted(paths) if p in self.files}


def form_files_by_id(files: Mapping[str, str]) -> dict[str, str]:
    """Camunda form id → path of the `.form` file that defines it."""
    found: dict[str, str] = {}
    for path in sorted(files):
        if source_kind(path) == "form":
            for form_id in defined_ids("form", files[path]):
                found.setdefault(form_id, path)
    return found


def node_property(node: Any, name: str) -> str | None:
    """A `spiffworkflow:property` of a BPMN element as written in the XML, stripped (None when absent)."""
    path = f"bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='{name}']/@value"
    values = node.xpath(path, namespaces=NS)
    return values[0].strip() if values else None


def spec_properties(task_spec: Any) -> dict[str, str]:
    """The `spiffworkflow:property` values of a parsed task spec (the one reader of parsed properties)."""
    return dict(getattr(task_spec, "extensions", {}).get("properties", {}) or {})


def new_parser() -> SpiffBpmnParser:
    """The parser every deploy, check and spec build uses (XSD-validated)."""
    # business rule tasks run engine/dmn; error and escalation start events are read (engine/parsing/events.py)
    return read_every_start_event(WaypointParser(validator=VALIDATOR))


def parse_sources(files: Mapping[str, str]) -> ParsedSources:
    """Load every BPMN and DMN file into one SpiffWorkflow parser; DefinitionError with every finding."""
    parsed, findings = load_sources(files)
    if findings:
        raise DefinitionError("files_rejected", findings)
    return parsed


def load_sources(files: Mapping[str, str]) -> tuple[ParsedSources, list[dict]]:
    """Load what loads, and the findings of every file that does not (a file that fails does not stop the others)."""
    parser = new_parser()
    parsed = ParsedSources(parser, {}, dict(files))
    findings: list[dict] = []
    kinds = {path: source_kind(path, text) for path, text in files.items()}
    ordered = sorted((p for p in files if kinds[p] in ("bpmn", "dmn")), key=lambda p: (kinds[p] != "dmn", p))
    for path in ordered:
        try:
            root = parse_xml(files[path], path)
        except DefinitionError as exc:
            findings.append(_file_refused(path, exc))
            parsed.refused.add(path)
            continue
        parsed.trees[path] = root
        try:
            if kinds[path] == "dmn":
                _require_dmn_root(root, path)
                parser.add_dmn_xml(root, filename=path)
            else:
                _require_bpmn_root(root, path)
                parser.add_bpmn_xml(prepare_bpmn(root), filename=path)
        except DefinitionError as exc:
            findings.append(_file_refused(path, exc))
            parsed.refused.add(path)
            del parsed.trees[path]
        except ValidationException as exc:
            findings.append(finding_from_validation(exc, path))
            parsed.refused.add(path)
        except (SpiffWorkflowException, KeyError, AttributeError, TypeError, ValueError) as exc:
            findings.append({"file": path, "message": f"SpiffWorkflow cannot read this file: {exc}"})
            parsed.refused.add(path)
    return parsed, findings


def _file_refused(path: str, exc: DefinitionError) -> dict:
    """A finding for a file refused whole (broken XML, a DTD, another encoding, not BPMN/DMN): the refusal's
    own sentence (the error catalogue's, so it reads in French too) at the line where there is one."""
    line = next((f.get("line") for f in exc.findings if f.get("line")), None)
    message = str(exc.args[0]) if exc.args else str(exc)
    return {"file": path, "line": line, "element": None, "name": None, "message": message.removeprefix(f"{path}: ")}


def _require_bpmn_root(root: Any, path: str) -> None:
    if root.tag != f"{{{NS['bpmn']}}}definitions":
        raise DefinitionError(
            "not_bpmn",
            [{"file": path, "line": root.sourceline, "message": "root is not bpmn:definitions"}],
            path=path,
            root=root.tag,
        )


def _require_dmn_root(root: Any, path: str) -> None:
    # SpiffWorkflow reads a DMN file by XPath with the DMN prefixes: another root makes it raise
    # an lxml XPathEvalError instead of a finding.
    if root.tag not in DMN_ROOTS:
        raise DefinitionError(
            "not_dmn",
            [{"file": path, "line": root.sourceline, "message": "root is not dmn:definitions"}],
            path=path,
            root=root.tag,
        )


def finding_from_validation(exc: ValidationException, path: str | None = None) -> dict:
    """A finding dict from SpiffWorkflow's ValidationException."""
    message = str(exc.args[0]) if exc.args else str(exc)
    return {
        "file": getattr(exc, "file_name", None) or path,
        "line": getattr(exc, "line_number", None) or None,
        "element": getattr(exc, "id", None) or None,
        "name": getattr(exc, "name", None) or None,
        "message": message,
    }


def content_hash(files: Mapping[str, str]) -> str:
    """sha256 over (path, sha256(content)) pairs in path order."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(files[path].encode()).digest())
    return digest.hexdigest()


# --- parsed definitions, cached ----------------------------------------------------------
@dataclass(frozen=True)
class ParsedDefinition:
    """Everything the runtime needs from one deployed version, parsed once."""

    key: str
    name: str
    content_hash: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    forms: dict[str, dict]
    files: dict[str, str]
    main_file: str
    #: personal fields declared by the forms (`x-sensitive`, `x-personal`) and the variables the
    #: scripts derive from them (engine/privacy/taint.py): encrypted at rest, masked, purged
    personal: Classification = Classification()
    #: what a retention purge removes: the same as `personal`
    personal_any: Classification = Classification()
    #: French names (`name_fr` properties) by element id; the process's own under its key
    names_fr: Mapping[str, str] = field(default_factory=dict)

    def form(self, path: str | None) -> dict | None:
        return self.forms.get(path) if path else None

    @property
    def _start_events(self) -> list[Any]:
        return [spec for spec in self.spec.start.outputs if getattr(spec, "bpmn_id", None)]

    @property
    def start_form(self) -> str | None:
        """The start event's form file, if the process has a start form."""
        for spec in self._start_events:
            props = spec_properties(spec)
            if FORM_PROPERTY in props:
                return props[FORM_PROPERTY]
        return None

    @property
    def started_by_people(self) -> bool:
        """May a person start it from a page: its start event has a form, or nothing but a person
        triggers it (a none start event, which gets an empty start form)? A message, timer or
        signal start is for the outside system."""
        return self.start_form is not None or any(
            isinstance(getattr(spec, "event_definition", None), NoneEventDefinition) for spec in self._start_events
        )

    @property
    def start_roles(self) -> set[str]:
        """Who may start the process from the catalogue: the start event's `starters`
        property (space-separated roles), else the role of its lane."""
        for spec in self._start_events:
            props = spec_properties(spec)
            if props.get("starters"):
                return set(props["starters"].split())
            if role := role_for_lane(getattr(spec, "lane", None)):
                return {role}
        return set()


def element_properties(parsed: ParsedDefinition, element_id: str) -> dict[str, str]:
    """The `spiffworkflow:property` values of a BPMN element in a version (or a process it calls)."""
    specs = [parsed.spec, *parsed.subprocess_specs.values()]
    found = [s.task_specs[element_id] for s in specs if element_id in s.task_specs]
    return spec_properties(found[0]) if found else {}


def build_parsed(key: str, files: Mapping[str, str], sources: ParsedSources | None = None) -> ParsedDefinition:
    """Parse `files` (one version's files) into specs and forms."""
    sources = sources or parse_sources(files)
    try:
        spec = sources.parser.get_spec(key)
        subprocess_specs = sources.parser.get_subprocess_specs(key)
    except ValidationException as exc:
        raise DefinitionError("process_cannot_be_built", [finding_from_validation(exc)], key=key) from exc
    forms = load_forms(files, sources.trees.values())
    form_ids = form_files_by_id(files)
    for pid, process_spec in [*subprocess_specs.items(), (key, spec)]:
        attach_forms(sources.parser.get_process_parser(pid).node, process_spec, files, form_ids, forms)
    process = sources.parser.get_process_parser(key)
    names_fr = {key: node_property(process.node, "name_fr") or ""}
    for process_spec in [*subprocess_specs.values(), spec]:  # the process's own ids win over called ones
        _connect_loop_tasks(process_spec)
        names_fr.update((t.bpmn_id, spec_properties(t).get("name_fr") or "") for t in process_spec.task_specs.values())
    return ParsedDefinition(
        key,
        process.get_name(),
        content_hash(files),
        spec,
        subprocess_specs,
        forms,
        dict(files),
        sources.process_file(key),
        personal := classify_process(classify(forms.values()), [spec, *subprocess_specs.values()]),
        personal,
        {element: french for element, french in names_fr.items() if element and french},
    )


def _connect_loop_tasks(process_spec: BpmnProcessSpec) -> None:
    """Link each multi-instance/loop task to its child's completion, as the library's own spec
    deserializer does: SpiffWorkflow otherwise connects it only when it creates a child, so an
    instance loaded mid-loop in a fresh process would never merge its last children."""
    for task_spec in process_spec.task_specs.values():
        if isinstance(task_spec, LoopTask):
            child = process_spec.task_specs[task_spec.task_spec]
            if not child.completed_event.is_connected(task_spec.merge_child):
                child.completed_event.connect(task_spec.merge_child)


class SpecCache:
    """Parsed definitions by (key, content hash); thread-safe, parse once per version."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], ParsedDefinition] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, definition: ProcessDefinition) -> ParsedDefinition:
        cache_key = (definition.key, definition.content_hash)
        parsed = self._items.get(cache_key)
        if parsed is None:
            with self._lock:
                parsed = self._items.get(cache_key)
                if parsed is None:
                    files = {f.path: f.content for f in definition.files}
                    parsed = build_parsed(definition.key, files)
                    self._items[cache_key] = parsed
        return parsed

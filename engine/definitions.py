"""Process definitions: read BPMN/DMN/form files, parse them, cache specs, read their properties.

Parsed specs are cached per (key, content hash), so a request never re-parses XML. Storing
versions (deployment) is engine/versions.py.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from sqlalchemy.orm import Session

from engine.errors import DefinitionError, NotFound
from engine.models import ProcessDefinition
from engine.privacy.vault import Classification, classify
from engine.xmlsafe import MAX_FILE_BYTES, parse_xml, to_bytes

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
}
FORM_PROPERTY = "formJsonSchemaFilename"
SOURCE_SUFFIXES = (".bpmn", ".dmn", ".json")
MAX_TOTAL_BYTES = 20 * 1024 * 1024


def role_for_lane(lane: str | None) -> str | None:
    """The role a lane stands for: `Passport officer` → `passport_officer`."""
    if not lane:
        return None
    return "_".join(lane.strip().lower().replace("-", " ").split())


@dataclass
class SourceSet:
    """Files by path relative to their `bpmn/` root, and the BPMN files asked to deploy."""

    files: dict[str, str] = field(default_factory=dict)
    requested: list[str] = field(default_factory=list)

    def add(self, path: str, content: str | bytes) -> None:
        raw = to_bytes(content)
        if len(raw) > MAX_FILE_BYTES:
            raise DefinitionError(
                "file_over_limit",
                [{"file": path, "message": "file too large"}],
                path=path,
                size=f"{len(raw):,}",
                limit=f"{MAX_FILE_BYTES:,}",
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DefinitionError("not_utf8", [{"file": path, "message": "not UTF-8 text"}], path=path) from exc
        if path in self.files and self.files[path] != text:
            raise DefinitionError("duplicate_file_name", path=path)
        self.files[path] = text
        if sum(len(v) for v in self.files.values()) > MAX_TOTAL_BYTES:
            raise DefinitionError("deployment_too_large")


def read_sources(paths: Iterable[str | Path]) -> SourceSet:
    """Collect files from folders and files; a file pulls in its folder for dependencies."""
    sources = SourceSet()
    for raw_path in paths:
        path = Path(raw_path)
        if not path.exists():
            raise NotFound("no_such_path", path=str(path))
        root = path if path.is_dir() else path.parent
        found = []
        for candidate in sorted(root.rglob("*")):
            relative = candidate.relative_to(root)
            if (
                candidate.is_file()
                and candidate.suffix in SOURCE_SUFFIXES
                and not any(part.startswith(".") or part == "node_modules" for part in relative.parts)
            ):
                sources.add(relative.as_posix(), candidate.read_bytes())
                found.append(relative.as_posix())
        if path.is_dir():
            sources.requested.extend(p for p in found if p.endswith(".bpmn"))
        elif path.suffix == ".bpmn":
            sources.requested.append(path.name)
        else:
            raise DefinitionError("only_bpmn_files", path=str(path))
    sources.requested = sorted(set(sources.requested))
    return sources


@dataclass
class ParsedSources:
    """A parser loaded with a source set, plus each file's XML root."""

    parser: SpiffBpmnParser
    trees: dict[str, Any]
    files: dict[str, str]

    def process_file(self, process_id: str) -> str:
        return self.parser.get_process_parser(process_id).filename

    def executable_ids(self, path: str) -> list[str]:
        root = self.trees[path]
        return [
            p.get("id") for p in root.xpath("//bpmn:process", namespaces=NS) if p.get("isExecutable", "true") == "true"
        ]

    def files_for(self, key: str) -> dict[str, str]:
        """Every file process `key` needs: its BPMN, called BPMN, DMN and forms."""
        process_ids = [key, *self.parser.get_subprocess_specs(key)]
        paths = {self.process_file(pid) for pid in process_ids}
        for pid in process_ids:
            node = self.parser.get_process_parser(pid).node
            for decision in node.xpath(".//spiffworkflow:calledDecisionId/text()", namespaces=NS):
                dmn = self.parser.dmn_parsers.get(decision.strip())
                if dmn is not None:
                    paths.add(dmn.filename)
            paths.update(form_references(node))
        return {p: self.files[p] for p in sorted(paths) if p in self.files}


def node_property(node: Any, name: str) -> str | None:
    """A `spiffworkflow:property` of a BPMN element as written in the XML, stripped (None when absent)."""
    path = f"bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='{name}']/@value"
    values = node.xpath(path, namespaces=NS)
    return values[0].strip() if values else None


def spec_properties(task_spec: Any) -> dict[str, str]:
    """The `spiffworkflow:property` values of a parsed task spec (the one reader of parsed properties)."""
    return dict(getattr(task_spec, "extensions", {}).get("properties", {}) or {})


def form_references(node: Any) -> set[str]:
    """Form file paths referenced by user tasks and start events under `node`."""
    xpath = f".//spiffworkflow:property[@name='{FORM_PROPERTY}']/@value"
    return {v.strip() for v in node.xpath(xpath, namespaces=NS)}


def parse_sources(files: Mapping[str, str]) -> ParsedSources:
    """Load every BPMN and DMN file into one SpiffWorkflow parser (XSD-validated)."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    trees: dict[str, Any] = {}
    findings: list[dict] = []
    ordered = sorted(files, key=lambda p: (not p.endswith(".dmn"), p))
    for path in ordered:
        if not path.endswith((".bpmn", ".dmn")):
            continue
        root = parse_xml(files[path], path)
        trees[path] = root
        try:
            if path.endswith(".dmn"):
                _require_dmn_root(root, path)
                parser.add_dmn_xml(root, filename=path)
            else:
                _require_bpmn_root(root, path)
                parser.add_bpmn_xml(root, filename=path)
        except ValidationException as exc:
            findings.append(finding_from_validation(exc, path))
        except (SpiffWorkflowException, KeyError, AttributeError, TypeError, ValueError) as exc:
            findings.append({"file": path, "message": f"cannot parse: {exc}"})
    if findings:
        raise DefinitionError("files_rejected", findings)
    return ParsedSources(parser, trees, dict(files))


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
    if root.tag not in {f"{{{ns}}}definitions" for ns in DMN_SCHEMAS}:
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
    #: personal fields declared by the forms (`x-sensitive`), encrypted at rest
    personal: Classification = Classification()
    #: what a retention purge removes: sensitive fields and other personal ones (`x-personal`)
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
    forms = {}
    for path, text in files.items():
        if path.endswith(".json"):
            try:
                forms[path] = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DefinitionError(
                    "invalid_json_at_line",
                    [{"file": path, "line": exc.lineno, "message": f"invalid JSON: {exc.msg}"}],
                    path=path,
                    line=exc.lineno,
                    detail=exc.msg,
                ) from exc
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
        classify(forms.values()),
        classify(forms.values(), ("x-sensitive", "x-personal")),
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

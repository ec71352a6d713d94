"""What a deployment is made of: the files named, and only the files they reference.

Files are known by kind, as modelling tools save them: BPMN (`.bpmn`, `.bpmn20.xml`, or `.xml`
holding `bpmn:definitions`), DMN (`.dmn`, or `.xml` holding DMN), JSON Schema forms (`.json`) and
Camunda Forms (`.form`), in any letter case. A folder is a bundle: every such file under it. A
file brings along what it references (called processes, decisions, forms): first among the files
named with it, then from its own folder (a form by its relative path; a process, decision or
Camunda form only when some file there defines that id), and last among deployed definitions
(`engine.versions.add_deployed`). An unrelated file beside it is never read into the set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import DefinitionError, NotFound
from engine.xmlsafe import MAX_FILE_BYTES, parse_xml, to_bytes

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "zeebe": "http://camunda.org/schema/zeebe/1.0",
}
FORM_PROPERTY = "formJsonSchemaFilename"
#: the form of what a person records for a message wait (engine/outside_events.py)
RECORD_FORM_PROPERTY = "recordForm"
MAX_TOTAL_BYTES = 20 * 1024 * 1024
#: how many candidate files a folder search reads at most (a Downloads folder is not a bundle)
MAX_SCANNED = 500
_ROOT = re.compile(r"<(?![?!])(?:[\w.-]+:)?definitions\b")
_DMN = re.compile(r"www\.omg\.org/spec/DMN/")
#: what Camunda writes before a form's file name in `formKey`
_FORM_KEY_PREFIXES = ("camunda-forms:deployment:", "embedded:deployment:", "embedded:app:", "deployment:", "app:")


def source_kind(path: str, text: str | None = None) -> str | None:
    """ "bpmn", "dmn", "json", "form" or None (not a source), from the name and, for `.xml`, the root."""
    name = path.lower()
    if name.endswith((".bpmn", ".bpmn2", ".bpmn20.xml")):
        return "bpmn"
    if name.endswith(".dmn"):
        return "dmn"
    if name.endswith(".form"):
        return "form"
    if name.endswith(".json"):
        return "json"
    if name.endswith(".xml") and text is not None and _ROOT.search(text[:4096]):
        return "dmn" if _DMN.search(text[:4096]) else "bpmn" if NS["bpmn"] in text[:4096] else None
    return None


#: an XML declaration's encoding
_DECLARED = re.compile(rb"\A(\xef\xbb\xbf)?(\s*<\?xml[^>]*?\bencoding\s*=\s*[\"'])([^\"']*)([\"'])", re.IGNORECASE)
#: single-byte encodings modelers write (ISO-8859-1 from Signavio and the OMG suite): read as UTF-8
_SINGLE_BYTE = frozenset(
    {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "us-ascii", "ascii", "windows-1252", "cp1252"}
)


def as_utf8(raw: bytes) -> bytes:
    """An XML file declared in a single-byte encoding, re-encoded as UTF-8 with its declaration saying so
    (the hardened parser reads UTF-8 only); any other content unchanged."""
    match = _DECLARED.match(raw[:512])
    if match is None or match.group(3).decode("ascii", "replace").strip().lower() not in _SINGLE_BYTE:
        return raw
    codec = "cp1252" if match.group(3).lower() in (b"windows-1252", b"cp1252") else "latin-1"
    try:
        text = raw[match.end() :].decode(codec)
    except UnicodeDecodeError:
        return raw
    return match.group(2) + b"UTF-8" + match.group(4) + text.encode("utf-8")


def is_diagram(path: str, text: str | None = None) -> bool:
    return source_kind(path, text) == "bpmn"


@dataclass
class SourceSet:
    """Files by path relative to their folder, and the BPMN files asked to deploy."""

    files: dict[str, str] = field(default_factory=dict)
    requested: list[str] = field(default_factory=list)

    def add(self, path: str, content: str | bytes) -> None:
        raw = as_utf8(to_bytes(content))
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

    def kind(self, path: str) -> str | None:
        return source_kind(path, self.files.get(path))


def read_sources(paths: Iterable[str | Path]) -> SourceSet:
    """The files named (a folder: every source file under it) plus what the named files reference."""
    sources = SourceSet()
    folders: list[Path] = []
    for raw_path in paths:
        path = Path(raw_path)
        if not path.exists():
            raise NotFound("no_such_path", path=str(path))
        if path.is_dir():
            for relative, candidate in _candidates(path):
                text = candidate.read_bytes()
                kind = source_kind(relative, text[:4096].decode("utf-8", "replace"))
                if kind is not None:
                    sources.add(relative, text)
                    if kind == "bpmn":
                        sources.requested.append(relative)
            continue
        text = path.read_bytes()
        kind = source_kind(path.name, text[:4096].decode("utf-8", "replace"))
        if kind is None:
            raise DefinitionError("only_bpmn_files", path=str(path))
        sources.add(path.name, text)
        if kind == "bpmn":
            sources.requested.append(path.name)
        folders.append(path.parent)
    for folder in dict.fromkeys(folders):
        _bring_references(sources, folder)
    sources.requested = sorted(set(sources.requested))
    return sources


def _candidates(root: Path) -> Iterator[tuple[str, Path]]:
    for candidate in sorted(root.rglob("*")):
        relative = candidate.relative_to(root)
        if candidate.is_file() and not any(p.startswith(".") or p == "node_modules" for p in relative.parts):
            yield relative.as_posix(), candidate


# --- references -----------------------------------------------------------------------------------
@dataclass
class References:
    """What a set of files uses and does not define: process, decision and form ids, form paths."""

    processes: set[str] = field(default_factory=set)
    decisions: set[str] = field(default_factory=set)
    form_ids: set[str] = field(default_factory=set)
    form_paths: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.processes or self.decisions or self.form_ids or self.form_paths)


def form_key_path(value: str | None) -> str | None:
    """The file a Camunda `formKey` names (`camunda-forms:deployment:x.form` → `x.form`), or None."""
    value = (value or "").strip()
    for prefix in _FORM_KEY_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :].lstrip("/") or None
    return value if value and ":" not in value and source_kind(value) in ("json", "form") else None


def form_references(node: Any) -> tuple[set[str], set[str]]:
    """(form file paths, Camunda form ids) that user tasks, start events and recordable message
    waits under `node` use."""
    named = f"@name='{FORM_PROPERTY}' or @name='{RECORD_FORM_PROPERTY}'"
    paths = {v.strip() for v in node.xpath(f".//spiffworkflow:property[{named}]/@value", namespaces=NS)}
    paths |= {p for v in node.xpath(".//@camunda:formKey", namespaces=NS) if (p := form_key_path(v))}
    ids = {v.strip() for v in node.xpath(".//@camunda:formRef | .//zeebe:formDefinition/@formId", namespaces=NS)}
    return {p for p in paths if p}, {i for i in ids if i}


def decision_references(node: Any) -> set[str]:
    found = node.xpath(".//spiffworkflow:calledDecisionId/text() | .//@camunda:decisionRef", namespaces=NS)
    return {v.strip() for v in found if v.strip()}


def defined_ids(kind: str | None, text: str) -> set[str]:
    """Ids a file defines for others to reference: processes (BPMN), decisions (DMN), a form's id."""
    if kind == "form":
        try:
            value = json.loads(text)
        except ValueError:
            return set()
        return {value["id"]} if isinstance(value, dict) and isinstance(value.get("id"), str) else set()
    if kind not in ("bpmn", "dmn"):
        return set()
    try:
        root = parse_xml(text, "-")
    except DefinitionError:
        return set()
    if kind == "bpmn":
        return set(root.xpath("//bpmn:process/@id", namespaces=NS))
    return {n.get("id") for n in root.iter() if str(n.tag).endswith("}decision") and n.get("id")}


def missing_references(sources: SourceSet) -> References:
    """What the BPMN files of `sources` reference that no file of `sources` defines."""
    wanted, defined = References(), References()
    for path, text in sources.files.items():
        kind = sources.kind(path)
        ids = defined_ids(kind, text)
        if kind == "bpmn":
            defined.processes |= ids
        elif kind == "dmn":
            defined.decisions |= ids
        elif kind == "form":
            defined.form_ids |= ids
        if kind != "bpmn":
            continue
        try:
            root = parse_xml(text, path)
        except DefinitionError:
            continue
        wanted.processes |= {v.strip() for v in root.xpath("//bpmn:callActivity/@calledElement", namespaces=NS)}
        wanted.decisions |= decision_references(root)
        form_paths, form_ids = form_references(root)
        wanted.form_paths |= form_paths
        wanted.form_ids |= form_ids
    return References(
        wanted.processes - defined.processes - {""},
        wanted.decisions - defined.decisions,
        wanted.form_ids - defined.form_ids,
        {p for p in wanted.form_paths if p not in sources.files},
    )


def _bring_references(sources: SourceSet, folder: Path) -> None:
    """Add from `folder` the files that define what `sources` references and lacks, until none is left."""
    index: dict[tuple[str, str], str] | None = None
    for _ in range(20):  # each round may add files that reference more; a chain is short
        missing = missing_references(sources)
        added = False
        for path in sorted(missing.form_paths):
            candidate = folder / path
            if ".." not in Path(path).parts and candidate.is_file() and candidate.stat().st_size <= MAX_FILE_BYTES:
                sources.add(path, candidate.read_bytes())
                added = True
        wanted = {("bpmn", i) for i in missing.processes} | {("dmn", i) for i in missing.decisions}
        wanted |= {("form", i) for i in missing.form_ids}
        if wanted:
            index = index if index is not None else _index(folder)
            for key in sorted(wanted & set(index)):
                relative = index[key]
                if relative not in sources.files:
                    sources.add(relative, (folder / relative).read_bytes())
                    added = True
        if not added:
            return


def _index(folder: Path) -> dict[tuple[str, str], str]:
    """(kind, id) → relative path of the file defining it, over the folder's source files (broken ones skipped)."""
    index: dict[tuple[str, str], str] = {}
    scanned = 0
    for relative, candidate in _candidates(folder):
        if (
            scanned >= MAX_SCANNED
            or source_kind(relative, "") in ("json", None)
            and not relative.lower().endswith(".xml")
        ):
            continue
        if candidate.stat().st_size > MAX_FILE_BYTES:
            continue
        scanned += 1
        try:
            text = candidate.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        kind = source_kind(relative, text)
        for defined in defined_ids(kind, text):
            index.setdefault((kind or "", defined), relative)
    return index

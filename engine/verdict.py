"""One verdict for a set of files: what `check` reports is exactly what `deploy` decides by.

`verify` runs everything a deploy runs, in the order it runs it: the XML and the BPMN/DMN schemas
(XSD), SpiffWorkflow's parse, Waypoint's rules (engine/checks.py), a path from each start to an
end, and the build of every process to deploy as the run time will build it (its own files only,
forms included). A file that fails does not hide the others' findings. SpiffWorkflow's messages are
translated (`library_finding`): each finding names the file, line, element id and name, and says
what to do, never a Python repr. `Engine.check` returns the findings; `Engine.deploy` stores
nothing while any of them is an error (warnings, such as a new role, do not stop it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.checks import check_sources
from engine.definitions import NS, ParsedSources, build_parsed, finding_from_validation, load_sources
from engine.errors import DefinitionError
from engine.roles_check import RoleFacts, role_names
from engine.sources import SourceSet
from engine.task_forms import form_tasks

_REPR = re.compile(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-f]+>")
_EXCEPTION_REPR = re.compile(r"^[A-Z]\w*(?:Error|Exception)\(")
#: SpiffWorkflow's message (a pattern) → what to tell the designer
_ADVICE: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"Data Store with name (?P<name>.+?) has no implementation", re.S),
        "data store '{name}': Waypoint keeps no data stores; remove it and keep the data in process "
        "variables (a data object)",
    ),
    (
        re.compile(r"A Service Task must have an operator"),
        "Waypoint runs no service tasks: make it a script task, a user task or a manual task",
    ),
    (
        re.compile(r"Exactly one start event is required in a SubWorkflow Task; found (?P<n>\d+)"),
        "a subprocess needs exactly one start event (it has {n}): give it one none start event",
    ),
    (
        re.compile(r"Cannot resolve (?P<what>data\w+Association)"),
        "its {what} points at nothing in this process: connect it to a data object or remove it",
    ),
    (
        re.compile(r"multiinstance task must specify a cardinality or a loop input"),
        "a multi-instance task needs a loop cardinality or an input collection: set one of them",
    ),
    (
        re.compile(r"Duplicate process ID: (?P<id>\S+)"),
        "two files define process '{id}': give each process its own id, or deploy one file",
    ),
    (
        re.compile(r"No start event found|(?:M|m)issing start event|must have a start event"),
        "the process has no start event: add one",
    ),
]


@dataclass
class Verdict:
    """Every finding on a set of files, the processes a deploy would store, and the role names they use."""

    findings: list[dict] = field(default_factory=list)
    parsed: ParsedSources | None = None
    keys: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[dict]:
        return [f for f in self.findings if f.get("severity", "error") != "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def verify(
    sources: SourceSet, roles: RoleFacts | None, helper_names: Iterable[str], known_messages: Iterable[str]
) -> Verdict:
    """The verdict on `sources` (see the module docstring); raises nothing for what files contain."""
    parsed, findings = load_sources(sources.files)
    findings = [library_finding(f, parsed) for f in findings]
    findings += check_sources(parsed, roles, helper_names, known_messages)
    verdict = Verdict(findings, parsed)
    for path in sources.requested:
        if path in parsed.refused:
            continue
        ids = parsed.executable_ids(path)
        if not ids:
            verdict.findings.append(_plain(path, "no executable process in this file: mark one isExecutable"))
        verdict.keys += ids
    for path, root in parsed.trees.items():
        if parsed.kind(path) == "bpmn":
            verdict.findings += [_plain(path, m, node) for node, m in dead_ends(root)]
    flagged = {(f.get("file"), f.get("element")) for f in verdict.findings if f.get("severity", "error") == "error"}
    for key in verdict.keys:  # a build error on an element already found wrong says nothing new
        verdict.findings += [f for f in _build(key, parsed) if (f.get("file"), f.get("element")) not in flagged]
    verdict.roles = role_names(
        (task, lane)
        for path, root in parsed.trees.items()
        if parsed.kind(path) == "bpmn"
        for task, lane in _lanes(root)
    )
    seen: set[tuple[Any, str]] = set()
    kept = []
    for finding in verdict.findings:
        finding.setdefault("severity", "error")
        finding["message"] = " ".join(str(finding.get("message") or "").split())  # names quoted in it, too
        once = (finding.get("file"), finding["message"])
        if finding["severity"] == "warning" and once in seen:
            continue  # a new role is news once per file, not once per task
        seen.add(once)
        kept.append(finding)
    verdict.findings = kept
    return verdict


def _build(key: str, parsed: ParsedSources) -> list[dict]:
    """Build `key` from the files a deploy stores for it, as the run time does; its findings."""
    try:
        files = parsed.files_for(key)
        build_parsed(key, files)
    except DefinitionError as exc:
        return [library_finding(f, parsed) for f in exc.findings] or [_plain(None, str(exc))]
    except Exception as exc:  # the library's own errors: translated, never a repr
        found = finding_from_validation(exc) if hasattr(exc, "id") else {"message": str(exc)}
        return [library_finding({"file": parsed.process_file(key) if key else None, **found}, parsed)]
    return []


def _plain(path: str | None, message: str, node: Any = None) -> dict:
    return {
        "file": path,
        "line": node.sourceline if node is not None else None,
        "element": node.get("id") if node is not None else None,
        "name": node.get("name") if node is not None else None,
        "message": message,
        "severity": "error",
    }


def library_finding(finding: dict, parsed: ParsedSources | None = None) -> dict:
    """A SpiffWorkflow finding in a designer's words: the repr out, advice in, the element found by id or name."""
    message = " ".join(_REPR.sub(r"\1", str(finding.get("message") or "")).split()).rstrip(". ")
    if _EXCEPTION_REPR.match(message):
        message = "SpiffWorkflow cannot build this element: compare it with the BPMN standard or simplify it"
    advice = None
    for pattern, text in _ADVICE:
        match = pattern.search(message)
        if match:
            advice = text.format(**{k: " ".join(v.split()) for k, v in match.groupdict().items()})
            break
    out = {**finding, "message": advice or message}
    if parsed is not None and out.get("file") in parsed.trees and not out.get("line"):
        node = _locate(parsed.trees[out["file"]], out.get("element"), message)
        if node is not None:
            out.update(line=node.sourceline, element=node.get("id"), name=out.get("name") or node.get("name"))
    if out.get("name"):
        out["name"] = " ".join(str(out["name"]).split())
    return out


def _locate(root: Any, element: str | None, message: str) -> Any:
    if element:
        found = root.xpath("//*[@id=$id]", id=element)
        return found[0] if found else None
    match = re.search(r"with name (.+?) has no", message)
    if match:
        wanted = " ".join(match.group(1).split())
        for node in root.iter():
            if node.get("name") is not None and " ".join(node.get("name").split()) == wanted:
                return node
    return None


def _lanes(root: Any) -> list[tuple[Any, str | None]]:
    lanes: dict[str, str] = {}
    for lane in root.xpath("//bpmn:lane", namespaces=NS):
        for ref in lane.xpath("bpmn:flowNodeRef/text()", namespaces=NS):
            lanes[ref.strip()] = lane.get("name") or lane.get("id")
    return [(task, lanes.get(task.get("id"))) for task in form_tasks(root)]


# --- a path from start to end -------------------------------------------------------------------
_FLOW_NODES = (
    "task userTask manualTask scriptTask serviceTask sendTask receiveTask businessRuleTask callActivity subProcess "
    "transaction adHocSubProcess exclusiveGateway inclusiveGateway parallelGateway eventBasedGateway complexGateway "
    "intermediateCatchEvent intermediateThrowEvent endEvent startEvent boundaryEvent"
).split()


def dead_ends(root: Any) -> list[tuple[Any, str]]:
    """(start event, message) for each start event of a process or subprocess from which no end can be reached."""
    out = []
    for scope in root.xpath("//bpmn:process | //bpmn:subProcess | //bpmn:transaction", namespaces=NS):
        nodes = {n.get("id"): n for n in scope if n.get("id") and str(n.tag).rsplit("}", 1)[-1] in _FLOW_NODES}
        outgoing: dict[str, list[str]] = {}
        for flow in scope.xpath("bpmn:sequenceFlow", namespaces=NS):
            outgoing.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
        for boundary in scope.xpath("bpmn:boundaryEvent", namespaces=NS):
            outgoing.setdefault(boundary.get("attachedToRef"), []).append(boundary.get("id"))
        for start in scope.xpath("bpmn:startEvent", namespaces=NS):
            if not _reaches_end(start.get("id"), nodes, outgoing):
                out.append((start, "no path leads from this start event to an end: connect it to an end event"))
    return out


def _reaches_end(start: str, nodes: dict[str, Any], outgoing: dict[str, list[str]]) -> bool:
    seen, todo = {start}, [start]
    while todo:
        current = todo.pop()
        node = nodes.get(current)
        if node is None:
            continue
        targets = outgoing.get(current, [])
        is_end = str(node.tag).endswith("}endEvent")
        if is_end or (current != start and not [t for t in targets if t]):
            return True
        for target in targets:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return False

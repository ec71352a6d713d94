"""Waypoint's own rules for a set of BPMN/DMN/form files, beyond what SpiffWorkflow parses.

Each finding names the file, line and element (id and name) so a person can fix it:
element ids that collide with SpiffWorkflow's built-in `Start`/`End`, user tasks in lanes
that are not roles or without a valid form, gateways with an unguarded outgoing flow,
timers that are not ISO 8601, scripts/conditions/DMN cells that the restricted
environment would refuse (imports, `_` names, unknown functions), call activities and
business rule tasks that name no process or decision in the files, message events whose
message is neither declared in the files (`bpmn:message`) nor registered by `workflows/`, and,
in a set kept in both official languages, text without its French or English.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.bilingual import check_bilingual, is_bilingual, short
from engine.definitions import NS, ParsedSources, form_files_by_id, node_property
from engine.dmn import check_dmn
from engine.formjs import FormNotConvertible, convert_text
from engine.parsing.languages import PYTHON, check_languages, language_of
from engine.parsing.standard import check_event_gateways
from engine.roles_check import RoleFacts, check_assignment
from engine.scripting import ALLOWED_BUILTIN_NAMES, ScriptRejected, check_source, is_iso_literal
from engine.task_forms import form_tasks, named_form

RESERVED_IDS = {"Start", "End"}
_LOOKS_ISO = re.compile(r"^(R\d*/)?P[\dT]|^\d{4}-\d{2}")
DURATION_PROPERTIES = ("dueIn", "reminderEvery", "escalateAfter")


#: BPMN elements directly inside these are the ones a diagram shows (and a finding names)
_CONTAINERS = {"definitions", "process", "subProcess", "transaction", "adHocSubProcess", "laneSet", "collaboration"}


def _named(node: Any) -> bool:
    """Whether a finding should name `node`: it has an id and, in BPMN, is a diagram element
    (not an event definition or loop marker inside one, which the diagram cannot highlight)."""
    if node.get("id") is None:
        return False
    parent = node.getparent()
    if not str(node.tag).startswith(f"{{{NS['bpmn']}}}") or parent is None:
        return True
    return str(parent.tag).rsplit("}", 1)[-1] in _CONTAINERS


def _finding(path: str, node: Any, message: str, severity: str = "error") -> dict:
    element = node if node is not None else None
    while element is not None and not _named(element):
        element = element.getparent()
    return {
        "file": path,
        "line": node.sourceline if node is not None else None,
        "element": element.get("id") if element is not None else None,
        "name": element.get("name") if element is not None else None,
        "message": message,
        "severity": severity,
    }


def check_sources(
    sources: ParsedSources,
    roles: RoleFacts | None,
    helper_names: Iterable[str],
    known_messages: Iterable[str],
) -> list[dict]:
    """All findings for the BPMN and DMN files of `sources` (empty list: all good); a finding with
    `"severity": "warning"` does not stop a deploy.

    `roles`: the roles that exist and who holds them (None: do not check lanes against roles).
    `known_messages`: names delivered from outside besides those the files declare
    (what `workflows/` registered with `glue.message`).
    """
    names = set(ALLOWED_BUILTIN_NAMES) | set(helper_names)
    messages = set(known_messages)
    findings: list[dict] = []
    for path, root in sources.trees.items():
        if sources.kind(path) == "bpmn":
            findings += _check_bpmn(path, root, sources, roles, names)
        else:
            findings += check_dmn(path, root, names)  # engine/dmn: FEEL and Python cells, DMN 1.1–1.5
    findings += _check_form_files(sources)
    findings += _check_called(sources)
    findings += _check_messages(sources, messages)
    if is_bilingual(sources.files):
        findings += check_bilingual(sources.files)
    return findings


def _bpmn_trees(sources: ParsedSources) -> list[tuple[str, Any]]:
    return [(path, root) for path, root in sources.trees.items() if sources.kind(path) == "bpmn"]


def _check_called(sources: ParsedSources) -> list[dict]:
    """Call activities and business rule tasks must name a process / decision in the files."""
    trees = _bpmn_trees(sources)
    processes = {p for _, root in trees for p in root.xpath("//bpmn:process/@id", namespaces=NS)}
    decisions = set(sources.parser.dmn_parsers)
    out = []
    for path, root in trees:
        for call in root.xpath("//bpmn:callActivity", namespaces=NS):
            called = (call.get("calledElement") or "").strip()
            if not called:
                out.append(_finding(path, call, "call activity names no process to call (calledElement)"))
            elif called not in processes:
                out.append(_finding(path, call, f"calls process '{called}', which is in none of these files"))
        for task in root.xpath("//bpmn:businessRuleTask", namespaces=NS):
            refs = task.xpath("bpmn:extensionElements/spiffworkflow:calledDecisionId/text()", namespaces=NS)
            decision = refs[0].strip() if refs else ""
            if not decision:
                out.append(_finding(path, task, "business rule task names no decision (calledDecisionId)"))
            elif decision not in decisions:
                out.append(_finding(path, task, f"uses decision '{decision}', which is in no DMN file here"))
    return out


def _check_messages(sources: ParsedSources, registered: set[str]) -> list[dict]:
    """Message events and tasks must use a message declared in their file or registered by workflows/."""
    out = []
    known = set(registered)
    for _, root in _bpmn_trees(sources):
        known.update(n.strip() for n in root.xpath("//bpmn:message/@name", namespaces=NS))
    for path, root in _bpmn_trees(sources):
        declared = {m.get("id"): (m.get("name") or "").strip() for m in root.xpath("//bpmn:message", namespaces=NS)}
        properties = set(root.xpath("//bpmn:correlationProperty/@id", namespaces=NS))
        users = root.xpath("//bpmn:messageEventDefinition | //bpmn:receiveTask | //bpmn:sendTask", namespaces=NS)
        for node in users:
            ref = node.get("messageRef")
            owner = node.getparent() if node.tag.endswith("EventDefinition") else node
            if ref is None and node.tag.endswith("Task"):
                out.append(_finding(path, owner, "task names no message (messageRef)"))
            elif ref is None:
                name = (owner.get("name") or "").strip()
                if name not in known:
                    out.append(
                        _finding(
                            path,
                            owner,
                            f"message event names no message (messageRef), so it would "
                            f"use its own name '{name}', which is not a known message",
                        )
                    )
            elif ref not in declared:
                out.append(_finding(path, owner, f"message '{ref}' is not declared in this file (bpmn:message)"))
            elif not declared[ref]:
                out.append(_finding(path, owner, f"message '{ref}' has no name"))
        for expr in root.xpath("//bpmn:correlationPropertyRetrievalExpression", namespaces=NS):
            if expr.get("messageRef") not in declared:
                out.append(
                    _finding(
                        path,
                        expr.getparent(),
                        f"correlation uses message '{expr.get('messageRef')}', which is not declared in this file",
                    )
                )
        for ref in root.xpath("//spiffworkflow:processVariableCorrelation/spiffworkflow:propertyId", namespaces=NS):
            if (ref.text or "").strip() not in properties:
                out.append(
                    _finding(
                        path,
                        ref,
                        f"correlation property '{(ref.text or '').strip()}' is not declared (bpmn:correlationProperty)",
                    )
                )
    return out


def _check_bpmn(path: str, root: Any, sources: ParsedSources, roles: RoleFacts | None, names: set[str]) -> list[dict]:
    out: list[dict] = []
    for node in root.xpath("//*[@id]"):
        if node.get("id") in RESERVED_IDS:
            out.append(
                _finding(
                    path,
                    node,
                    f"the id '{node.get('id')}' collides with SpiffWorkflow's "
                    "built-in task of that name: rename it (e.g. StartEvent_1)",
                )
            )
    lanes = _lanes_by_node(root)
    form_ids = form_files_by_id(sources.files)
    for task in form_tasks(root):
        for message, severity in check_assignment(task, lanes.get(task.get("id")), roles):
            out.append(_finding(path, task, message, severity))
        out += _check_task_form(path, task, sources, form_ids)
        for prop in DURATION_PROPERTIES:
            value = node_property(task, prop)
            if value is not None and not _is_duration(value):
                out.append(_finding(path, task, f"property {prop}='{value}' is not an ISO 8601 duration"))
        approval = node_property(task, "approval")  # engine.permissions.is_approval reads true/false only
        if approval is not None and approval.strip().lower() not in ("true", "false"):
            out.append(_finding(path, task, f"property approval='{approval}' is neither 'true' nor 'false'"))
    for start in root.xpath("//bpmn:process/bpmn:startEvent", namespaces=NS):
        out += _check_task_form(path, start, sources, form_ids)
    out += _check_gateways(path, root)
    out += _check_expressions(path, root, names)
    out += check_languages(path, root, names, _finding)  # FEEL, JUEL and languages Waypoint does not run
    out += check_event_gateways(path, root, _finding)
    return out


def _lanes_by_node(root: Any) -> dict[str, str]:
    lanes = {}
    for lane in root.xpath("//bpmn:lane", namespaces=NS):
        for ref in lane.xpath("bpmn:flowNodeRef/text()", namespaces=NS):
            lanes[ref.strip()] = lane.get("name") or lane.get("id")
    # Nodes inside an embedded subprocess take its lane unless a lane names them (as SpiffWorkflow does).
    for sub in root.xpath("//bpmn:subProcess[@id]", namespaces=NS):
        lane = lanes.get(sub.get("id"))
        if lane is not None:
            for node in sub.xpath(".//*[@id]"):
                lanes.setdefault(node.get("id"), lane)
    return lanes


def _check_task_form(path: str, node: Any, sources: ParsedSources, form_ids: dict[str, str]) -> list[dict]:
    key, problem, severity = named_form(node, sources.files, form_ids)
    if problem is not None:
        return [_finding(path, node, problem, severity)]
    if key is None or key not in sources.files or sources.kind(key) != "json":
        return []
    try:
        Draft202012Validator.check_schema(json.loads(sources.files[key]))
    except json.JSONDecodeError as exc:
        return [_finding(path, node, f"form '{key}' is not valid JSON: {exc.msg} (line {exc.lineno})")]
    except SchemaError as exc:
        return [_finding(path, node, f"form '{key}' is not a valid JSON Schema: {exc.message}")]
    return []


def _check_form_files(sources: ParsedSources) -> list[dict]:
    """Camunda Forms files must convert to a form Waypoint renders and validates (engine/formjs.py)."""
    out = []
    for path, text in sorted(sources.files.items()):
        if sources.kind(path) == "form":
            try:
                convert_text(text)
            except FormNotConvertible as exc:
                element = {"file": path, "line": None, "element": exc.field, "name": None, "severity": "error"}
                out.append({**element, "message": f"Camunda form: {exc}"})
    return out


def _is_duration(value: str) -> bool:
    if not value.upper().startswith("P"):
        return False
    try:
        TimerEventDefinition.parse_iso_duration(value)
    except Exception:
        return False
    return True


def _check_gateways(path: str, root: Any) -> list[dict]:
    out = []
    for gateway in root.xpath("//bpmn:exclusiveGateway", namespaces=NS):  # inclusive: engine/parsing/standard.py
        flows = root.xpath(f"//bpmn:sequenceFlow[@sourceRef='{gateway.get('id')}']", namespaces=NS)
        if len(flows) < 2:
            continue
        default = gateway.get("default")
        for flow in flows:
            if flow.get("id") != default and not flow.xpath("bpmn:conditionExpression", namespaces=NS):
                out.append(
                    _finding(
                        path,
                        gateway,
                        f"outgoing flow '{flow.get('id')}' has no condition and is not the gateway's default",
                    )
                )
    return out


def _check_expressions(path: str, root: Any, names: set[str]) -> list[dict]:
    out = []
    for node, mode in _expression_nodes(root):
        if _is_python(node):
            out += _check_one(path, node, (node.text or "").strip(), mode, names)
    for node in root.xpath("//bpmn:timerEventDefinition/*", namespaces=NS):
        if not _is_python(node):
            continue
        text = (node.text or "").strip()
        if is_iso_literal(text) or _LOOKS_ISO.match(text):
            try:
                TimerEventDefinition.parse_iso_recurring_interval(text) if text.upper().startswith(
                    "R"
                ) else TimerEventDefinition.parse_time_or_duration(text)
            except Exception:
                out.append(_finding(path, node, f"timer '{text}' is not a valid ISO 8601 value"))
        else:
            out += _check_one(path, node, text, "eval", names)
    return out


def _is_python(node: Any) -> bool:
    """Whether an expression is written in Python (the others, FEEL and JUEL, are engine/scripting.py's to read)."""
    return language_of(node) == PYTHON


def _expression_nodes(root: Any) -> Iterable[tuple[Any, str]]:
    for node in root.xpath(
        "//bpmn:scriptTask/bpmn:script | //spiffworkflow:preScript | //spiffworkflow:postScript", namespaces=NS
    ):
        yield node, "exec"
    for node in root.xpath(
        "//bpmn:conditionExpression | //bpmn:completionCondition | //bpmn:loopCardinality"
        " | //bpmn:correlationPropertyRetrievalExpression/* | //spiffworkflow:messagePayload"
        " | //spiffworkflow:processVariableCorrelation/spiffworkflow:expression",
        namespaces=NS,
    ):
        yield node, "eval"


def _check_one(path: str, node: Any, text: str, mode: str, names: set[str]) -> list[dict]:
    if not text:
        return [_finding(path, node, "empty expression")] if mode == "eval" else []
    try:
        check_source(text, mode, names)
    except SyntaxError as exc:
        return [_finding(path, node, f"syntax error in '{short(text)}': {exc.msg} (line {exc.lineno})")]
    except ScriptRejected as exc:
        return [_finding(path, node, f"refused in '{short(text)}': {exc}")]
    return []


def _check_dmn(path: str, root: Any, names: set[str]) -> list[dict]:
    out = []
    dmn_ns = {"dmn": root.nsmap.get(None) or root.nsmap.get("dmn")}
    for node in root.xpath("//dmn:inputExpression/dmn:text | //dmn:outputEntry/dmn:text", namespaces=dmn_ns):
        text = (node.text or "").strip()
        if text:
            out += _check_one(path, node, text, "eval", names)
    for node in root.xpath("//dmn:inputEntry/dmn:text", namespaces=dmn_ns):
        text = (node.text or "").strip().replace("?", "value")
        if not text or text == "-":
            continue
        if re.match(r"^(not\s+)?(in|is)\b", text):
            out.append(
                _finding(
                    path,
                    node,
                    f"write '? {text}': SpiffWorkflow joins the input and a bare '{text.split()[0]}' without a space",
                )
            )
            continue
        try:
            compile(text, "<cell>", "eval")
            combined = f"(value) == ({text})"
        except SyntaxError:
            combined = f"value{text}"  # exactly how SpiffWorkflow joins them
        out += _check_one(path, node, combined, "eval", names | {"value"})
    return out

"""Which form each task shows: the one its diagram names, else a default form built from the diagram.

A task names its form with Waypoint's `formJsonSchemaFilename` property, Camunda's `formKey`
(`camunda-forms:deployment:x.form`, `embedded:app:forms/x.json`, or a plain file name) or
`formRef` (a `.form` file's id), or Zeebe's `formDefinition` (`formId`, or an embedded
`zeebe:userTaskForm`). A user or manual task that names none gets a default form: the task page
shows what the request holds so far, a comment box and a Complete button; when the flows after the
task (directly, or through the exclusive gateway it leads to) test one variable against literals
(`approved == True`, `decision == "approve"`, FEEL `=approved`, JUEL `${decision == 'approve'}`),
the form offers those outcomes as buttons and sets the variable. `attach_forms` writes the form's
key into each task spec's properties, so every reader of `formJsonSchemaFilename` (task index,
pages, API, one-click decisions) sees it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any

from engine.errors import DefinitionError
from engine.formjs import FormNotConvertible, convert_text
from engine.sources import FORM_PROPERTY, NS, form_key_path, source_kind

DEFAULT_PREFIX = "default:"
EMBEDDED_PREFIX = "embedded:"
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_NEGATIONS = re.compile(rf"^(?:not\s+|!\s*)({_IDENT})$")
_COMPARISON = re.compile(rf"^({_IDENT})\s*(==|=|\beq\b|\bis\b|!=|\bne\b)\s*(.+)$")
_REVERSED = re.compile(rf"^(.+?)\s*(==|=|\beq\b)\s*({_IDENT})$")
COMMENT_FIELD = "comment"
COMMENT_NODE = {
    "type": "string",
    "title": "Comment",
    "x-fr": {"title": "Commentaire"},
    "x-widget": "textarea",
    "maxLength": 2000,
}
_BOOLEAN_LABELS = {True: ("Yes", "Oui"), False: ("No", "Non")}


def parse_test(text: str | None) -> tuple[str, Any] | None:
    """(variable, literal) when `text` tests one variable against a literal, in Python, FEEL or JUEL."""
    test = (text or "").strip()
    if (test.startswith("${") or test.startswith("#{")) and test.endswith("}"):
        test = test[2:-1].strip()
    elif test.startswith("="):
        test = test[1:].strip()
    while test.startswith("(") and test.endswith(")"):
        test = test[1:-1].strip()
    if re.fullmatch(_IDENT, test) and test not in ("True", "False", "true", "false"):
        return test, True
    if match := _NEGATIONS.match(test):
        return match.group(1), False
    if match := _COMPARISON.match(test):
        name, operator, raw = match.groups()
        literal = _literal(raw)
        if literal is _NOT_LITERAL or name in ("not",):
            return None
        if operator in ("!=", "ne"):
            return (name, not literal) if isinstance(literal, bool) else None
        return name, literal
    if match := _REVERSED.match(test):
        raw, _, name = match.groups()
        literal = _literal(raw)
        return None if literal is _NOT_LITERAL else (name, literal)
    return None


_NOT_LITERAL = object()


def _literal(raw: str) -> Any:
    raw = raw.strip()
    if raw in ("True", "true"):
        return True
    if raw in ("False", "false"):
        return False
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"" and raw[0] not in raw[1:-1]:
        return raw[1:-1]
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    return _NOT_LITERAL


def _flows_from(process: Any, node_id: str) -> list[Any]:
    return process.xpath(".//bpmn:sequenceFlow[@sourceRef=$id]", namespaces=NS, id=node_id)


def outcomes(process: Any, task: Any) -> tuple[str, list[tuple[Any, str, str]]] | None:
    """(variable, [(value, English label, French label)]) the flows after `task` choose by, or None."""
    flows = _flows_from(process, task.get("id"))
    default = task.get("default")
    if len(flows) == 1:
        target = process.xpath(".//*[@id=$id]", id=flows[0].get("targetRef"))
        if target and str(target[0].tag).endswith("}exclusiveGateway"):
            default = target[0].get("default")
            flows = _flows_from(process, target[0].get("id"))
    variable, options = None, []
    for flow in flows:
        if flow.get("id") == default:
            continue
        conditions = flow.xpath("bpmn:conditionExpression/text()", namespaces=NS)
        test = parse_test(conditions[0] if conditions else None)
        if test is None or (variable is not None and test[0] != variable):
            return None
        variable = test[0]
        label = (flow.get("name") or "").strip()
        options.append((test[1], label, label))
    if variable is None or len(options) < 1:
        return None
    values = [value for value, _, _ in options]
    if all(isinstance(v, bool) for v in values) and len(set(values)) == 1:
        default_flow = [f for f in flows if f.get("id") == default]
        label = (default_flow[0].get("name") or "").strip() if default_flow else ""
        options.append((not values[0], label, label))
    elif len(options) < 2:
        return None
    return variable, _labelled(options)


def _labelled(options: list[tuple[Any, str, str]]) -> list[tuple[Any, str, str]]:
    out, seen = [], set()
    for value, english, french in options:
        if (type(value), value) in seen:
            continue
        seen.add((type(value), value))
        if not english:
            if isinstance(value, bool):
                english, french = _BOOLEAN_LABELS[value]
            else:
                english = french = str(value).replace("_", " ").capitalize()
        out.append((value, english, french))
    return out


def default_form(process: Any, task: Any) -> dict[str, Any]:
    """The JSON Schema of a task's default form: a comment, and the outcome buttons when the diagram has them."""
    schema: dict[str, Any] = {"type": "object", "x-default": True, "properties": {}}
    found = outcomes(process, task)
    if found is not None:
        variable, options = found
        title = variable.replace("_", " ").capitalize()
        schema["properties"][variable] = {
            "title": title,
            "x-fr": {"title": title},
            "x-decision": True,
            "oneOf": [{"const": value, "title": en, "x-fr": {"title": fr}} for value, en, fr in options],
        }
        schema["required"] = [variable]
    if found is None or found[0] != COMMENT_FIELD:
        schema["properties"][COMMENT_FIELD] = dict(COMMENT_NODE)
    return schema


def named_form(node: Any, files: Mapping[str, str], form_ids: Mapping[str, str]) -> tuple[str | None, str | None, str]:
    """(form key, problem, the problem's severity) for the form `node` names; a key of None: it names
    none Waypoint can show, and a user task gets its default form."""
    spiff = node.xpath(
        f"bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='{FORM_PROPERTY}']/@value",
        namespaces=NS,
    )
    if spiff:
        path = spiff[0].strip()
        return (path, None, "") if path in files else (None, f"form '{path}' does not exist", "error")
    key = node.get(f"{{{NS['camunda']}}}formKey")
    if key:
        path = form_key_path(key)
        found = _file(path, files) if path else None
        if found:
            return found, None, ""
        if path:
            return None, f"formKey '{key}' names '{path}', which is not among the files deployed", "error"
        return None, f"formKey '{key}' is no form file Waypoint can show, so the task shows its default form", "warning"
    ref = node.get(f"{{{NS['camunda']}}}formRef") or _zeebe(node, "formId")
    if ref:
        if ref in form_ids:
            return form_ids[ref], None, ""
        return None, f"no .form file among the files deployed has the id '{ref}' (formRef)", "error"
    embedded = _zeebe(node, "formKey")
    if embedded:
        return EMBEDDED_PREFIX + embedded.rsplit(":", 1)[-1], None, ""
    return None, None, ""


def _zeebe(node: Any, attribute: str) -> str | None:
    values = node.xpath(f"bpmn:extensionElements/zeebe:formDefinition/@{attribute}", namespaces=NS)
    return values[0].strip() if values and values[0].strip() else None


def _file(path: str, files: Mapping[str, str]) -> str | None:
    if path in files:
        return path
    same_name = [p for p in files if PurePosixPath(p).name == PurePosixPath(path).name]
    return same_name[0] if len(same_name) == 1 else None


def embedded_forms(root: Any) -> dict[str, str]:
    """Zeebe forms embedded in a BPMN file (`zeebe:userTaskForm`): form key → its JSON text."""
    return {
        EMBEDDED_PREFIX + (node.get("id") or ""): node.text or ""
        for node in root.xpath("//zeebe:userTaskForm", namespaces=NS)
    }


def form_tasks(process: Any) -> list[Any]:
    """The user and manual tasks of a process element (embedded subprocesses included)."""
    return process.xpath(".//bpmn:userTask | .//bpmn:manualTask", namespaces=NS)


def attach_forms(
    process: Any, process_spec: Any, files: Mapping[str, str], form_ids: Mapping[str, str], forms: dict[str, Any]
) -> None:
    """Set `formJsonSchemaFilename` on each task spec of `process_spec` to the form it shows,
    adding default forms to `forms` under `default:<element id>`."""
    specs: dict[str, list[Any]] = {}
    for task_spec in process_spec.task_specs.values():  # a multi-instance task and its child share an id
        if hasattr(task_spec, "extensions"):
            specs.setdefault(getattr(task_spec, "bpmn_id", None) or "", []).append(task_spec)
    starts = process.xpath("bpmn:startEvent", namespaces=NS)
    for node in [*form_tasks(process), *starts]:
        if not specs.get(node.get("id")):
            continue
        key, _problem, _severity = named_form(node, files, form_ids)
        if key is None and node in starts:
            continue
        if key is None:
            key = DEFAULT_PREFIX + node.get("id")
            forms[key] = default_form(process, node)
        for spec in specs[node.get("id")]:
            spec.extensions.setdefault("properties", {})[FORM_PROPERTY] = key


def load_forms(files: Mapping[str, str], trees: Iterable[Any] = ()) -> dict[str, dict]:
    """Every form of a version as JSON Schema: `.json` files as they are, `.form` files and Zeebe's
    embedded forms converted (engine/formjs.py); DefinitionError naming the file otherwise."""
    forms: dict[str, dict] = {}
    for path, text in files.items():
        kind = source_kind(path, text)
        if kind == "json":
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
        elif kind == "form":
            forms[path] = _converted(path, text)
    for root in trees:
        for key, text in embedded_forms(root).items():
            forms[key] = _converted(key, text)
    return forms


def _converted(path: str, text: str) -> dict:
    try:
        return convert_text(text)
    except FormNotConvertible as exc:
        raise DefinitionError(
            "form_not_convertible",
            [{"file": path, "element": exc.field, "message": f"Camunda form: {exc}"}],
            path=path,
            detail=str(exc),
        ) from exc

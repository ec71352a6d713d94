"""Both official languages: in a set of process files kept in both (any French in it), every text
a person reads needs its French and its English (docs/modelling.md, "Both official languages").

`engine.checks.check_sources` applies this to every bilingual set, so `waypoint check`, the
designer's Check and every deployment refuse the same files. English-only sets are not flagged.
`french_diagram` gives a diagram's labels in French for French readers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from engine.definitions import FORM_PROPERTY, NS, node_property
from engine.models import ProcessDefinition
from engine.xmlsafe import parse_xml, serialize_xml

_TEXT_KEYS = ("title", "description")


def is_bilingual(files: Mapping[str, str]) -> bool:
    """Whether a set of files is kept in both languages (any `name_fr` or `x-fr` in it): then
    every text without its French (or English) is a finding. English-only sets are not flagged."""
    return any('"name_fr"' in text or '"x-fr"' in text for text in files.values())


def check_bilingual(files: Mapping[str, str]) -> list[dict]:
    """Text a person reads that lacks its French (or its English), in a set of process files.

    Every user task needs a `name` and a `name_fr` property; in every form a BPMN file names
    (`formJsonSchemaFilename`), each `title`/`description` needs its `x-fr` counterpart (and an
    `x-fr` text its English), each labelled choice (`oneOf` entry with a `title`) its French
    title, and `x-enumLabels` their `x-fr` `x-enumLabels` (docs/modelling.md, "Both official
    languages"). `check_sources` applies it to every bilingual set, so `waypoint check`, the
    designer's Check and every deployment refuse the same files.
    """
    out: list[dict] = []
    forms: set[str] = set()
    for path in sorted(p for p in files if p.endswith(".bpmn")):
        try:
            root = parse_xml(files[path], path)
        except Exception:  # noqa: BLE001 - the parse itself is reported by the other checks
            continue
        for task in root.xpath("//bpmn:userTask", namespaces=NS):
            if not (task.get("name") or "").strip():
                out.append(_finding(path, task, "user task has no name (English)"))
            if not node_property(task, "name_fr"):
                out.append(_finding(path, task, "user task has no 'name_fr' property (its French name)"))
        for node in root.xpath("//bpmn:userTask | //bpmn:startEvent", namespaces=NS):
            form = node_property(node, FORM_PROPERTY)
            if form and form in files:
                forms.add(form)
    for form in sorted(forms):
        try:
            schema = json.loads(files[form])
        except json.JSONDecodeError:
            continue  # reported by _check_form
        for where, problem in _missing_languages(schema, ""):
            out.append({"file": form, "line": None, "element": None, "name": None, "message": f"{where}: {problem}"})
    return out


def _missing_languages(node: Any, where: str) -> list[tuple[str, str]]:
    """(JSON path, problem) for every text of a form node without both languages."""
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in _missing_languages(item, f"{where}/{i}")]
    if not isinstance(node, dict):
        return []
    out = []
    french = node["x-fr"] if isinstance(node.get("x-fr"), dict) else {}
    for key in _TEXT_KEYS:
        if isinstance(node.get(key), str) and node[key].strip() and not str(french.get(key) or "").strip():
            out.append((where or "/", f"{key} '{short(node[key])}' has no French (x-fr.{key})"))
        if str(french.get(key) or "").strip() and not str(node.get(key) or "").strip():
            out.append((where or "/", f"x-fr.{key} '{short(french[key])}' has no English ({key})"))
    labels = node.get("x-enumLabels")
    if isinstance(labels, dict):
        french_labels = french["x-enumLabels"] if isinstance(french.get("x-enumLabels"), dict) else {}
        for value in labels:
            if not str(french_labels.get(value) or "").strip():
                out.append((where or "/", f"enum label '{value}' has no French (x-fr.x-enumLabels)"))
    for key, child in node.items():
        if key != "x-fr" and isinstance(child, dict | list):
            out += _missing_languages(child, f"{where}/{key}")
    return out


def short(text: str) -> str:
    """The first line of a text, cut to 60 characters (to quote it in a finding)."""
    first = text.splitlines()[0] if text else ""
    return first if len(first) <= 60 and "\n" not in text else first[:57] + "..."


def _finding(path: str, task: Any, message: str) -> dict:
    return {
        "file": path,
        "line": task.sourceline,
        "element": task.get("id"),
        "name": task.get("name"),
        "message": message,
    }


def french_diagram(xml: str, role_name: Callable[[str], str], filename: str = "diagram.bpmn") -> str:
    """A BPMN file with each labelled element's `name` replaced by its `name_fr` property where it
    has one (pools, steps, events, gateways, flows), and each lane's by `role_name(lane name)` (a
    lane is a role: its French lives in the roles table); the rest keeps its English."""
    root = parse_xml(xml, filename)
    for node in root.xpath("//*[@name]"):
        french = role_name(node.get("name")) if node.tag == f"{{{NS['bpmn']}}}lane" else node_property(node, "name_fr")
        if french:
            node.set("name", french)
    return serialize_xml(root)


def french_step_name(session: Session, definition_id: int, element_id: str) -> str | None:
    """The `name_fr` of one element of a deployed version, read from its files (for the rare
    message that names a step without the engine's spec cache at hand); None when it has none."""
    definition = session.get(ProcessDefinition, definition_id)
    for file in definition.files if definition is not None else []:
        if file.path.lower().endswith(".bpmn"):
            found = parse_xml(file.content, file.path).xpath("//*[@id=$id]", id=element_id)
            if found:
                return node_property(found[0], "name_fr")
    return None

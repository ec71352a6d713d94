"""What changed between two sets of process files: elements added, removed and changed, by id.

BPMN and DMN files are compared element by element. A *unit* is an element with an id that
sits directly in a container (definitions, process, sub-process, lane set, decision table,
...): flow nodes, sequence flows, lanes, messages, decisions, rules. Everything inside a unit
without being a unit itself (event definitions, conditions, scripts, `spiffworkflow`
properties, incoming/outgoing references) is one of its *aspects*; a unit changed when an
aspect did, and the change is told in words ("dueIn: 'P3D' → 'P4D'"). Diagram layout (DI) is
ignored. A business rule task whose decision table changed counts as changed too, so the
diagram shows where a DMN edit takes effect. Forms are compared field by field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.definitions import NS
from engine.errors import DefinitionError
from engine.xmlsafe import parse_xml

CONTAINERS = {
    "definitions",
    "process",
    "subProcess",
    "transaction",
    "adHocSubProcess",
    "laneSet",
    "collaboration",
    "decision",
    "decisionTable",
}
LIST_ASPECTS = {"incoming", "outgoing", "flowNodeRef"}
DI_NAMESPACES = ("DI", "DC", "DMNDI")
MAX_VALUE = 80


@dataclass
class Change:
    """One element added, removed or changed."""

    file: str
    element: str
    name: str | None
    type: str
    kind: str  # added | removed | changed
    details: list[str] = field(default_factory=list)

    def words(self) -> str:
        """The change as one sentence."""
        if self.type == "rule":
            label = f"{self.name or 'rule'} ({self.element})"
        else:
            label = f"{_type_words(self.type)} '{self.name}' ({self.element})" if self.name else self.element
        if self.kind != "changed":
            return f"{label} {self.kind}"
        return f"{label} changed: " + "; ".join(self.details) if self.details else f"{label} changed"


@dataclass
class Diff:
    """Every change between two file sets."""

    files_added: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.files_added or self.files_removed or self.changes)

    def markers(self, path: str) -> dict[str, list[str]]:
        """Element ids of one file by kind, for marking a diagram."""
        out: dict[str, list[str]] = {"added": [], "removed": [], "changed": []}
        for change in self.changes:
            if change.file == path:
                out[change.kind].append(change.element)
        return out

    def lines(self) -> list[str]:
        """The whole diff in words, one line per change."""
        out = [f"file {p} added" for p in self.files_added] + [f"file {p} removed" for p in self.files_removed]
        return out + [f"{c.file}: {c.words()}" for c in self.changes]

    def as_dict(self) -> dict[str, Any]:
        return {
            "files_added": self.files_added,
            "files_removed": self.files_removed,
            "changes": [asdict(c) | {"words": c.words()} for c in self.changes],
        }


def diff_files(old: Mapping[str, str], new: Mapping[str, str]) -> Diff:
    """Compare two {path: content} file sets (a deployed version, a draft)."""
    result = Diff(sorted(set(new) - set(old)), sorted(set(old) - set(new)))
    decisions_changed: set[str] = set()
    for path in sorted(set(old) & set(new)):
        if old[path] == new[path]:
            continue
        if path.endswith((".bpmn", ".dmn")):
            changes = _diff_xml(path, old[path], new[path])
            if path.endswith(".dmn"):
                ids = {c.element for c in changes}
                decisions_changed |= _decisions_of(new[path], ids) | _decisions_of(old[path], ids)
            result.changes += changes
        elif path.endswith(".json"):
            result.changes += _diff_form(path, old[path], new[path])
    result.changes += _rule_tasks_using(new, decisions_changed, result.changes)
    return result


# --- XML ----------------------------------------------------------------------------------
def _local(tag: Any) -> str:
    return tag.split("}", 1)[1] if isinstance(tag, str) and "}" in tag else str(tag)


def _is_di(node: Any) -> bool:
    if not isinstance(node.tag, str) or not node.tag.startswith("{"):
        return False
    namespace = node.tag[1:].split("}", 1)[0]
    return namespace.rstrip("/").rsplit("/", 1)[-1] in DI_NAMESPACES


def _units(root: Any) -> dict[str, Any]:
    units = {}
    for node in root.iter():
        if not isinstance(node.tag, str) or _is_di(node) or node.get("id") is None:
            continue
        parent = node.getparent()
        if parent is not None and _local(parent.tag) in CONTAINERS:
            units[node.get("id")] = node
    return units


def _aspects(unit: Any, units: Mapping[str, Any]) -> dict[str, str]:
    if _local(unit.tag) == "rule":
        return _rule_aspects(unit)
    aspects: dict[str, list[str]] = {"type": [_local(unit.tag)]}
    for attr, value in unit.attrib.items():
        if _local(attr) not in ("id", "type"):
            aspects.setdefault(_local(attr), []).append(value)
    stack = [(child, "") for child in unit]
    while stack:
        node, prefix = stack.pop(0)
        if not isinstance(node.tag, str) or _is_di(node):
            continue
        if node.get("id") in units and units[node.get("id")] is node:
            continue  # a nested unit is compared on its own
        name = _local(node.tag)
        if name == "property" and node.get("name"):
            aspects.setdefault(node.get("name"), []).append(node.get("value") or "")
            continue
        if name == "extensionElements":
            stack[0:0] = [(child, prefix) for child in node]
            continue
        key = f"{prefix}{name}"
        text = (node.text or "").strip()
        if text:
            aspects.setdefault(key, []).append(text)
        for attr, value in node.attrib.items():
            if _local(attr) not in ("id", "type"):
                aspects.setdefault(f"{key} {_local(attr)}", []).append(value)
        stack[0:0] = [(child, f"{key}/") for child in node]
    return {k: "\n".join(sorted(v) if k in LIST_ASPECTS else v) for k, v in aspects.items()}


def _rule_aspects(rule: Any) -> dict[str, str]:
    table = rule.getparent()
    inputs = [i.get("label") or i.get("id") for i in table if _local(i.tag) == "input"]
    outputs = [o.get("name") or o.get("label") or o.get("id") for o in table if _local(o.tag) == "output"]
    aspects = {"type": "rule"}
    entries_in = [e for e in rule if _local(e.tag) == "inputEntry"]
    entries_out = [e for e in rule if _local(e.tag) == "outputEntry"]
    for label, entry in zip(inputs, entries_in, strict=False):
        aspects[f"when {label}"] = "".join(entry.itertext()).strip()
    for label, entry in zip(outputs, entries_out, strict=False):
        aspects[f"then {label}"] = "".join(entry.itertext()).strip()
    for node in rule:
        if _local(node.tag) == "description":
            aspects["description"] = (node.text or "").strip()
    return aspects


def _short(value: str | None) -> str:
    if value is None:
        return "(none)"
    flat = " ".join(value.split())
    return repr(flat if len(flat) <= MAX_VALUE else flat[: MAX_VALUE - 1] + "…")


def _describe(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    details = []
    for key in sorted(set(old) | set(new), key=lambda k: (k != "type", k != "name", k)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key in LIST_ASPECTS:
            gone = sorted(set((before or "").split("\n")) - set((after or "").split("\n")) - {""})
            came = sorted(set((after or "").split("\n")) - set((before or "").split("\n")) - {""})
            parts = [f"+{x}" for x in came] + [f"-{x}" for x in gone]
            details.append(f"{key}: {', '.join(parts)}")
        else:
            details.append(f"{key}: {_short(before)} → {_short(after)}")
    return details


def _diff_xml(path: str, old_text: str, new_text: str) -> list[Change]:
    old_root, new_root = parse_xml(old_text, path), parse_xml(new_text, path)
    old_units, new_units = _units(old_root), _units(new_root)
    changes = []
    for element in new_units:
        node = new_units[element]
        if element not in old_units:
            changes.append(Change(path, element, node.get("name") or _rule_name(node), _local(node.tag), "added"))
            continue
        before, after = _aspects(old_units[element], old_units), _aspects(node, new_units)
        if before != after:
            name = node.get("name") or _rule_name(node)
            changes.append(Change(path, element, name, _local(node.tag), "changed", _describe(before, after)))
    for element, node in old_units.items():
        if element not in new_units:
            changes.append(Change(path, element, node.get("name") or _rule_name(node), _local(node.tag), "removed"))
    return changes


def _rule_name(node: Any) -> str | None:
    if _local(node.tag) != "rule":
        return None
    table = node.getparent()
    rules = [r for r in table if _local(r.tag) == "rule"]
    for child in node:
        if _local(child.tag) == "description" and (child.text or "").strip():
            return f"rule {rules.index(node) + 1}: {(child.text or '').strip()}"
    return f"rule {rules.index(node) + 1}"


def _decisions_of(text: str, element_ids: set[str]) -> set[str]:
    """Ids of the decisions that hold any of `element_ids` in a DMN document."""
    root = parse_xml(text, "decisions.dmn")
    found = set()
    for node in root.iter():
        if isinstance(node.tag, str) and node.get("id") in element_ids:
            ancestor = node
            while ancestor is not None and _local(ancestor.tag) != "decision":
                ancestor = ancestor.getparent()
            if ancestor is not None:
                found.add(ancestor.get("id"))
    return found


def _rule_tasks_using(files: Mapping[str, str], decisions: set[str], already: list[Change]) -> list[Change]:
    if not decisions:
        return []
    seen = {(c.file, c.element) for c in already}
    out = []
    for path, text in sorted(files.items()):
        if not path.endswith(".bpmn"):
            continue
        root = parse_xml(text, path)
        for task in root.xpath("//bpmn:businessRuleTask", namespaces=NS):
            refs = [r.strip() for r in task.xpath(".//spiffworkflow:calledDecisionId/text()", namespaces=NS)]
            used = sorted(set(refs) & decisions)
            if used and (path, task.get("id")) not in seen:
                detail = f"decision table {', '.join(used)} changed"
                out.append(Change(path, task.get("id"), task.get("name"), "businessRuleTask", "changed", [detail]))
    return out


# --- forms ----------------------------------------------------------------------------------
def _diff_form(path: str, old_text: str, new_text: str) -> list[Change]:
    try:
        old, new = json.loads(old_text), json.loads(new_text)
    except json.JSONDecodeError as exc:
        raise DefinitionError("invalid_json", path=path, detail=exc.msg) from exc
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [Change(path, path, None, "form", "changed", ["content changed"])]
    before, after = old.get("properties") or {}, new.get("properties") or {}
    changes = []
    for key in after:
        if key not in before:
            changes.append(Change(path, key, after[key].get("title"), "field", "added"))
        elif before[key] != after[key]:
            details = [
                f"{k}: {_short(_json(before[key].get(k)))} → {_short(_json(after[key].get(k)))}"
                for k in sorted(set(before[key]) | set(after[key]))
                if before[key].get(k) != after[key].get(k)
            ]
            changes.append(Change(path, key, after[key].get("title"), "field", "changed", details))
    changes += [Change(path, key, before[key].get("title"), "field", "removed") for key in before if key not in after]
    rest_old = {k: v for k, v in old.items() if k != "properties"}
    rest_new = {k: v for k, v in new.items() if k != "properties"}
    if rest_old != rest_new:
        details = [
            f"{k}: {_short(_json(rest_old.get(k)))} → {_short(_json(rest_new.get(k)))}"
            for k in sorted(set(rest_old) | set(rest_new))
            if rest_old.get(k) != rest_new.get(k)
        ]
        changes.append(Change(path, "(form)", new.get("title"), "form", "changed", details))
    return changes


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _type_words(tag: str) -> str:
    words: list[str] = []
    for ch in tag:
        if ch.isupper() and words:
            words.append(" ")
        words.append(ch.lower())
    return "".join(words)

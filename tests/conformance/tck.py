"""Run the DMN Technology Compatibility Kit's cases through Waypoint's decision engine.

The kit is read in place from `../shared/conformance/dmn-tck/compliance-level-2/` (next to the
repository; `WAYPOINT_DMN_TCK` overrides it). Each folder holds DMN models and test files; each
`testCase` gives input values and the expected result of one or more decisions. Numbers compare
to within a relative 1e-12 (the kit's expected values are printed with 15 significant digits while
FEEL computes 34).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from engine.dmn import Decisions, DmnReadError, read_model
from engine.errors import WaypointError
from engine.feel.temporal import parse_date, parse_date_time, parse_duration, parse_time

ROOT = Path(__file__).resolve().parents[2]
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def kit_folder() -> Path:
    configured = os.environ.get("WAYPOINT_DMN_TCK")
    return Path(configured) if configured else ROOT.parent / "shared" / "conformance" / "dmn-tck" / "compliance-level-2"


@dataclass
class CaseResult:
    """One folder of the kit: how many of its test cases passed, failed, were skipped, and why."""

    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    notes: list[str] = field(default_factory=list)


def _local(node: Any) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _kids(node: Any, name: str) -> list[Any]:
    return [c for c in node if _local(c) == name]


def _scalar(node: Any) -> Any:
    if node.get(XSI_NIL) == "true":
        return None
    text, kind = node.text or "", (node.get(XSI_TYPE) or "xsd:string").split(":")[-1]
    readers = {
        "decimal": Decimal,
        "integer": Decimal,
        "int": Decimal,
        "long": Decimal,
        "double": Decimal,
        "boolean": lambda t: t.strip() == "true",
        "date": parse_date,
        "dateTime": parse_date_time,
        "time": parse_time,
        "duration": parse_duration,
    }
    return readers.get(kind, str)(text.strip() if kind != "string" else text)


def read_value(node: Any) -> Any:
    """The value an inputNode, component, item or expected element holds."""
    value, components, listed = _kids(node, "value"), _kids(node, "component"), _kids(node, "list")
    if components:
        return {c.get("name"): read_value(c) for c in components}
    if listed:
        return [read_value(item) for item in _kids(listed[0], "item")]
    if value:
        return _scalar(value[0])
    return None


def same(actual: Any, expected: Any) -> bool:
    """Whether a FEEL result matches the kit's expected value."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, Decimal):
        if not isinstance(actual, Decimal) or isinstance(actual, bool):
            return False
        return abs(actual - expected) <= abs(expected) * Decimal("1e-12") + Decimal("1e-24")
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(same, actual, expected))
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(same(actual.get(k), v) for k, v in expected.items())
    if isinstance(expected, (date, time, datetime, bool)):
        return type(actual) is type(expected) and actual == expected
    return bool(actual == expected)


def run_folder(folder: Path) -> CaseResult:
    """Every test case of one kit folder."""
    result = CaseResult(folder.name)
    models = []
    for path in sorted(folder.glob("*.dmn")):
        try:
            model, findings = read_model(etree.parse(str(path)).getroot(), path.name)
        except DmnReadError as exc:
            findings, model = exc.findings, None
        if findings:
            result.notes.extend(f["message"] for f in findings)
        if model is not None:
            models.append(model)
    decisions = Decisions(models)
    for tests in sorted(folder.glob("*-test-*.xml")):
        for case in _kids(etree.parse(str(tests)).getroot(), "testCase"):
            _run_case(decisions, case, result, skip=bool(result.notes))
    return result


def _run_case(decisions: Decisions, case: Any, result: CaseResult, skip: bool) -> None:
    if skip:
        result.skipped += 1
        return
    data = {node.get("name"): read_value(node) for node in _kids(case, "inputNode")}
    ok = True
    for node in _kids(case, "resultNode"):
        expected = read_value(_kids(node, "expected")[0]) if _kids(node, "expected") else None
        try:
            actual = decisions.evaluate(node.get("name"), data)
        except WaypointError as exc:
            actual = exc if node.get("errorResult") != "true" else None
        if not same(actual, expected):
            ok = False
            result.notes.append(f"case {case.get('id')}, {node.get('name')}: expected {expected!r}, got {actual!r}")
    if ok:
        result.passed += 1
    else:
        result.failed += 1


def run_kit(folder: Path | None = None) -> list[CaseResult]:
    """All folders of the kit, in order."""
    root = folder or kit_folder()
    return [run_folder(p) for p in sorted(root.iterdir()) if p.is_dir()]


def table(results: list[CaseResult]) -> str:
    """The results as a text table with totals."""
    lines = [f"{'case':<48} {'passed':>6} {'failed':>6} {'skipped':>7}"]
    for r in results:
        lines.append(f"{r.name:<48} {r.passed:>6} {r.failed:>6} {r.skipped:>7}")
        lines.extend(f"    {note}" for note in r.notes[:5] if r.failed or r.skipped)
    totals = [sum(getattr(r, k) for r in results) for k in ("passed", "failed", "skipped")]
    lines.append(f"{'total (' + str(len(results)) + ' models)':<48} {totals[0]:>6} {totals[1]:>6} {totals[2]:>7}")
    return "\n".join(lines)

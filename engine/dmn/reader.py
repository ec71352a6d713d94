"""Read a DMN 1.1–1.5 file (an lxml root) into engine.dmn.model objects, with findings for what
cannot be read. Every decision of a file is read, with its requirements.

Expression language: the one an element (or its nearest ancestor) names in `expressionLanguage`,
FEEL by default as the standard says. Waypoint's own tables were Python before FEEL: a file that
names no language and was exported as "Waypoint process content", or whose cells are not all FEEL
while all are Python, is read as Python so that versions deployed before keep running.
"""

from __future__ import annotations

import ast
from typing import Any

from engine.dmn.boxed import BOXED, BoxedContext, BoxedList, Conditional, Invocation, Relation
from engine.dmn.model import (
    AGGREGATIONS,
    FEEL,
    HIT_POLICIES,
    NAMESPACES,
    PYTHON,
    Decision,
    DecisionTable,
    Expression,
    InputClause,
    InputData,
    Invocable,
    ItemDefinition,
    Model,
    OutputClause,
    Rule,
    Where,
)
from engine.feel import FeelSyntaxError, check_expression, check_tests

LEGACY_EXPORTER = "Waypoint process content"


class DmnReadError(Exception):
    """Findings that stop a file from being read."""

    def __init__(self, findings: list[dict]) -> None:
        super().__init__("; ".join(f["message"] for f in findings))
        self.findings = findings


def _local(node: Any) -> str:
    return str(node.tag).rsplit("}", 1)[-1] if isinstance(node.tag, str) else ""


def _children(node: Any, name: str) -> list[Any]:
    return [c for c in node if _local(c) == name]


def _child(node: Any, name: str) -> Any:
    found = _children(node, name)
    return found[0] if found else None


def _text(node: Any) -> str:
    text = _child(node, "text") if node is not None else None
    return (text.text or "").strip() if text is not None else ""


def _ref(href: str | None) -> str:
    return (href or "").split("#")[-1]


class _Wrap(list):
    """One expression element seen as a parent holding it, so `body` can read list items and cells."""

    def __init__(self, element: Any) -> None:
        super().__init__([element])


def language_of(value: str | None) -> str | None:
    """FEEL or Python for an `expressionLanguage` URI, None when it names neither."""
    lowered = (value or "").lower()
    if "python" in lowered:
        return PYTHON
    if "feel" in lowered:
        return FEEL
    return None


class _Reader:
    def __init__(self, root: Any, path: str, default: str) -> None:
        self.root, self.path, self.default = root, path, default
        self.findings: list[dict] = []

    def finding(self, node: Any, message: str, decision: str | None = None) -> None:
        self.findings.append(
            {"file": self.path, "line": getattr(node, "sourceline", None), "element": decision, "message": message}
        )

    def language(self, node: Any) -> str:
        while node is not None:
            declared = node.get("expressionLanguage") if isinstance(node.tag, str) else None
            if declared:
                found = language_of(declared)
                if found is None:
                    self.finding(node, f"expression language '{declared}' is not one Waypoint reads (FEEL, Python)")
                    return FEEL
                return found
            if _local(node) == "definitions":
                return self.default
            node = node.getparent()
        return self.default

    def expression(self, node: Any, where: Where) -> Expression | None:
        if node is None:
            return None
        place = {**where.__dict__, "line": node.sourceline, "element": node.get("id") or where.element}
        return Expression(_text(node), self.language(node), Where(**place))

    def model(self) -> Model:
        version = NAMESPACES.get(self.root.nsmap.get(None) or "", "") or NAMESPACES.get(
            str(self.root.tag).split("}")[0].lstrip("{"), "?"
        )
        model = Model(self.path, version, self.root.get("name") or "")
        for node in _children(self.root, "itemDefinition"):
            item = self.item_definition(node)
            model.types[item.name] = item
        for node in _children(self.root, "inputData"):
            variable = _child(node, "variable")
            type_ref = variable.get("typeRef") if variable is not None else None
            model.inputs[node.get("id") or node.get("name")] = InputData(node.get("id"), node.get("name"), type_ref)
        for node in _children(self.root, "businessKnowledgeModel"):
            logic = _child(node, "encapsulatedLogic")
            name = node.get("name") or node.get("id")
            params = [p.get("name") for p in _children(logic, "formalParameter")] if logic is not None else []
            body = self.body(logic, Where(self.path, name)) if logic is not None else None
            model.knowledge[node.get("id") or name] = Invocable(node.get("id"), name, params, body)
        for node in _children(self.root, "decision"):
            decision = self.decision(node)
            model.decisions[decision.id] = decision
        return model

    def item_definition(self, node: Any) -> ItemDefinition:
        type_ref = _child(node, "typeRef")
        item = ItemDefinition(
            node.get("name") or "",
            (type_ref.text or "").strip() if type_ref is not None else None,
            self.expression(_child(node, "allowedValues"), Where(self.path, node.get("name") or "")),
            is_collection=node.get("isCollection") == "true",
        )
        for component in _children(node, "itemComponent"):
            sub = self.item_definition(component)
            item.components[sub.name] = sub
        return item

    def decision(self, node: Any) -> Decision:
        variable = _child(node, "variable")
        name = node.get("name") or node.get("id") or ""
        decision = Decision(
            node.get("id") or name,
            name,
            self.path,
            node.sourceline,
            variable.get("typeRef") if variable is not None else None,
            self.body(node, Where(self.path, name, element=node.get("id"))),
        )
        for requirement in _children(node, "informationRequirement"):
            for kind, target in (
                ("requiredDecision", decision.required_decisions),
                ("requiredInput", decision.required_inputs),
            ):
                ref = _child(requirement, kind)
                if ref is not None:
                    target.append(_ref(ref.get("href")))
        for requirement in _children(node, "knowledgeRequirement"):
            ref = _child(requirement, "requiredKnowledge")
            if ref is not None:
                decision.required_knowledge.append(_ref(ref.get("href")))
        if decision.body is None:
            self.finding(node, f"decision '{name}' has neither a decision table nor a literal expression", name)
        return decision

    def body(self, node: Any, where: Where) -> Any:
        """The expression a decision, BKM or boxed part holds (table, literal or boxed), or None."""
        table = _child(node, "decisionTable")
        if table is not None:
            return self.table(table, where)
        literal = _child(node, "literalExpression")
        if literal is not None:
            return self.expression(literal, where)
        for kind in BOXED:
            found = _child(node, kind)
            if found is not None:
                return getattr(self, f"_{kind}")(found, where)
        for other in ("functionDefinition", "filter", "iterator", "some", "every", "for"):
            if _child(node, other) is not None:
                self.finding(node, f"'{where.decision}': a {other} expression is not supported yet", where.decision)
        return None

    def _context(self, node: Any, where: Where) -> BoxedContext:
        entries = []
        for entry in _children(node, "contextEntry"):
            variable = _child(entry, "variable")
            entries.append((variable.get("name") if variable is not None else None, self.body(entry, where)))
        return BoxedContext(entries)

    def _invocation(self, node: Any, where: Where) -> Invocation:
        callee = _text(_child(node, "literalExpression"))
        bindings = []
        for binding in _children(node, "binding"):
            parameter = _child(binding, "parameter")
            bindings.append((parameter.get("name") if parameter is not None else "", self.body(binding, where)))
        return Invocation(callee, bindings)

    def _list(self, node: Any, where: Where) -> BoxedList:
        return BoxedList([self.body(_Wrap(item), where) for item in node if _local(item)])

    def _relation(self, node: Any, where: Where) -> Relation:
        columns = [c.get("name") or "" for c in _children(node, "column")]
        rows = [[self.body(_Wrap(cell), where) for cell in row if _local(cell)] for row in _children(node, "row")]
        return Relation(columns, rows)

    def _conditional(self, node: Any, where: Where) -> Conditional:
        parts = [
            self.body(_child(node, part), where) if _child(node, part) is not None else None
            for part in ("if", "then", "else")
        ]
        return Conditional(*parts)

    def table(self, node: Any, where: Where) -> DecisionTable:
        policy_text = (node.get("hitPolicy") or "UNIQUE").upper()
        policy = HIT_POLICIES.get(policy_text)
        if policy is None:
            self.finding(node, f"unknown hit policy '{policy_text}'", where.decision)
            policy = "U"
        aggregation = AGGREGATIONS.get((node.get("aggregation") or "").upper())
        inputs = []
        for index, clause in enumerate(_children(node, "input"), start=1):
            label = clause.get("label") or _text(_child(clause, "inputExpression")) or f"input {index}"
            column = Where(where.file, where.decision, column=label, element=clause.get("id") or where.element)
            expression = self.expression(_child(clause, "inputExpression"), column) or Expression("", FEEL, column)
            inputs.append(InputClause(label, expression, self.expression(_child(clause, "inputValues"), column)))
        outputs = []
        for index, clause in enumerate(_children(node, "output"), start=1):
            name = clause.get("name") or clause.get("label") or node.get("outputLabel") or where.decision
            column = Where(
                where.file, where.decision, column=name or f"output {index}", element=clause.get("id") or where.element
            )
            outputs.append(
                OutputClause(
                    name,
                    clause.get("label") or name,
                    self.expression(_child(clause, "outputValues"), column),
                    self.expression(_child(clause, "defaultOutputEntry"), column),
                    clause.get("typeRef"),
                )
            )
        rules = [
            self.rule(rule, number, where, inputs, outputs) for number, rule in enumerate(_children(node, "rule"), 1)
        ]
        return DecisionTable(policy, aggregation, inputs, outputs, rules)

    def rule(self, node: Any, number: int, where: Where, inputs: list, outputs: list) -> Rule:
        cells = []
        for kind, clauses in (("inputEntry", inputs), ("outputEntry", outputs)):
            entries = _children(node, kind)
            if len(entries) != len(clauses):
                self.finding(
                    node, f"rule {number} has {len(entries)} {kind} cells for {len(clauses)} columns", where.decision
                )
            cells.append(
                [
                    Expression(
                        _text(entry),
                        self.language(entry),
                        Where(
                            where.file,
                            where.decision,
                            number,
                            clause.label,
                            entry.sourceline,
                            entry.get("id") or where.element,
                        ),
                    )
                    for entry, clause in zip(entries, clauses, strict=False)
                ]
            )
        return Rule(number, cells[0], cells[1])


def _is_python(text: str, tests: bool) -> bool:
    source = text.replace("?", "value")
    try:
        ast.parse(source, mode="eval")
        return True
    except SyntaxError:
        if not tests:
            return False
    try:
        ast.parse(f"value {source}", mode="eval")
        return True
    except SyntaxError:
        return False


def _legacy_python(root: Any) -> bool:
    """A file naming no language whose cells are not all FEEL but all Python (see module doc)."""
    if root.get("exporter") == LEGACY_EXPORTER:
        return True
    not_feel = False
    for node in root.iter():
        if _local(node) != "text" or not (node.text or "").strip():
            continue
        text, tests = (
            node.text.strip(),
            _local(node.getparent()) in ("inputEntry", "inputValues", "outputValues", "allowedValues"),
        )
        try:
            (check_tests if tests else check_expression)(text)
        except FeelSyntaxError:
            not_feel = True
        if not _is_python(text, tests):
            return False
    return not_feel


def read_model(root: Any, path: str) -> tuple[Model, list[dict]]:
    """The model of a DMN file and the findings met while reading it."""
    namespace = str(root.tag).split("}")[0].lstrip("{")
    if _local(root) != "definitions" or namespace not in NAMESPACES:
        message = f"root is {root.tag}: not a DMN 1.1–1.5 definitions element"
        raise DmnReadError([{"file": path, "line": root.sourceline, "element": None, "message": message}])
    declared = root.get("expressionLanguage")
    default = (language_of(declared) or FEEL) if declared else (PYTHON if _legacy_python(root) else FEEL)
    reader = _Reader(root, path, default)
    model = reader.model()
    return model, reader.findings

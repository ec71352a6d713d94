"""The parts of a DMN model Waypoint evaluates: decisions (tables and literal expressions), input
data, business knowledge models and item definitions, with where each came from for errors."""

from __future__ import annotations

from dataclasses import dataclass, field

#: every DMN MODEL namespace, 1.1 to 1.5
NAMESPACES = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd": "1.1",
    "http://www.omg.org/spec/DMN/20180521/MODEL/": "1.2",
    "https://www.omg.org/spec/DMN/20191111/MODEL/": "1.3",
    "https://www.omg.org/spec/DMN/20211108/MODEL/": "1.4",
    "https://www.omg.org/spec/DMN/20230324/MODEL/": "1.5",
}
FEEL, PYTHON = "FEEL", "Python"
#: decision table hit policies, with their one-letter forms
HIT_POLICIES = {
    "UNIQUE": "U",
    "ANY": "A",
    "PRIORITY": "P",
    "FIRST": "F",
    "RULE ORDER": "R",
    "OUTPUT ORDER": "O",
    "COLLECT": "C",
}
AGGREGATIONS = {"SUM": "+", "COUNT": "#", "MIN": "<", "MAX": ">"}


@dataclass(frozen=True)
class Where:
    """Where a cell sits, for messages: file, decision, and (in a table) rule and column."""

    file: str
    decision: str
    rule: int | None = None
    column: str | None = None
    line: int | None = None
    #: the id of the XML element (a cell, a clause, the decision), for editors that mark it
    element: str | None = None

    def text(self) -> str:
        parts = []
        if self.rule is not None:
            parts.append(f"rule {self.rule}")
        if self.column:
            parts.append(f"column '{self.column}'")
        return (", " + ", ".join(parts)) if parts else ""


@dataclass(frozen=True)
class Expression:
    """A text in FEEL or Python, and where it sits."""

    text: str
    language: str
    where: Where


@dataclass
class InputClause:
    label: str
    expression: Expression
    allowed: Expression | None = None


@dataclass
class OutputClause:
    name: str
    label: str
    allowed: Expression | None = None
    default: Expression | None = None
    type_ref: str | None = None


@dataclass
class Rule:
    number: int
    inputs: list[Expression]
    outputs: list[Expression]


@dataclass
class DecisionTable:
    hit_policy: str  # one letter: U A P F R O C
    aggregation: str | None  # + # < > for COLLECT
    inputs: list[InputClause]
    outputs: list[OutputClause]
    rules: list[Rule]


@dataclass
class ItemDefinition:
    name: str
    type_ref: str | None = None
    allowed: Expression | None = None
    components: dict[str, ItemDefinition] = field(default_factory=dict)
    is_collection: bool = False


@dataclass
class Invocable:
    """A business knowledge model: parameters and a body (literal expression or table)."""

    id: str
    name: str
    params: list[str]
    body: Expression | DecisionTable | None


@dataclass
class Decision:
    id: str
    name: str
    file: str
    line: int | None
    type_ref: str | None
    body: Expression | DecisionTable | None
    required_decisions: list[str] = field(default_factory=list)
    required_inputs: list[str] = field(default_factory=list)
    required_knowledge: list[str] = field(default_factory=list)


@dataclass
class InputData:
    id: str
    name: str
    type_ref: str | None


@dataclass
class Model:
    """One DMN file."""

    file: str
    version: str
    name: str
    decisions: dict[str, Decision] = field(default_factory=dict)
    inputs: dict[str, InputData] = field(default_factory=dict)
    knowledge: dict[str, Invocable] = field(default_factory=dict)
    types: dict[str, ItemDefinition] = field(default_factory=dict)

    def decision(self, key: str) -> Decision | None:
        """A decision by id, else by name."""
        if key in self.decisions:
            return self.decisions[key]
        return next((d for d in self.decisions.values() if d.name == key), None)

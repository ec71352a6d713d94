"""Business rule tasks run Waypoint's decision engine instead of SpiffWorkflow's.

SpiffWorkflow's DMN support reads one decision per file (DMN 1.1–1.3 only) and evaluates every
cell as Python. `DecisionParserMixin` replaces the two hooks a BPMN parser has for DMN:
`add_dmn_xml` reads a file with engine/dmn's reader (every decision, DMN 1.1–1.5), and
`get_engine` hands a business rule task a `DecisionRunner`, whose `result(task)` is what
SpiffWorkflow's BusinessRuleTask merges into the task data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS
from SpiffWorkflow.spiff.parser import SpiffBpmnParser

from engine.dmn.decide import Decisions
from engine.dmn.model import NAMESPACES, Decision, DecisionTable, Model
from engine.dmn.reader import DmnReadError, read_model
from engine.feel.builtins_time import OFFICE_TODAY

#: the root tags of DMN files, every version
DMN_ROOTS = frozenset(f"{{{ns}}}definitions" for ns in NAMESPACES)
MAX_CHAIN = 64


@dataclass(frozen=True)
class DecisionFile:
    """What callers read from `parser.dmn_parsers[decision_id]`: the decision's file and name."""

    filename: str
    bpmn_id: str
    name: str

    def get_name(self) -> str:
        return self.name


class DecisionRunner:
    """The DMN engine of one business rule task: decision `key` among the parser's models."""

    def __init__(self, decisions: Decisions, key: str) -> None:
        self.decisions, self.key = decisions, key

    @property
    def decision_table(self) -> SimpleNamespace:
        """What SpiffWorkflow's task-spec serializer reads (`spec.dmnEngine.decision_table`), so that
        spec diffs (the designer's "apply changed decision tables again") see a changed decision:
        the content of the decision and of every decision it requires, in `inputs`."""
        chain: list[Decision] = []
        todo = [self.key]
        while todo and len(chain) < MAX_CHAIN:
            found = self.decisions.find(todo.pop())
            if found is None or any(d is found[1] for d in chain):
                continue
            chain.append(found[1])
            todo.extend(found[1].required_decisions)
        first = chain[0] if chain else None
        return SimpleNamespace(
            id=first.id if first else self.key,
            name=first.name if first else self.key,
            hit_policy=first.body.hit_policy if first and isinstance(first.body, DecisionTable) else "",
            inputs=[SimpleNamespace(decision=d.id, content=repr((d.body, d.required_inputs))) for d in chain],
            outputs=[],
            rules=[],
        )

    def result(self, task: Any) -> dict[str, Any]:
        """The outputs the task merges into its data; Python cells run in the task's script engine."""
        script_engine = task.workflow.script_engine

        def python(text: str, extra: Mapping[str, Any]) -> Any:
            return script_engine.evaluate(task, text, external_context=dict(extra))

        helpers = getattr(getattr(script_engine, "environment", None), "globals", None) or {}
        office_today = helpers.get("today")  # the engine's helper: its clock, its WAYPOINT_TIMEZONE
        token = OFFICE_TODAY.set((lambda: date.fromisoformat(office_today())) if callable(office_today) else None)
        try:
            return self.decisions.outputs(self.key, task.data, python)
        finally:
            OFFICE_TODAY.reset(token)


class DecisionParserMixin:
    """DMN hooks for a SpiffWorkflow BPMN parser (see module docstring)."""

    dmn_parsers: dict[str, Any]
    dmn_parsers_by_name: dict[str, Any]
    validator: Any

    def add_dmn_xml(self, node: Any, filename: str | None = None) -> None:
        path = filename or "(dmn)"
        schema = SCHEMAS.get(str(node.tag).split("}")[0].lstrip("{"))
        if self.validator and schema is not None:  # SpiffWorkflow ships the XSDs of DMN 1.1–1.3
            BpmnValidator(schema).validate(node, filename)
        try:
            model, findings = read_model(node, path)
        except DmnReadError as exc:
            findings = exc.findings
        if findings:
            error = ValidationException(findings[0]["message"], file_name=path, node=None)
            error.line_number = findings[0].get("line") or 0
            raise error
        self._models().append(model)
        for decision in model.decisions.values():
            entry = DecisionFile(path, decision.id, decision.name)
            self.dmn_parsers.setdefault(decision.id, entry)
            self.dmn_parsers_by_name.setdefault(decision.name, entry)

    def _models(self) -> list[Model]:
        if not hasattr(self, "_decision_models"):
            self._decision_models: list[Model] = []
        return self._decision_models

    def get_engine(self, decision_ref: str, node: Any) -> DecisionRunner:
        decisions = Decisions(self._models())
        if decisions.find(decision_ref) is None:
            known = ", ".join(sorted(self.dmn_parsers)) or "none"
            raise ValidationException(
                f'No DMN decision with id "{decision_ref}"; the DMN files have: {known}', node=node, file_name=""
            )
        return DecisionRunner(decisions, decision_ref)


class WaypointParser(DecisionParserMixin, SpiffBpmnParser):
    """SpiffWorkflow's parser (spiffworkflow: extensions) with Waypoint's decisions."""

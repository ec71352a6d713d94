"""What the pages show that needs a workflow or a parsed spec: the data a ready task sees, the
processes a person may start, the steps the inbox filter offers, and the diagram with its done
and current steps.

Queues never call these (engine/queries reads only indexed rows); each loads one workflow or spec.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import permissions
from engine.core import EngineCore
from engine.models import ProcessDefinition, ProcessInstance, TaskRecord, User
from engine.queries import latest_definitions
from engine.queries.tasks import list_processes


class RequestViews(EngineCore):
    """Page reads that deserialize one workflow or read one parsed spec."""

    def task_data(self, session: Session, row: TaskRecord) -> dict[str, Any]:
        """The data a READY task sees (deserializes one workflow: for the task page, never queues)."""
        if row.status != "ready":  # the snapshot: decrypted like the workflow's data (pages mask it)
            return dict(self.vault.clear(row.instance.data or {}))
        parsed = self.definition_for(session, row.instance)
        wf = self.load_workflow(row.instance, parsed)
        task = wf.get_task_from_id(UUID(row.id))
        return dict(task.data) if task is not None else dict(row.instance.data)

    def start_catalogue(self, session: Session, user: User) -> list[dict[str, Any]]:
        """Deployed processes this user may start (`permissions.check_start`), with their start forms."""
        entries = []
        for process in list_processes(session):
            definition = session.scalars(
                select(ProcessDefinition).where(
                    ProcessDefinition.key == process["key"], ProcessDefinition.version == process["version"]
                )
            ).one()
            parsed = self.specs.get(session, definition)
            if permissions.refusal(permissions.check_start, user, parsed) is not None:
                continue
            entries.append({**process, "form": parsed.form(parsed.start_form) or {}})
        return entries

    def diagram_state(self, session: Session, instance: ProcessInstance) -> dict[str, Any]:
        """The instance's main BPMN file and which of its elements are done or current (page only)."""
        parsed = self.definition_for(session, instance)
        wf = self.load_workflow(instance, parsed)
        done, current = set(), set()
        for task in wf.get_tasks():
            if task.workflow is not wf:
                continue
            bpmn_id = getattr(task.task_spec, "bpmn_id", None)
            if not bpmn_id:
                continue
            if task.state == TaskState.COMPLETED:
                done.add(bpmn_id)
            elif task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED):
                current.add(bpmn_id)
        return {"xml": parsed.files[parsed.main_file], "done": sorted(done - current), "current": sorted(current)}

    def step_choices(
        self, session: Session, definitions: list[ProcessDefinition] | None = None
    ) -> list[tuple[str, str]]:
        """(process key, step name) of every user task in the deployed processes (`definitions`, the
        newest versions, when the caller read them already), for the filter (read from the cached
        specs, not from the task table)."""
        choices = set()
        for definition in latest_definitions(session) if definitions is None else definitions:
            parsed = self.specs.get(session, definition)
            for spec in [parsed.spec, *parsed.subprocess_specs.values()]:
                for task_spec in spec.task_specs.values():
                    if getattr(task_spec, "manual", False) and getattr(task_spec, "bpmn_name", None):
                        choices.add((definition.key, task_spec.bpmn_name))
        return sorted(choices)

"""Move running instances of a process onto another deployed version of it.

`dry_run` plans every candidate (engine/designer/move_plan.py: what would happen, nothing
written). `migrate_instance` applies one plan inside the caller's transaction through the
engine's one write path (engine/persist.py: version check first, state, summary and report
facets, an audit event, task index, timers and emails), then brings the task rows it kept
level with the new version; `migrate_instances` moves many, each in its own transaction, and
logs the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import persist
from engine.db import Database
from engine.definitions import FORM_PROPERTY, role_for_lane
from engine.designer.drafts import log_event
from engine.designer.move_plan import InstancePlan, plan_instance
from engine.errors import NotFound, WaypointError
from engine.mail import notifications
from engine.models import ProcessDefinition, ProcessInstance, TaskRecord, Timer
from engine.runtime import Engine
from engine.taskindex import DEFAULT_DUE, TASK_ESCALATION, TASK_REMINDER, due_after, task_properties

ACTION = "migrated"


def candidates(session: Session, target: ProcessDefinition) -> list[ProcessInstance]:
    """Running instances of the target's key on any other version, oldest first."""
    return list(
        session.scalars(
            select(ProcessInstance)
            .where(
                ProcessInstance.process_key == target.key,
                ProcessInstance.status == "running",
                ProcessInstance.definition_id != target.id,
            )
            .order_by(ProcessInstance.id)
        )
    )


def dry_run(
    engine: Engine, session: Session, target: ProcessDefinition, reapply_rules: bool = False
) -> list[InstancePlan]:
    """A plan for every candidate instance; nothing is written."""
    return [plan_instance(engine, session, i, target, reapply_rules)[0] for i in candidates(session, target)]


def migrate_instance(
    engine: Engine,
    session: Session,
    instance_id: int,
    target: ProcessDefinition,
    actor: str,
    reapply_rules: bool = False,
) -> InstancePlan:
    """Move one instance (caller's transaction) through the engine's write path (engine/persist.py)."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound("no_such_request", id=instance_id)
    plan, wf = plan_instance(engine, session, instance, target, reapply_rules)
    if not plan.can_move:
        return plan
    instance.definition = target
    event = dict(
        action=ACTION,
        details={
            "from_version": plan.from_version,
            "to_version": plan.to_version,
            "rules_applied_again": reapply_rules,
            "effects": plan.effects[:50],
        },
    )
    created = persist.save_workflow(
        session, engine, instance, engine.specs.get(session, target), wf, engine.clock.now(), actor, [event]
    )
    _refresh_kept_rows(session, instance.id, wf, {row.id for row in created})
    plan.moved = True
    return plan


def _refresh_kept_rows(session: Session, instance_id: int, wf: Any, created: set[str]) -> None:
    """The open task rows the move kept, brought level with their elements in the new version."""
    for row in session.scalars(
        select(TaskRecord).where(TaskRecord.instance_id == instance_id, TaskRecord.status == "ready")
    ):
        if row.id not in created:
            _refresh_row(session, row, wf)
    session.flush()


def _refresh_row(session: Session, row: TaskRecord, wf: Any) -> None:
    """An open task row brought level with its element in the new version (name, form, lane, due)."""
    task = wf.get_task_from_id(UUID(row.id))
    props = task_properties(task)
    lane = getattr(task.task_spec, "lane", None)
    row.name = task.task_spec.bpmn_name or task.task_spec.bpmn_id
    row.form = props.get(FORM_PROPERTY)
    if role_for_lane(lane) != row.role:  # someone of the old role may hold it: back to the queue
        row.lane, row.role, row.claimed_by_id = lane, role_for_lane(lane), None
    due = due_after(row.created_at, props.get("dueIn", DEFAULT_DUE)) or row.due_at
    kinds = (TASK_REMINDER, TASK_ESCALATION)
    timers = session.scalars(select(Timer).where(Timer.task_id == row.id, Timer.kind.in_(kinds))).all()
    escalation = next((t.due_at for t in timers if t.kind == TASK_ESCALATION), None)
    if due != row.due_at or escalation != due_after(row.created_at, props.get("escalateAfter")):
        row.due_at = due
        session.execute(delete(Timer).where(Timer.task_id == row.id, Timer.kind.in_(kinds)))
        session.flush()
        notifications.schedule_task_timers(session, row, props)


@dataclass
class MigrationReport:
    """The outcome of a bulk migration: who moved, who stayed and why."""

    key: str
    to_version: int
    moved: list[InstancePlan] = field(default_factory=list)
    left: list[InstancePlan] = field(default_factory=list)


def migrate_instances(
    engine: Engine,
    db: Database,
    target_id: int,
    actor: str,
    instance_ids: list[int] | None = None,
    reapply_rules: bool = False,
) -> MigrationReport:
    """Move the chosen candidates (default: all), each in its own transaction; log the batch."""
    with db.reading() as s:
        target = s.get(ProcessDefinition, target_id)
        if target is None:
            raise NotFound("no_such_definition", id=target_id)
        key, version = target.key, target.version
        ids = [i.id for i in candidates(s, target)]
    if instance_ids is not None:
        wanted = set(instance_ids)
        ids = [i for i in ids if i in wanted]
    report = MigrationReport(key, version)
    for instance_id in ids:
        try:
            with db.transaction() as s:
                target = s.get_one(ProcessDefinition, target_id)
                plan = migrate_instance(engine, s, instance_id, target, actor, reapply_rules)
        except WaypointError as exc:
            plan = InstancePlan(instance_id, "", 0, version, can_move=False, reasons=[str(exc)])
        (report.moved if plan.moved else report.left).append(plan)
    with db.transaction() as s:
        log_event(
            s,
            key,
            "migrate",
            actor,
            engine.clock.now(),
            version=version,
            definition_id=target_id,
            details={
                "rules_applied_again": reapply_rules,
                "moved": [p.instance_id for p in report.moved],
                "left": [{"instance": p.instance_id, "reasons": p.reasons} for p in report.left],
            },
        )
    return report

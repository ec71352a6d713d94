"""The engine facade: every action on an instance, each inside the caller's transaction.

An action loads the instance row, rebuilds the workflow around its cached spec, acts
(start, complete, claim, release, message, timer, cancel), runs engine steps until the
workflow waits, serializes it, and writes the row back under its optimistic version check
(`UPDATE ... WHERE version = :v`) before touching the task index, timers, subscriptions
and audit trail. A lost race raises `ConcurrentUpdate`; the caller's rollback then leaves
no trace. The engine never commits.

`Engine` is this module's actions (deploy, start, complete, cancel, deliver a message) on the
shared core (engine/core.py) with one part per concern: task assignment (engine/assignment.py),
personal data (engine/personal_access.py), page reads of one workflow
(engine/request_views.py) and BPMN timers (engine/timer_actions.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine import permissions
from engine.assignment import TaskAssignment
from engine.audit import SYSTEM_ACTOR
from engine.clock import frozen_time
from engine.correlation import subscriptions_for
from engine.date_rules import PAST, date_rule_errors
from engine.definitions import SourceSet, read_sources
from engine.errors import (
    AmbiguousMessage,
    ConcurrentUpdate,
    DefinitionError,
    FieldError,
    NotFound,
    ValidationFailed,
    WaypointError,
)
from engine.events import EventActions
from engine.forms import decision_details, validate_submission
from engine.locking import optimistic_action, reserve_instance_id
from engine.models import ProcessInstance, TaskRecord, User
from engine.outside_events import OutsideEvents
from engine.people.roles import ensure_roles_for
from engine.personal_access import PersonalAccess
from engine.request_status import RequestStatuses
from engine.request_views import RequestViews
from engine.roles_check import role_facts
from engine.serialization import SERIALIZER_VERSION
from engine.steps import find_task, run_until_waiting, script_errors
from engine.timer_actions import TimerActions
from engine.verdict import Verdict, verify
from engine.versions import DeployResult, add_deployed, latest_definition, store_versions

#: Data keys the engine sets at start; forms cannot submit them.
RESERVED_FIELDS = frozenset({"requester", "requester_name", "instance_id", "process_key"})


class Engine(EventActions, OutsideEvents, TaskAssignment, PersonalAccess, RequestViews, RequestStatuses, TimerActions):
    """Runs Waypoint's processes. One per application; methods take the caller's session."""

    def check(self, sources: SourceSet, session: Session | None = None) -> list[dict]:
        """Every finding on a set of files (warnings included): exactly what `deploy` decides by
        (engine/verdict.py). With a session, roles and deployed definitions are known."""
        return self.verdict(sources, session).findings

    def verdict(self, sources: SourceSet, session: Session | None = None) -> Verdict:
        """The one verdict `check` shows and `deploy` obeys."""
        if session is not None:
            add_deployed(session, sources)
        return verify(sources, role_facts(session), self.helpers, self.glue.messages)

    def deploy(
        self,
        session: Session,
        paths: Iterable[str | Path] = (),
        *,
        sources: SourceSet | None = None,
        deployed_by: str | None = None,
    ) -> list[DeployResult]:
        """Deploy every executable process of the requested files, creating the roles their lanes
        and groups name; nothing is stored while the verdict has an error."""
        sources = sources or read_sources(paths)
        if not sources.requested:
            raise DefinitionError("no_bpmn_to_deploy")
        verdict = self.verdict(sources, session)
        if not verdict.ok or verdict.parsed is None:
            raise DefinitionError("files_rejected", verdict.errors)
        ensure_roles_for(session, verdict.roles, deployed_by or SYSTEM_ACTOR)
        return store_versions(session, verdict.parsed, verdict.keys, deployed_by, self.clock.now())

    @optimistic_action
    def start(
        self,
        session: Session,
        key: str,
        data: Mapping[str, Any] | None = None,
        user: User | str | None = None,
        *,
        on_behalf_of: User | str | None = None,
        past_dates_reason: str | None = None,
    ) -> ProcessInstance:
        """Start the latest version of `key` with `data`; run until it waits.

        `user` starts it; with `on_behalf_of` (a service account starting for a person) that person
        is the requester, and the `started` event names both: `user` as its actor, the requester in
        its details. `past_dates_reason`: the office (a coordinator or an admin) files a request
        whose dates have passed (`x-not-past`), with its reason in the `started` event."""
        definition = latest_definition(session, key)
        parsed = self.specs.get(session, definition)
        by = self._user(session, user) if user is not None else None
        actor = self._user(session, on_behalf_of) if on_behalf_of is not None else by
        if past_dates_reason is not None:
            permissions.check_override_dates(by, past_dates_reason)
        form = parsed.start_form
        if form is not None:
            clean = self._validated(parsed.form(form), data, allow_past=past_dates_reason is not None)
        else:
            clean = validate_submission({"properties": dict.fromkeys(data or {}, {})}, data, reserved=RESERVED_FIELDS)
        self._cross_field_check(form, clean)
        now = self.clock.now()
        instance = ProcessInstance(
            definition=definition,
            process_key=key,
            status="running",
            state="{}",
            serializer_version=SERIALIZER_VERSION,
            version=1,
            data={},
            started_by=actor,
            summary="",
            created_at=now,
            updated_at=now,
            audit_seq=0,
            audit_head="",
        )
        instance.id = reserve_instance_id(session)  # inserted by the write path, under the lock
        initial = {
            **clean,
            "instance_id": instance.id,
            "process_key": key,
            "requester": actor.username if actor else None,
            "requester_name": actor.display_name if actor else None,
        }
        details: dict[str, Any] = {"fields": sorted(clean), "version": definition.version}
        if actor is not None and (by is None or by.id != actor.id):
            details["on_behalf_of"] = actor.username
        if past_dates_reason is not None:
            details["past_dates_reason"] = past_dates_reason[:1000]
        with frozen_time(now), script_errors():
            wf = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=self.script_engine)
            wf.get_next_task(state=TaskState.READY).data.update(initial)
            run_until_waiting(wf)
        self._save(
            session,
            instance,
            parsed,
            wf,
            now,
            _name(by),
            [dict(action="started", details=details)],
        )
        return instance

    @optimistic_action
    def complete(
        self,
        session: Session,
        task_id: str,
        user: User | str,
        data: Mapping[str, Any] | None = None,
        *,
        expected_version: int | None = None,
        channel: str | None = None,
        sender: Mapping[str, Any] | None = None,
    ) -> TaskRecord:
        """Complete a READY user task with the submitted form data; run until it waits. `channel`
        (web, api, email_link, reply, cli) and, for replies, the `sender` evidence go to the audit."""
        row, actor = self._open_task(session, task_id, user)
        instance = row.instance
        if expected_version is not None and instance.version != expected_version:
            raise ConcurrentUpdate("request_changed")
        on_behalf = permissions.check_work(session, actor, row, self.today())
        parsed = self.specs.get(session, instance.definition)
        clean = self._validated(parsed.form(row.form), data)
        now = self.clock.now()
        with frozen_time(now), script_errors():
            wf = self.load_workflow(instance, parsed)
            task = self._ready_task(wf, row)
            self._cross_field_check(row.form, {**task.data, **clean})
            changed = sorted(k for k, v in clean.items() if task.data.get(k, object()) != v)
            task.data.update(clean)
            task.run()
            run_until_waiting(wf)
        row.completed_by_id, row.completed_at, row.status = actor.id, now, "completed"
        details: dict[str, Any] = {"fields": changed}
        if channel is not None:
            details["channel"] = channel
        if sender is not None:
            details["sender"] = dict(sender)
        if on_behalf is not None:
            details["on_behalf_of"] = session.get_one(User, on_behalf).username
        details.update(decision_details(clean))
        self._save(
            session,
            instance,
            parsed,
            wf,
            now,
            actor.username,
            [dict(action="task_completed", task=row, details=details)],
        )
        return row

    @optimistic_action
    def cancel(self, session: Session, instance_id: int, user: User | str, reason: str = "") -> ProcessInstance:
        """Cancel a running instance: its starter (withdraw, until it is approved) or an admin."""
        instance = self._instance(session, instance_id)
        actor = self._user(session, user)
        permissions.check_cancel(actor, instance, self.glue)
        parsed = self.specs.get(session, instance.definition)
        now = self.clock.now()
        with frozen_time(now), script_errors():
            wf = self.load_workflow(instance, parsed)
            wf.cancel()
        instance.status, instance.ended_at, instance.outcome = "cancelled", now, "cancelled"
        self._save(
            session,
            instance,
            parsed,
            wf,
            now,
            actor.username,
            [dict(action="cancelled", details={"reason": reason[:1000]})],
        )
        return instance

    @optimistic_action
    def deliver_message(
        self,
        session: Session,
        name: str,
        payload: Mapping[str, Any] | None = None,
        correlation: Mapping[str, Any] | None = None,
        actor: str = SYSTEM_ACTOR,
    ) -> ProcessInstance:
        """Deliver message `name` to the one waiting event it correlates with; when none waits, start
        the process whose start event catches it (engine/events.py)."""
        payload = validate_submission({"properties": dict.fromkeys(payload or {}, {})}, payload)
        matches = subscriptions_for(session, name, payload, correlation, self.evaluate)
        if not matches:
            by_instance = correlation is not None and "instance" in correlation
            started = None if by_instance else self.start_by_message(session, name, payload, actor)
            if started is None:
                raise NotFound("no_message_waiting", name=name)
            return started
        if len(matches) > 1:
            ids = sorted({m.instance_id for m in matches})
            raise AmbiguousMessage("ambiguous_message", name=name, count=len(matches), ids=ids)
        return self.deliver_to_subscription(session, matches[0], payload, actor)

    def may_start(self, session: Session, actor: User, key: str) -> WaypointError | None:
        """Why `actor` may not start the latest version of `key` (None: they may); NotFound raises."""
        parsed = self.specs.get(session, latest_definition(session, key))
        return permissions.refusal(permissions.check_start, actor, parsed)

    def may_work(self, session: Session, actor: User, row: TaskRecord) -> WaypointError | None:
        """Why `actor` may not complete the task now (None: they may), delegations included."""
        return permissions.refusal(permissions.check_work, session, actor, row, self.today())

    def may_cancel(self, session: Session, actor: User, instance: ProcessInstance) -> WaypointError | None:
        """Why `actor` may not cancel (or, as its requester, withdraw) the request (None: they may)."""
        return permissions.refusal(permissions.check_cancel, actor, instance, self.glue)

    @staticmethod
    def _ready_task(wf: BpmnWorkflow, row: TaskRecord) -> Any:
        task = find_task(wf, row.id)
        if task is None or task.state != TaskState.READY:
            raise ConcurrentUpdate("task_not_waiting", task=row.name)
        return task

    def _validated(
        self, schema: dict | None, data: Mapping[str, Any] | None, *, allow_past: bool = False
    ) -> dict[str, Any]:
        """A submission checked against its form, and its dates against today (engine/date_rules.py)."""
        clean = validate_submission(schema, data, reserved=RESERVED_FIELDS)
        errors = [e for e in date_rule_errors(schema, clean, self.today()) if not (allow_past and e.code == PAST)]
        if errors:
            raise ValidationFailed("form_has_errors", errors)
        return clean

    def _cross_field_check(self, form: str | None, data: Mapping[str, Any]) -> None:
        if form:
            errors = self.glue.validate_form(form, data)
            if errors:
                raise ValidationFailed("form_has_errors", [FieldError(p, "rule", rule=text) for p, text in errors])


def _name(user: User | None) -> str:
    return user.username if user is not None else SYSTEM_ACTOR

"""The engine facade: every action on an instance, each inside the caller's transaction.

An action loads the instance row, rebuilds the workflow around its cached spec, acts
(start, complete, claim, release, message, timer, cancel), runs engine steps until the
workflow waits, serializes it, and writes the row back under its optimistic version check
(`UPDATE ... WHERE version = :v`) before touching the task index, timers, subscriptions
and audit trail. A lost race raises `ConcurrentUpdate`; the caller's rollback then leaves
no trace. The engine never commits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from engine import locking, persist, task_drafts
from engine.audit import SYSTEM_ACTOR
from engine.checks import check_sources
from engine.clock import Clock, SystemClock, frozen_time
from engine.config import Settings
from engine.definitions import ParsedDefinition, SourceSet, SpecCache, parse_sources, read_sources
from engine.errors import (
    AmbiguousMessage,
    ConcurrentUpdate,
    DefinitionError,
    FieldError,
    InvalidState,
    NotFound,
    PermissionDenied,
    ScriptError,
    TaskAlreadyClaimed,
    TaskAlreadyCompleted,
    ValidationFailed,
    WaypointError,
)
from engine.forms import decision_details, validate_submission
from engine.glue import GlueRegistry
from engine.mail import notifications
from engine.mail.compose import MailConfig, MailContext
from engine.models import MessageSubscription, ProcessInstance, SensitiveAccess, TaskRecord, Timer, User
from engine.privacy import PREFIX as ENCRYPTED
from engine.privacy import REVEAL_ROLES, Vault, mask, personal_paths
from engine.queries.inbox import OVERSIGHT_ROLES, holders_for
from engine.scripting import DEFAULT_TIME_LIMIT, ScriptRejected, ScriptTimeout, WaypointScriptEngine, builtin_helpers
from engine.serialization import SERIALIZER_VERSION, load
from engine.steps import run_until_waiting
from engine.taskindex import BPMN_TIMER, canonical
from engine.users import KNOWN_ROLES, find_user
from engine.versions import DeployResult, latest_definition, store_versions

#: Data keys the engine sets at start; forms cannot submit them.
RESERVED_FIELDS = frozenset({"requester", "requester_name", "instance_id", "process_key"})


class Engine:
    """Runs Waypoint's processes. One per application; methods take the caller's session."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        helpers: Mapping[str, Any] | None = None,
        glue: GlueRegistry | None = None,
        office_tz: str = "America/Toronto",
        script_time_limit: float = DEFAULT_TIME_LIMIT,
        data_key: str | None = None,
        mail: MailConfig | None = None,
    ):
        """Everything comes from the caller (the composition root): the process glue (default: none),
        the data key (default: none, so personal data cannot be stored) and the mail settings."""
        self.clock = clock or SystemClock()
        self.office_tz = ZoneInfo(office_tz)
        self.glue = glue if glue is not None else GlueRegistry()
        self.helpers = {**builtin_helpers(office_tz), **self.glue.helpers, **(helpers or {})}
        self.script_time_limit = script_time_limit
        self.script_engine = WaypointScriptEngine(self.helpers, script_time_limit)
        self.specs = SpecCache()
        self.vault = Vault(data_key)
        self.mail = MailContext(
            config=mail or MailConfig(timezone=office_tz),
            spec=lambda session, definition: self.specs.get(session, definition),  # self.specs may be swapped
            is_approved=self.glue.is_approved,
        )

    @classmethod
    def from_settings(cls, settings: Settings, glue: GlueRegistry, *, clock: Clock | None = None) -> Engine:
        """The engine of a process: time zone, data key and mail from `settings`, with `glue`."""
        return cls(
            clock=clock,
            glue=glue,
            office_tz=settings.timezone,
            data_key=settings.data_key,
            mail=MailConfig.from_settings(settings),
        )

    def derive(self, *, clock: Clock, mail: MailConfig | None = None) -> Engine:
        """A separate engine with this one's glue, helpers, key and time zone, but its own clock,
        spec cache and mail settings (default: the same): simulations and demo histories."""
        derived = Engine(
            clock=clock,
            glue=self.glue,
            helpers=self.helpers,
            office_tz=self.office_tz.key,
            script_time_limit=self.script_time_limit,
            mail=mail or self.mail.config,
        )
        derived.vault = self.vault
        return derived

    # --- definitions -------------------------------------------------------------------
    def check(self, sources: SourceSet) -> list[dict]:
        """Findings for a set of files (parse errors raise DefinitionError)."""
        parsed = parse_sources(sources.files)
        findings = check_sources(parsed, KNOWN_ROLES, self.helpers, self.glue.messages)
        for path in sources.requested:
            if not parsed.executable_ids(path):
                findings.append({"file": path, "message": "no executable process in this file"})
        return findings

    def deploy(
        self,
        session: Session,
        paths: Iterable[str | Path] = (),
        *,
        sources: SourceSet | None = None,
        deployed_by: str | None = None,
    ) -> list[DeployResult]:
        """Deploy every executable process of the requested files; nothing is stored on error."""
        sources = sources or read_sources(paths)
        if not sources.requested:
            raise DefinitionError("no_bpmn_to_deploy")
        findings = self.check(sources)
        if findings:
            raise DefinitionError("files_rejected", findings)
        parsed = parse_sources(sources.files)
        keys = [key for path in sources.requested for key in parsed.executable_ids(path)]
        return store_versions(session, parsed, keys, deployed_by, self.clock.now())

    def definition_for(self, session: Session, instance: ProcessInstance) -> ParsedDefinition:
        return self.specs.get(session, instance.definition)

    def load_workflow(self, instance: ProcessInstance, parsed: ParsedDefinition) -> BpmnWorkflow:
        """The instance's workflow, personal fields decrypted (for the engine and detail pages)."""
        return load(instance.state, parsed, self.script_engine, self.vault)

    def display_data(self, session: Session, instance: ProcessInstance, reveal: bool = False) -> dict[str, Any]:
        """The data snapshot to show: personal fields masked (`•••• 4821`), or in clear with `reveal`
        (the caller has checked the person may see them and logged the access)."""
        data = self.clear_data(instance)
        return data if reveal else mask(data, self.definition_for(session, instance).personal)

    def holds_personal(self, instance: ProcessInstance) -> bool:
        """Whether the request's data holds encrypted personal values (something to reveal)."""
        return ENCRYPTED in json.dumps(instance.data or {})

    def may_reveal(self, user: User, instance: ProcessInstance) -> bool:
        """Whether `user` may see this request's personal fields in clear (always logged)."""
        return bool(user.roles & REVEAL_ROLES) or instance.started_by_id == user.id

    def reveal(self, session: Session, instance: ProcessInstance, user: User, reason: str) -> dict[str, Any]:
        """The clear data of a request for a permitted user, recorded in the access log.

        :raise PermissionDenied: when the user's roles do not need personal data
        """
        if not self.may_reveal(user, instance):
            raise PermissionDenied("personal_data_forbidden")
        personal = self.definition_for(session, instance).personal
        data = self.clear_data(instance)
        fields = sorted({path for path in personal_paths(data, personal)})
        session.add(
            SensitiveAccess(
                user_id=user.id, instance_id=instance.id, at=self.clock.now(), reason=reason[:200], fields=fields
            )
        )
        session.flush()
        return data

    def clear_data(self, instance: ProcessInstance) -> dict[str, Any]:
        """The instance's data snapshot with personal fields decrypted (show it masked)."""
        return self.vault.unseal(instance.data or {}) if self.holds_personal(instance) else dict(instance.data or {})

    # --- actions -----------------------------------------------------------------------
    def start(
        self, session: Session, key: str, data: Mapping[str, Any] | None = None, user: User | str | None = None
    ) -> ProcessInstance:
        """Start the latest version of `key` with `data`; run until it waits."""
        definition = latest_definition(session, key)
        parsed = self.specs.get(session, definition)
        actor = self._user(session, user) if user is not None else None
        form = parsed.start_form
        if form is not None:
            clean = validate_submission(parsed.form(form), data, reserved=RESERVED_FIELDS)
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
        session.add(instance)
        session.flush()
        initial = {
            **clean,
            "instance_id": instance.id,
            "process_key": key,
            "requester": actor.username if actor else None,
            "requester_name": actor.display_name if actor else None,
        }
        with frozen_time(now), self._script_errors():
            wf = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=self.script_engine)
            wf.get_next_task(state=TaskState.READY).data.update(initial)
            run_until_waiting(wf)
        self._save(
            session,
            instance,
            parsed,
            wf,
            now,
            _name(actor),
            [dict(action="started", details={"fields": sorted(clean), "version": definition.version})],
        )
        return instance

    def complete(
        self,
        session: Session,
        task_id: str,
        user: User | str,
        data: Mapping[str, Any] | None = None,
        *,
        expected_version: int | None = None,
    ) -> TaskRecord:
        """Complete a READY user task with the submitted form data; run until it waits."""
        row = self._open_task(session, task_id)
        instance = row.instance
        if expected_version is not None and instance.version != expected_version:
            raise ConcurrentUpdate("request_changed")
        actor = self._user(session, user)
        on_behalf = self._check_work(session, actor, row)
        parsed = self.specs.get(session, instance.definition)
        clean = validate_submission(parsed.form(row.form), data, reserved=RESERVED_FIELDS)
        now = self.clock.now()
        with frozen_time(now), self._script_errors():
            wf = self.load_workflow(instance, parsed)
            task = self._ready_task(wf, row)
            self._cross_field_check(row.form, {**task.data, **clean})
            changed = sorted(k for k, v in clean.items() if task.data.get(k, object()) != v)
            task.data.update(clean)
            task.run()
            run_until_waiting(wf)
        row.completed_by_id, row.completed_at, row.status = actor.id, now, "completed"
        details: dict[str, Any] = {"fields": changed}
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
        task_drafts.clear(session, row.id)
        return row

    def claim(self, session: Session, task_id: str, user: User | str) -> TaskRecord:
        """Take an open queue task so that only this user works on it."""
        row = self._open_task(session, task_id)
        actor = self._user(session, user)
        self._check_claim(session, actor, row)
        if row.claimed_by_id == actor.id:
            return row
        row.claimed_by_id = actor.id
        locking.record_change(
            session, row.instance, at=self.clock.now(), actor=actor.username, action="task_claimed", task=row
        )
        return row

    def release(self, session: Session, task_id: str, user: User | str) -> TaskRecord:
        """Give a claimed task back to its queue (the claimant or an admin)."""
        row = self._open_task(session, task_id)
        actor = self._user(session, user)
        self._check_release(session, actor, row)
        row.claimed_by_id = None
        locking.record_change(
            session, row.instance, at=self.clock.now(), actor=actor.username, action="task_released", task=row
        )
        return row

    def reassign(
        self, session: Session, task_id: str, user: User | str, to: User | str | None, reason: str
    ) -> TaskRecord:
        """Move an open task to another person (or back to its queue with `to=None`), with a reason.

        Allowed for admins, ITV coordinators and the manager of whoever holds the task; the new
        holder must be able to do it (its role, never the requester's own approval).
        """
        row = self._open_task(session, task_id)
        actor = self._user(session, user)
        holder = self._check_reassign(session, actor, row)
        if not reason.strip():
            raise ValidationFailed("reassign_needs_reason", [FieldError("reason", "required")])
        target = self._user(session, to) if to is not None else None
        if target is not None:
            self._check_holder(session, target, row)
        before = holder.username if holder else None
        row.assignee_id, row.claimed_by_id = (target.id if target else None), None
        locking.record_change(
            session,
            row.instance,
            at=self.clock.now(),
            actor=actor.username,
            action="task_reassigned",
            task=row,
            details={"from": before, "to": target.username if target else None, "reason": reason.strip()[:1000]},
        )
        notifications.task_reassigned(session, self.mail, row, target, self.clock.now())
        return row

    def cancel(self, session: Session, instance_id: int, user: User | str, reason: str = "") -> ProcessInstance:
        """Cancel a running instance: its starter (withdraw, until it is approved) or an admin."""
        instance = self._instance(session, instance_id)
        actor = self._user(session, user)
        self._check_cancel(session, actor, instance)
        parsed = self.specs.get(session, instance.definition)
        now = self.clock.now()
        with frozen_time(now), self._script_errors():
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

    def deliver_message(
        self,
        session: Session,
        name: str,
        payload: Mapping[str, Any] | None = None,
        correlation: Mapping[str, Any] | None = None,
        actor: str = SYSTEM_ACTOR,
    ) -> ProcessInstance:
        """Deliver message `name` to the one waiting event it correlates with."""
        payload = validate_submission({"properties": dict.fromkeys(payload or {}, {})}, payload)
        matches = self._subscriptions_for(session, name, payload, correlation)
        if not matches:
            raise NotFound("no_message_waiting", name=name)
        if len(matches) > 1:
            ids = sorted({m.instance_id for m in matches})
            raise AmbiguousMessage("ambiguous_message", name=name, count=len(matches), ids=ids)
        sub = matches[0]
        instance = self._instance(session, sub.instance_id)
        parsed = self.specs.get(session, instance.definition)
        now = self.clock.now()
        with frozen_time(now), self._script_errors():
            wf = self.load_workflow(instance, parsed)
            task = _find_task(wf, sub.task_id)
            if task is None or task.state != TaskState.WAITING:
                raise ConcurrentUpdate("message_moved_on")
            event = BpmnEvent(task.task_spec.event_definition, dict(payload))
            task.task_spec.catch(task, event)
            task.task_spec._update(task)
            run_until_waiting(wf)
        details = {"message": name, "correlation": json.loads(sub.correlation)}
        self._save(
            session,
            instance,
            parsed,
            wf,
            now,
            actor,
            [dict(action="message_received", element=(sub.element_id, name), task_id=sub.task_id, details=details)],
        )
        return instance

    def due_timers(self, session: Session, now: datetime | None = None, limit: int = 100) -> list[Timer]:
        """BPMN timers due before `now` (default: the clock), oldest first."""
        moment = now or self.clock.now()
        return list(
            session.scalars(
                select(Timer)
                .where(Timer.kind == BPMN_TIMER, Timer.due_at < moment)
                .order_by(Timer.due_at, Timer.id)
                .limit(limit)
            )
        )

    def fire_timer(self, session: Session, timer_id: int) -> bool:
        """Fire one due timer; False when it is gone, not yet due, or its instance ended."""
        timer = session.get(Timer, timer_id)
        if timer is None or timer.kind != BPMN_TIMER:  # reminders/escalations: engine/notifications.py
            return False
        instance = self._instance(session, timer.instance_id)
        now = self.clock.now()
        if instance.status != "running":
            session.delete(timer)
            return False
        if timer.due_at >= now:
            return False
        parsed = self.specs.get(session, instance.definition)
        with frozen_time(now), self._script_errors():
            wf = self.load_workflow(instance, parsed)
            task = _find_task(wf, timer.task_id)
            if task is None or task.state != TaskState.WAITING:
                session.delete(timer)
                return False
            # refresh_timers fires every due timer of the instance: audit each one that fired
            waiting = [
                t
                for t in wf.event_manager.tasks.values()
                if isinstance(t.task_spec.event_definition, TimerEventDefinition)
            ]
            wf.refresh_timers()
            if task.state == TaskState.WAITING:
                return False
            events = [
                dict(
                    action="timer_fired",
                    element=(t.task_spec.bpmn_id, t.task_spec.bpmn_name),
                    task_id=str(t.id),
                    details={"due_at": str(t.internal_data.get("event_value", ""))},
                )
                for t in waiting
                if t.state != TaskState.WAITING
            ]
            run_until_waiting(wf)
        self._save(session, instance, parsed, wf, now, SYSTEM_ACTOR, events)
        return True

    # --- internals -----------------------------------------------------------------------
    def _user(self, session: Session, user: User | str) -> User:
        if isinstance(user, User):
            return user
        found = find_user(session, user)
        if found is None:
            raise NotFound("no_such_user", username=user)
        if not found.active:
            raise PermissionDenied("user_deactivated", username=user)
        return found

    def _instance(self, session: Session, instance_id: int) -> ProcessInstance:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound("no_such_request", id=instance_id)
        return instance

    def _open_task(self, session: Session, task_id: str) -> TaskRecord:
        # Task and instance in one statement: the version we later check is then no older
        # than the task row our permission decision is based on.
        row = session.get(
            TaskRecord, str(task_id), options=[joinedload(TaskRecord.instance).joinedload(ProcessInstance.definition)]
        )
        if row is None:
            raise NotFound("no_such_task", id=task_id)
        _require_open(row)
        return row

    @staticmethod
    def _require_may_work(
        actor: User, row: TaskRecord, instance: ProcessInstance, holders: list[int] | None = None
    ) -> int | None:
        """Raise unless `actor` may work on the task; return the id of the person they stand in
        for when it is held by someone whose out-of-office delegation names them (`holders`)."""
        holders = holders or [actor.id]
        if row.role != "requester" and instance.started_by_id == actor.id:
            raise PermissionDenied("own_request")
        if row.claimed_by_id is not None and row.claimed_by_id not in holders:
            assert row.claimed_by is not None  # the user of claimed_by_id
            raise TaskAlreadyClaimed("task_claimed_by", who=row.claimed_by.display_name, task=row.name)
        holder = row.claimed_by_id or row.assignee_id
        if holder is not None:
            if holder not in holders:
                assert row.assignee is not None  # the holder is the assignee: another's claim raised above
                raise PermissionDenied("task_assigned_to", task=row.name, who=row.assignee.display_name)
            return holder if holder != actor.id else None
        if row.role not in actor.roles:
            raise PermissionDenied("task_needs_role", task=row.name, role=row.role)
        return None

    # --- who may do what: each action refuses with the error its `may_*` answers -----------
    def may_work(self, session: Session, actor: User, row: TaskRecord) -> WaypointError | None:
        """Why `actor` may not complete the task now (None: they may), delegations included."""
        return _refusal(self._check_work, session, actor, row)

    def may_claim(self, session: Session, actor: User, row: TaskRecord) -> WaypointError | None:
        """Why `actor` may not claim the task (None: they may; claiming one's own claim is a no-op)."""
        return _refusal(self._check_claim, session, actor, row)

    def may_release(self, session: Session, actor: User, row: TaskRecord) -> WaypointError | None:
        """Why `actor` may not give the task back to its queue (None: they may)."""
        return _refusal(self._check_release, session, actor, row)

    def may_reassign(self, session: Session, actor: User, row: TaskRecord) -> WaypointError | None:
        """Why `actor` may not reassign the task (None: they may; the new holder is checked on reassigning)."""
        return _refusal(self._check_reassign, session, actor, row)

    def may_hold(self, session: Session, target: User, row: TaskRecord) -> WaypointError | None:
        """Why the task may not be reassigned to `target` (None: it may), whoever reassigns it."""
        return _refusal(self._check_holder, session, target, row)

    def may_cancel(self, session: Session, actor: User, instance: ProcessInstance) -> WaypointError | None:
        """Why `actor` may not cancel (or, as its requester, withdraw) the request (None: they may)."""
        return _refusal(self._check_cancel, session, actor, instance)

    def _check_work(self, session: Session, actor: User, row: TaskRecord) -> int | None:
        _require_open(row)
        return self._require_may_work(actor, row, row.instance, holders_for(session, actor, self.today()))

    def _check_claim(self, session: Session, actor: User, row: TaskRecord) -> None:
        # Without delegations: a delegate's claim would lock the holder out of their own task.
        _require_open(row)
        if row.claimed_by_id != actor.id:
            self._require_may_work(actor, row, row.instance)

    def _check_release(self, session: Session, actor: User, row: TaskRecord) -> None:
        _require_open(row)
        if row.claimed_by_id is None:
            raise InvalidState("task_not_claimed")
        if row.claimed_by_id != actor.id and "admin" not in actor.roles:
            raise PermissionDenied("release_forbidden")

    def _check_reassign(self, session: Session, actor: User, row: TaskRecord) -> User | None:
        """Raise unless `actor` may reassign the task; its current holder (None: in its queue)."""
        _require_open(row)
        holder_id = row.claimed_by_id or row.assignee_id
        holder = session.get(User, holder_id) if holder_id else None
        manages = holder is not None and holder.manager_id == actor.id
        if not (actor.roles & OVERSIGHT_ROLES or manages):
            raise PermissionDenied("reassign_forbidden")
        return holder

    def _check_holder(self, session: Session, target: User, row: TaskRecord) -> None:
        if row.role != "requester" and row.instance.started_by_id == target.id:
            raise PermissionDenied("target_started_request", who=target.display_name)
        if row.role not in target.roles:
            raise PermissionDenied("target_lacks_role", who=target.display_name, role=row.role)

    def _check_cancel(self, session: Session, actor: User, instance: ProcessInstance) -> None:
        if "admin" not in actor.roles:
            if instance.started_by_id != actor.id:
                raise PermissionDenied("cancel_forbidden")
            if self.glue.is_approved(instance.process_key, instance.data or {}):
                raise InvalidState("already_approved")
        if instance.status != "running":
            raise InvalidState("request_not_running", id=instance.id, status=instance.status)

    def today(self) -> date:
        """The office's current date (for delegations and date rules)."""
        return self.clock.now().astimezone(self.office_tz).date()

    @staticmethod
    def _ready_task(wf: BpmnWorkflow, row: TaskRecord) -> Any:
        task = _find_task(wf, row.id)
        if task is None or task.state != TaskState.READY:
            raise ConcurrentUpdate("task_not_waiting", task=row.name)
        return task

    def _cross_field_check(self, form: str | None, data: Mapping[str, Any]) -> None:
        if form:
            errors = self.glue.validate_form(form, data)
            if errors:
                raise ValidationFailed("form_has_errors", [FieldError(p, "rule", rule=text) for p, text in errors])

    @contextmanager
    def _script_errors(self) -> Iterator[None]:
        try:
            yield
        except (ScriptRejected, ScriptTimeout) as exc:
            raise ScriptError("script_refused", detail=str(exc)) from exc
        except SpiffWorkflowException as exc:
            raise ScriptError("script_failed", detail=_describe_spiff_error(exc)) from exc

    def _save(
        self,
        session: Session,
        instance: ProcessInstance,
        parsed: ParsedDefinition,
        wf: BpmnWorkflow,
        now: datetime,
        actor: str,
        events: list[dict],
    ) -> list[TaskRecord]:
        """Write the moved workflow through the one write path (engine/persist.py)."""
        return persist.save_workflow(session, self, instance, parsed, wf, now, actor, events)

    def evaluate(self, expression: str, data: Mapping[str, Any]) -> Any:
        """The value of a process expression (task properties, message correlation) over `data`."""
        return self.script_engine.environment.evaluate(expression, dict(data))

    def _subscriptions_for(
        self, session: Session, name: str, payload: Mapping[str, Any], correlation: Mapping[str, Any] | None
    ) -> list[MessageSubscription]:
        base = select(MessageSubscription).where(MessageSubscription.message_name == name)
        if correlation is not None:
            if set(correlation) == {"instance"}:
                return list(session.scalars(base.where(MessageSubscription.instance_id == correlation["instance"])))
            return list(session.scalars(base.where(MessageSubscription.correlation == canonical(correlation))))
        matches: list[MessageSubscription] = []
        retrievals = session.scalars(
            select(MessageSubscription.retrieval).where(MessageSubscription.message_name == name).distinct()
        )
        for retrieval in list(retrievals):
            expressions = json.loads(retrieval)
            if not expressions:
                continue
            try:
                values = {prop: self.evaluate(expr, payload) for prop, expr in expressions.items()}
            except Exception:
                continue
            matches += session.scalars(
                base.where(
                    MessageSubscription.retrieval == retrieval, MessageSubscription.correlation == canonical(values)
                )
            )
        return matches


def _refusal(check: Callable[..., Any], *args: Any) -> WaypointError | None:
    """The error `check` raises (why the action would refuse), or None when it passes."""
    try:
        check(*args)
    except WaypointError as exc:
        return exc
    return None


def _require_open(row: TaskRecord) -> None:
    if row.status != "ready":
        by = row.completed_by.display_name if row.completed_by else None
        raise TaskAlreadyCompleted.closed(row.name, row.status, by)


def _name(user: User | None) -> str:
    return user.username if user is not None else SYSTEM_ACTOR


def _find_task(wf: BpmnWorkflow, task_id: str) -> Any:
    try:
        return wf.get_task_from_id(UUID(task_id))
    except (TaskNotFoundException, ValueError):
        return None


def _describe_spiff_error(exc: SpiffWorkflowException) -> str:
    task = getattr(exc, "task", None)
    where = ""
    if task is not None:
        spec = task.task_spec
        where = f"step '{getattr(spec, 'bpmn_name', None) or getattr(spec, 'bpmn_id', spec.name)}': "
    notes = " ".join(getattr(exc, "notes", []) or getattr(exc, "__notes__", []) or [])
    inner = getattr(exc, "error_type", "") or ""
    message = str(exc.args[0]) if exc.args else str(exc)
    return (
        f"{where}{message}{' (' + inner + ')' if inner and inner not in message else ''}{' ' + notes if notes else ''}"
    )

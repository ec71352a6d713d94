"""The engine's shared core: built from settings, the spec cache, loading a workflow, finding
users, requests and open tasks, and handing a moved workflow to the one write path.

`runtime.Engine` is built on it, one part per concern: task assignment, personal data, timers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from typing import Any, Self
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, aliased, joinedload

from engine import permissions, persist, task_rows
from engine.clock import Clock, SystemClock
from engine.config import Settings
from engine.definitions import ParsedDefinition, SpecCache
from engine.errors import (
    NotFound,
    PermissionDenied,
)
from engine.glue import GlueRegistry
from engine.mail.compose import MailConfig, MailContext
from engine.models import ProcessInstance, TaskRecord, User
from engine.people.users import find_user
from engine.privacy.vault import Vault
from engine.scripting import DEFAULT_TIME_LIMIT, WaypointScriptEngine, builtin_helpers
from engine.serialization import load
from engine.task_owners import DEFAULT_FALLBACK_ROLE


class EngineCore:
    """What every part of the facade shares: clock, glue, script engine, spec cache, vault and mail."""

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
        fallback_role: str = DEFAULT_FALLBACK_ROLE,
    ):
        """Everything comes from the caller (the composition root): the process glue (default: none),
        the data key (default: none, so personal data cannot be stored) and the mail settings."""
        self.clock = clock or SystemClock()
        self.fallback_role = fallback_role
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
    def from_settings(cls, settings: Settings, glue: GlueRegistry, *, clock: Clock | None = None) -> Self:
        """The engine of a process: time zone, data key and mail from `settings`, with `glue`."""
        return cls(
            clock=clock,
            glue=glue,
            office_tz=settings.timezone,
            data_key=settings.data_key,
            mail=MailConfig.from_settings(settings),
            fallback_role=settings.fallback_role,
        )

    def derive(self, *, clock: Clock, mail: MailConfig | None = None) -> Self:
        """A separate engine with this one's glue, helpers, key and time zone, but its own clock,
        spec cache and mail settings (default: the same): simulations and demo histories."""
        derived = type(self)(
            clock=clock,
            glue=self.glue,
            helpers=self.helpers,
            office_tz=self.office_tz.key,
            script_time_limit=self.script_time_limit,
            mail=mail or self.mail.config,
            fallback_role=self.fallback_role,
        )
        derived.vault = self.vault
        return derived

    def definition_for(self, session: Session, instance: ProcessInstance) -> ParsedDefinition:
        return self.specs.get(session, instance.definition)

    def load_workflow(self, instance: ProcessInstance, parsed: ParsedDefinition) -> BpmnWorkflow:
        """The instance's workflow, personal fields decrypted (for the engine and detail pages)."""
        return load(instance.state, parsed, self.script_engine, self.vault)

    def _user(self, session: Session, user: User | str) -> User:
        return user if isinstance(user, User) else _active(find_user(session, user), user)

    def _instance(self, session: Session, instance_id: int) -> ProcessInstance:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound("no_such_request", id=instance_id)
        return instance

    def _open_task(self, session: Session, task_id: str, user: User | str) -> tuple[TaskRecord, User]:
        """The open task an action works on and the person acting, in one statement.

        The task and its instance come together, so the version later checked is no older than the
        task row the permission decision is based on. With them come the requester (without roles:
        the save's task owners and emails read them), the stored state the action loads
        (compressed: a page or two, decompressed only when read), and the request's open task rows,
        which the save's task index compares with the workflow (engine/taskindex.py)."""
        by_name = not isinstance(user, User)
        params = {"task_id": str(task_id), "username": user} if by_name else {"task_id": str(task_id)}
        found = session.execute(_open_task_statement(by_name), params).unique().first()
        if found is None:
            raise NotFound("no_such_task", id=task_id)
        row = found[0]
        task_rows.note_open_rows(session, row.instance)
        permissions.require_open(row)
        return row, user if isinstance(user, User) else _active(found[1], user)

    def office_day(self, moment: datetime | None) -> date | None:
        """The office's calendar day of a stored UTC time (None stays None)."""
        return moment.astimezone(self.office_tz).date() if moment is not None else None

    def today(self) -> date:
        """The office's current date (for delegations and date rules)."""
        return self.clock.now().astimezone(self.office_tz).date()

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


#: What an action's one read loads with the request it changes (here, and a timer's in
#: engine/timer_actions.py): its definition, its stored state, its requester without roles (the
#: save's task owners and emails read them) and its open task rows (engine/task_rows.py).
REQUEST_FOR_SAVE = (
    joinedload(ProcessInstance.definition),
    joinedload(ProcessInstance.stored_state),
    joinedload(ProcessInstance.started_by).lazyload(User.role_rows),
    joinedload(ProcessInstance.open_tasks),
)


@cache
def _open_task_statement(actor_by_name: bool) -> Select[Any]:
    """`_open_task`'s statement, built once: building it costs more than running it.

    Binds `task_id`, and `username` when the actor comes by name (with roles, in the same statement)."""
    options = [joinedload(TaskRecord.instance).options(*REQUEST_FOR_SAVE)]
    query: Select[Any] = select(TaskRecord).where(TaskRecord.id == bindparam("task_id"))
    if actor_by_name:
        actor = aliased(User, name="actor")
        query = query.add_columns(actor).outerjoin(actor, actor.username == bindparam("username"))
        options.append(joinedload(actor.role_rows))
    return query.options(*options)


def _active(found: User | None, username: str) -> User:
    """The person called `username`, who may act: known and not deactivated."""
    if found is None:
        raise NotFound("no_such_user", username=username)
    if not found.active:
        raise PermissionDenied("user_deactivated", username=username)
    return found

"""Who may do what: the one home of every rule an action enforces and a page asks about.

Each `check_*` raises the error the action refuses with; `refusal` turns the same check into
an answer (the error, or None), which is what `Engine.may_*` gives the web, the API and the
CLI to decide which buttons to show. Nobody restates these rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, object_session

from engine.errors import (
    InvalidState,
    PermissionDenied,
    TaskAlreadyClaimed,
    TaskAlreadyCompleted,
    ValidationFailed,
    WaypointError,
)
from engine.forms import decision_form
from engine.glue import GlueRegistry
from engine.models import ProcessInstance, TaskRecord, User
from engine.people.delegation import holders_for
from engine.people.service_accounts import service_account
from engine.privacy.vault import REVEAL_ROLES
from engine.task_owners import is_candidate

if TYPE_CHECKING:
    from engine.definitions import ParsedDefinition

#: Roles that oversee every request: they see all of them and may reassign any open task.
OVERSIGHT_ROLES = frozenset({"admin", "itv_coordinator"})
#: Roles that see the reports dashboard and its CSV exports.
REPORT_ROLES = frozenset({"itv_coordinator", "senior_management", "admin"})
#: The task property a designer sets to "true" or "false" to say whether a step is an approval.
APPROVAL_PROPERTY = "approval"


def is_approval(props: Mapping[str, str], schema: Mapping[str, Any] | None) -> bool:
    """Is a step an approval (which its requester may not give)? What its `approval` property says,
    else whether its form has a decision field (engine.forms.decision_form). Set on the task row
    when it is indexed (`TaskRecord.approval`)."""
    declared = (props.get(APPROVAL_PROPERTY) or "").strip().lower()
    if declared in ("true", "false"):
        return declared == "true"
    return decision_form(schema) is not None


def bars_requester(row: TaskRecord) -> bool:
    """Does separation of duties keep the request's starter off this task? Only approvals: the
    requester's own steps (their lane, a report they owe) stay theirs. The queues, emails and
    digests ask this too (`TaskRecord.approval` in SQL)."""
    return bool(row.approval) and row.role != "requester"


def refusal(check: Callable[..., Any], *args: Any) -> WaypointError | None:
    """The error `check` raises (why the action would refuse), or None when it passes."""
    try:
        check(*args)
    except WaypointError as exc:
        return exc
    return None


def require_open(row: TaskRecord) -> None:
    """Raise unless the task is still waiting for someone."""
    if row.status != "ready":
        by = row.completed_by.display_name if row.completed_by else None
        raise TaskAlreadyCompleted.closed(row.name, row.status, by)


def require_may_work(
    actor: User, row: TaskRecord, instance: ProcessInstance, holders: list[int] | None = None
) -> int | None:
    """Raise unless `actor` may work on the task; return the id of the person they stand in
    for when it is held by someone whose out-of-office delegation names them (`holders`)."""
    holders = holders or [actor.id]
    if bars_requester(row) and instance.started_by_id == actor.id:
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
    if row.role not in actor.roles and not _offered_to(row, actor):
        if row.role is None:
            raise PermissionDenied("task_offered_to_others", task=row.name)
        raise PermissionDenied("task_needs_role", task=row.name, role=row.role)
    return None


def _offered_to(row: TaskRecord, person: User) -> bool:
    """Is the task offered to this person by name (a candidate user, engine/task_owners.py)?"""
    session = object_session(row)
    return session is not None and is_candidate(session, row.id, person.id)


def check_work(session: Session, actor: User, row: TaskRecord, today: date) -> int | None:
    """May `actor` complete the task today (delegations included)? The person they stand in for."""
    require_open(row)
    held_by = row.claimed_by_id or row.assignee_id
    # whom the actor stands in for matters only on a task someone else holds
    holders = holders_for(session, actor, today) if held_by not in (None, actor.id) else [actor.id]
    return require_may_work(actor, row, row.instance, holders)


def check_claim(actor: User, row: TaskRecord) -> None:
    """May `actor` claim the task? Claiming one's own claim is allowed (a no-op)."""
    # Without delegations: a delegate's claim would lock the holder out of their own task.
    require_open(row)
    if row.claimed_by_id != actor.id:
        require_may_work(actor, row, row.instance)


def check_release(actor: User, row: TaskRecord) -> None:
    """May `actor` give the task back to its queue (its claimant or an admin)?"""
    require_open(row)
    if row.claimed_by_id is None:
        raise InvalidState("task_not_claimed")
    if row.claimed_by_id != actor.id and "admin" not in actor.roles:
        raise PermissionDenied("release_forbidden")


def check_reassign(session: Session, actor: User, row: TaskRecord) -> User | None:
    """May `actor` reassign the task (oversight roles, or the holder's manager)? Its current holder."""
    require_open(row)
    holder_id = row.claimed_by_id or row.assignee_id
    holder = session.get(User, holder_id) if holder_id else None
    manages = holder is not None and holder.manager_id == actor.id
    if not (actor.roles & OVERSIGHT_ROLES or manages):
        raise PermissionDenied("reassign_forbidden")
    return holder


def check_holder(target: User, row: TaskRecord) -> None:
    """May the task be given to `target`: its role, and never the approval of their own request?"""
    if bars_requester(row) and row.instance.started_by_id == target.id:
        raise PermissionDenied("target_started_request", who=target.display_name)
    if row.role not in target.roles and not _offered_to(row, target):
        raise PermissionDenied("target_lacks_role", who=target.display_name, role=row.role or "")


def check_override_dates(actor: User | None, reason: str) -> None:
    """May `actor` file a request whose dates have passed: the office (oversight roles), with a reason?"""
    if actor is None or not actor.roles & OVERSIGHT_ROLES:
        raise PermissionDenied("past_dates_need_the_office")
    if not reason.strip():
        raise ValidationFailed("past_dates_need_a_reason")


def check_record(actor: User, instance: ProcessInstance, role: str | None) -> None:
    """May `actor` record an outside event the request waits for (engine/outside_events.py): a
    member of the role the diagram names, or an admin; never on a request they started."""
    if role is None:
        raise PermissionDenied("wait_not_recordable")
    if instance.started_by_id == actor.id:
        raise PermissionDenied("own_request")
    if role not in actor.roles and "admin" not in actor.roles:
        raise PermissionDenied("record_needs_role", role=role)


def check_cancel(actor: User, instance: ProcessInstance, glue: GlueRegistry) -> None:
    """May `actor` cancel the request: an admin, or its requester until it is approved?"""
    if "admin" not in actor.roles:
        if instance.started_by_id != actor.id:
            raise PermissionDenied("cancel_forbidden")
        if glue.is_approved(instance.process_key, instance.data or {}):
            raise InvalidState("already_approved")
    if instance.status != "running":
        raise InvalidState("request_not_running", id=instance.id, status=instance.status)


def check_start(user: User, parsed: ParsedDefinition) -> None:
    """May `user` start (be the requester of) this process version: a person starts it (a start
    form, or a none start event), and they hold one of its starter roles? The catalogue, the API
    and `Engine.start` ask this."""
    if not parsed.started_by_people or not (parsed.start_roles & user.roles):
        raise PermissionDenied("may_not_start", username=user.username, key=parsed.key)


def may_deliver(session: Session, user: User, message_name: str) -> bool:
    """May `user` deliver BPMN message `message_name`: admins, and service accounts granted it?"""
    if "admin" in user.roles:
        return True
    account = service_account(session, user)
    return account is not None and ("*" in account.messages or message_name in account.messages)


def require_may_deliver(session: Session, user: User, message_name: str) -> None:
    """:raise PermissionDenied: unless `user` may deliver `message_name`."""
    if not may_deliver(session, user, message_name):
        raise PermissionDenied("may_not_deliver", username=user.username, name=message_name)


def require_may_start_for_others(session: Session, user: User) -> None:
    """:raise PermissionDenied: unless `user` may file a request for someone else: the office
    (oversight roles), or a service account allowed to start on someone's behalf."""
    if user.roles & OVERSIGHT_ROLES:
        return
    account = service_account(session, user)
    if account is None or not account.start_on_behalf:
        raise PermissionDenied("start_on_behalf_forbidden")


def may_view_reports(user: User) -> bool:
    """Whether `user` sees the reports dashboard and its CSV exports."""
    return bool(user.roles & REPORT_ROLES)


def check_subject_access(actor: User) -> None:
    """May `actor` search and export everything held about a person (admins)?"""
    if "admin" not in actor.roles:
        raise PermissionDenied("subject_access_needs_admin")


def check_retry_incident(actor: User) -> None:
    """May `actor` put a failed timer, email or job back to work (admins)?"""
    if "admin" not in actor.roles:
        raise PermissionDenied("retry_needs_admin")


def may_reveal(user: User, instance: ProcessInstance) -> bool:
    """Whether `user` may see this request's personal fields in clear (always logged)."""
    return bool(user.roles & REVEAL_ROLES) or instance.started_by_id == user.id

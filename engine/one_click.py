"""Approve or reject a task from outside its page (an email link or an email reply).

Which tasks qualify is the decision rule of engine/forms.py (`decision_form`): a form whose only
required input is its decision, offering the chosen word. `decide` redeems the token and
completes the task through `Engine.complete` as the token's user, in the caller's transaction,
so permissions, validation, optimistic locking and draft clearing are the same as on the task
page, and a failure leaves the token unused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.errors import InvalidState, NotFound, PermissionDenied
from engine.forms import ONE_CLICK_VERBS, DecisionForm, decision_form
from engine.mail.links import ActionToken, TokenUsed, is_used, redeem
from engine.models import ProcessDefinition, ProcessInstance, TaskRecord, User
from engine.permissions import require_open
from engine.runtime import Engine


class NeedsTaskPage(InvalidState):
    """The form needs more than a decision and a comment: the person must open the task page."""

    kind = "needs_task_page"


def form_for_task(session: Session, engine: Engine, row: TaskRecord) -> DecisionForm | None:
    """The decision form of an indexed task (None when its form takes no one-word decision)."""
    parsed = engine.definition_for(session, row.instance)
    return decision_form(parsed.form(row.form))


def load_grant(session: Session, grant: ActionToken) -> tuple[User, TaskRecord]:
    """The user and task a token names; NotFound / PermissionDenied when they no longer fit."""
    user = session.get(User, grant.user_id)
    if user is None or not user.active:
        raise PermissionDenied("link_account_inactive")
    row = session.get(TaskRecord, grant.task_id) if grant.task_id else None
    if row is None:
        raise NotFound("link_task_gone")
    return user, row


def check(session: Session, engine: Engine, grant: ActionToken, verb: str) -> tuple[User, TaskRecord, DecisionForm]:
    """Would `grant` give `verb` on its task now? Its user, task and decision form; raises what
    `decide` refuses with otherwise (the email link's confirmation page asks this on a GET):
    NeedsTaskPage (not a one-click word, or a form that needs its page), PermissionDenied (a link
    for another action, an inactive account), NotFound (the task is gone), TokenUsed, and
    TaskAlreadyCompleted (the task no longer waits)."""
    if verb not in ONE_CLICK_VERBS:
        raise NeedsTaskPage("not_an_email_decision", verb=verb)
    if grant.action not in (verb, "reply"):
        raise PermissionDenied("link_other_action", action=grant.action, verb=verb)
    user, row = load_grant(session, grant)
    if is_used(session, grant):
        raise TokenUsed("link_used")
    require_open(row)
    form = form_for_task(session, engine, row)
    if form is None or not form.allows(verb):
        raise NeedsTaskPage("needs_task_page", task=row.name)
    return user, row, form


def decide(
    session: Session,
    engine: Engine,
    grant: ActionToken,
    verb: str,
    comment: str,
    now: datetime,
    sender: Mapping[str, Any] | None = None,
) -> tuple[TaskRecord, ProcessInstance]:
    """Redeem `grant` and complete its task with `verb` (approve/reject) and `comment`; the audit
    names the channel (an email link, or a reply with its `sender` evidence)."""
    user, row, form = check(session, engine, grant, verb)
    redeem(session, grant, now)
    channel = "reply" if sender is not None else "email_link"
    done = engine.complete(session, row.id, user, form.submission(verb, comment), channel=channel, sender=sender)
    return done, done.instance


def comment_required(session: Session, engine: Engine, row: TaskRecord, form: DecisionForm, verb: str) -> bool:
    """Does recording `verb` on this task need a comment (its form or the process's cross-field rules
    say so)? The confirmation page asks, so that it labels the comment box as the POST treats it."""
    if form.comment_field is None:
        return False
    schema = engine.definition_for(session, row.instance).form(row.form) or {}
    if form.comment_field in (schema.get("required") or ()):
        return True
    errors = engine.glue.validate_form(row.form, form.submission(verb, "")) if row.form else []
    return any(path == form.comment_field for path, _ in errors)


_FORMS_OF_TASKS = (  # built once: every inbox page asks
    select(TaskRecord.id, TaskRecord.form, ProcessDefinition)
    .join(ProcessInstance, TaskRecord.instance_id == ProcessInstance.id)
    .join(ProcessDefinition, ProcessInstance.definition_id == ProcessDefinition.id)
    .where(TaskRecord.id.in_(bindparam("task_ids", expanding=True)))
)


def bulk_approvable(session: Session, engine: Engine, task_ids: list[str]) -> set[str]:
    """Which of these tasks can be approved in bulk (a decision form that `allows("approve")`):
    the inbox offers bulk approval only for those. One query, whatever the number of tasks (none
    included, so that a page costs the same statements empty or full)."""
    rows = session.execute(_FORMS_OF_TASKS, {"task_ids": task_ids}).all()
    approvable = set()
    for task_id, form_name, definition in rows:
        form = decision_form(engine.specs.get(session, definition).form(form_name))
        if form is not None and form.allows("approve"):
            approvable.add(task_id)
    return approvable

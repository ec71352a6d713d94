"""Approve or reject a task from outside its page (an email link or an email reply).

A task qualifies when its form has a decision field (named `decision` or ending in
`_decision`) that offers the chosen value (`approve` / `reject`), and nothing else is
required; an optional comment field (`comment` or ending in `_comment`) carries the comment.
`decide` redeems the token and completes the task through `Engine.complete` as the token's
user, in the caller's transaction, so permissions, validation and optimistic locking are the
same as on the task page, and a failure leaves the token unused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.errors import InvalidState, NotFound, PermissionDenied
from engine.mail.links import ActionToken, redeem
from engine.models import ProcessInstance, TaskRecord, User

if TYPE_CHECKING:  # runtime imports notifications, which imports this module
    from engine.runtime import Engine

VERBS = ("approve", "reject")


@dataclass(frozen=True)
class DecisionForm:
    """How a task's form takes a one-word decision."""

    decision_field: str
    comment_field: str | None
    values: tuple[str, ...]
    other_required: tuple[str, ...]

    def allows(self, verb: str) -> bool:
        """True when `verb` can be submitted with nothing but an optional comment."""
        return verb in self.values and not self.other_required


class NeedsTaskPage(InvalidState):
    """The form needs more than a decision and a comment: the person must open the task page."""

    code = "needs_task_page"


def _choices(node: dict[str, Any]) -> tuple[str, ...]:
    if isinstance(node.get("oneOf"), list):
        return tuple(str(o["const"]) for o in node["oneOf"] if isinstance(o, dict) and "const" in o)
    if isinstance(node.get("enum"), list):
        return tuple(str(v) for v in node["enum"])
    return ()


def decision_form(schema: dict | None) -> DecisionForm | None:
    """The decision/comment fields of a form schema, or None when it has no decision field."""
    properties = (schema or {}).get("properties") or {}
    decisions = [k for k in properties if k == "decision" or k.endswith("_decision")]
    if len(decisions) != 1:
        return None
    decision = decisions[0]
    prefix = decision[: -len("decision")]
    comments = [k for k in properties if k == f"{prefix}comment"] or [
        k for k in properties if k == "comment" or k.endswith("_comment")
    ]
    comment = comments[0] if comments else None
    required = tuple(r for r in (schema or {}).get("required") or () if r not in (decision, comment))
    return DecisionForm(decision, comment, _choices(properties[decision]), required)


def form_for_task(session: Session, engine: Engine, row: TaskRecord) -> DecisionForm | None:
    """The decision form of an indexed task (None when its form takes no one-word decision)."""
    parsed = engine.definition_for(session, row.instance)
    return decision_form(parsed.form(row.form))


def load_grant(session: Session, grant: ActionToken) -> tuple[User, TaskRecord]:
    """The user and task a token names; NotFound / PermissionDenied when they no longer fit."""
    user = session.get(User, grant.user_id)
    if user is None or not user.active:
        raise PermissionDenied("this link belongs to an account that is no longer active")
    row = session.get(TaskRecord, grant.task_id) if grant.task_id else None
    if row is None:
        raise NotFound("the task of this link no longer exists")
    return user, row


def decide(
    session: Session, engine: Engine, grant: ActionToken, verb: str, comment: str, now: datetime
) -> tuple[TaskRecord, ProcessInstance]:
    """Redeem `grant` and complete its task with `verb` (approve/reject) and `comment`."""
    if verb not in VERBS:
        raise NeedsTaskPage(f"'{verb}' is not a decision that can be sent by email")
    if grant.action not in (verb, "reply"):
        raise PermissionDenied(f"this link is for '{grant.action}', not '{verb}'")
    user, row = load_grant(session, grant)
    form = form_for_task(session, engine, row)
    if form is None or not form.allows(verb):
        raise NeedsTaskPage(f"task '{row.name}' needs more than a one-word decision: open it in Waypoint")
    redeem(session, grant, now)
    data: dict[str, Any] = {form.decision_field: verb}
    comment = comment.strip()
    if comment and form.comment_field:
        data[form.comment_field] = comment[:2000]
    done = engine.complete(session, row.id, user, data)
    return done, done.instance

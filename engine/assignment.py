"""Claiming, releasing and reassigning open tasks (changes recorded under the instance lock)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine import locking, permissions
from engine.core import EngineCore
from engine.errors import (
    FieldError,
    ValidationFailed,
    WaypointError,
)
from engine.mail import notifications
from engine.models import TaskRecord, User


class TaskAssignment(EngineCore):
    """Who holds an open task, and who may change that (rules: engine/permissions.py)."""

    def claim(self, session: Session, task_id: str, user: User | str) -> TaskRecord:
        """Take an open queue task so that only this user works on it."""
        row, actor = self._open_task(session, task_id, user)
        permissions.check_claim(actor, row)
        if row.claimed_by_id == actor.id:
            return row
        row.claimed_by_id = actor.id
        locking.record_change(
            session, row.instance, at=self.clock.now(), actor=actor.username, action="task_claimed", task=row
        )
        return row

    def release(self, session: Session, task_id: str, user: User | str) -> TaskRecord:
        """Give a claimed task back to its queue (the claimant or an admin)."""
        row, actor = self._open_task(session, task_id, user)
        permissions.check_release(actor, row)
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
        row, actor = self._open_task(session, task_id, user)
        holder = permissions.check_reassign(session, actor, row)
        if not reason.strip():
            raise ValidationFailed("reassign_needs_reason", [FieldError("reason", "required")])
        target = self._user(session, to) if to is not None else None
        if target is not None:
            permissions.check_holder(target, row)
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

    def may_claim(self, session: Session, actor: User, row: TaskRecord) -> WaypointError | None:
        """Why `actor` may not claim the task (None: they may; claiming one's own claim is a no-op)."""
        return permissions.refusal(permissions.check_claim, actor, row)

    def may_release(self, session: Session, actor: User, row: TaskRecord) -> WaypointError | None:
        """Why `actor` may not give the task back to its queue (None: they may)."""
        return permissions.refusal(permissions.check_release, actor, row)

    def may_reassign(self, session: Session, actor: User, row: TaskRecord) -> WaypointError | None:
        """Why `actor` may not reassign the task (None: they may; the new holder is checked on reassigning)."""
        return permissions.refusal(permissions.check_reassign, session, actor, row)

    def may_hold(self, session: Session, target: User, row: TaskRecord) -> WaypointError | None:
        """Why the task may not be reassigned to `target` (None: it may), whoever reassigns it."""
        return permissions.refusal(permissions.check_holder, target, row)

"""The check's reading of who may hold a task: can someone ever do it, and which roles will a deploy create?

A task names people or roles in several ways (the precedence is the run time's, engine/assignment.py):
an explicit assignee (`camunda:assignee`, `humanPerformer`, Waypoint's `assignee` property), candidate
users (`camunda:candidateUsers`, `user(...)` in a `potentialOwner`), candidate groups
(`camunda:candidateGroups`, `potentialOwner`), then its lane. A role named that does not exist yet is
a warning (the deploy creates it: "new role 'legal', no members yet"), so is a role no one holds; a
task that names no one and sits in no lane, or a role that is retired, is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from engine.people.roles import BUILT_IN_KEYS, role_key, roles
from engine.sources import NS

_CALL = re.compile(r"^\s*(user|group)\s*\(\s*(.*?)\s*\)\s*$", re.IGNORECASE)
_EXPRESSION = re.compile(r"^\s*[$#]\{.*\}\s*$", re.S)


@dataclass(frozen=True)
class RoleFacts:
    """The roles that exist (by key), the retired ones, and how many active people hold each."""

    existing: frozenset[str] = frozenset()
    retired: frozenset[str] = frozenset()
    members: Mapping[str, int] = field(default_factory=dict)
    #: whether `members` was counted (a check without a database knows the built-in roles only)
    counted: bool = True


def role_facts(session: Session | None) -> RoleFacts:
    """What the check knows of roles: from the database when there is one, else the built-in roles."""
    if session is None:
        return RoleFacts(existing=BUILT_IN_KEYS, counted=False)
    found = roles(session)
    return RoleFacts(
        existing=frozenset(r.key for r in found),
        retired=frozenset(r.key for r in found if r.retired),
        members={r.key: r.members for r in found},
    )


@dataclass
class Holders:
    """Who a task's diagram says may do it."""

    assignee: str | None = None
    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    lane: str | None = None

    @property
    def role_names(self) -> list[str]:
        """The role names a run queues the task for, or falls back to (candidate groups win over the lane)."""
        names = self.groups or ([self.lane] if self.lane else [])
        return [n for n in names if not _EXPRESSION.match(n)]  # `${group}`: a role chosen at run time


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _expressions(task: Any, tag: str) -> tuple[list[str], list[str]]:
    """(users, groups) of a task's `potentialOwner` or `humanPerformer` elements."""
    users: list[str] = []
    groups: list[str] = []
    resources = {
        r.get("id"): r.get("name") or r.get("id") for r in task.getroottree().iter(f"{{{NS['bpmn']}}}resource")
    }
    for owner in task.xpath(f"bpmn:{tag}", namespaces=NS):
        ref = owner.get("resourceRef") or "".join(owner.xpath("bpmn:resourceRef/text()", namespaces=NS)).strip()
        if ref in resources:  # the standard writes <resourceRef> as an element
            groups.append(resources[ref])
        for text in owner.xpath(".//bpmn:formalExpression/text()", namespaces=NS):
            for part in _split(text):
                match = _CALL.match(part)
                if match is None:
                    groups.append(part)
                else:
                    (users if match.group(1).lower() == "user" else groups).extend(_split(match.group(2)))
    return users, groups


def holders(task: Any, lane: str | None) -> Holders:
    """Who may do `task` (a userTask or manualTask element) by its diagram, `lane` being its lane's name."""
    camunda = f"{{{NS['camunda']}}}"
    spiff = task.xpath(
        "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='assignee']/@value",
        namespaces=NS,
    )
    performer_users, performer_groups = _expressions(task, "humanPerformer")
    owner_users, owner_groups = _expressions(task, "potentialOwner")
    assignee = task.get(f"{camunda}assignee") or (spiff[0].strip() if spiff else None)
    # a humanPerformer names the one person who does the task (as at run time, engine/task_owners.py)
    assignee = assignee or next(iter(performer_users + performer_groups), None)
    return Holders(
        assignee=assignee or None,
        users=_split(task.get(f"{camunda}candidateUsers")) + owner_users,
        groups=_split(task.get(f"{camunda}candidateGroups")) + owner_groups,
        lane=lane,
    )


def role_names(tasks: Iterable[tuple[Any, str | None]]) -> list[str]:
    """Every role name the tasks (each with its lane) queue for: what a deploy makes sure exists."""
    return sorted({name for task, lane in tasks for name in holders(task, lane).role_names})


def check_assignment(task: Any, lane: str | None, roles: RoleFacts | None) -> list[tuple[str, str]]:
    """(message, severity) findings on who may do `task`."""
    found = holders(task, lane)
    names = found.role_names
    if not names and (found.assignee or found.users or found.groups):
        return []
    if not names:
        return [
            (
                "no one may do this task: it is in no lane and names no assignee or candidate group; "
                "put it in a lane named after a role, or set candidate groups",
                "error",
            )
        ]
    out = []
    for name in names:
        key = role_key(name)
        source = f"lane '{name}'" if name == found.lane and not found.groups else f"group '{name}'"
        if not key:
            out.append((f"{source} names no role (it has no letter or digit): rename it", "error"))
        elif roles is None:
            continue
        elif key in roles.retired:
            out.append((f"{source} is role '{key}', which is retired: choose another role or bring it back", "error"))
        elif key not in roles.existing:
            out.append(
                (f"new role '{key}' ({source}), no members yet: the deploy creates it; grant it to people", "warning")
            )
        elif roles.counted and not roles.members.get(key) and key != "requester":
            out.append((f"no one holds role '{key}' ({source}) yet: grant it to people, or its tasks wait", "warning"))
    return out

"""Who a new user task goes to: assignee, candidate users, candidate groups, lane (in that order).

The declarations are read once per deployed version from the BPMN XML, whatever tool wrote it:
Camunda 7 attributes (`camunda:assignee`, `camunda:candidateUsers`, `camunda:candidateGroups`,
the same on Activiti and Flowable), Camunda 8's `zeebe:assignmentDefinition`, standard BPMN
`humanPerformer` and `potentialOwner`, and Waypoint's own `assignee` property. At run time
`resolve` turns them into a task row's owners (see docs/modelling.md, "Who a task goes to"):

1. an explicit assignee that names an active person: the task is theirs;
2. else candidate users naming active people: the task is in their queue only;
3. else the first candidate group, else the lane: the task is in that role's queue;
4. a queue nobody but the requester may work goes to the office's fallback role, with an incident.

Assignee and candidate expressions: `requester`/`initiator` (who started the request), `manager`
(the requester's manager), `${field}` or `#{field}` (a field of the request holding a username,
`${field.manager}` that person's manager), or a plain username.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import Incident, ProcessInstance, TaskCandidate, TaskRecord, User
from engine.people.roles import UNWORKABLE, Member, active_members, anyone_but_requester, role_key
from engine.xmlsafe import parse_xml

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
#: namespaces whose `assignee`/`candidateUsers`/`candidateGroups` attributes mean the same thing
VENDORS = (
    "http://camunda.org/schema/1.0/bpmn",
    "http://activiti.org/bpmn",
    "http://flowable.org/bpmn",
)
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
HUMAN_TASKS = ("userTask", "manualTask")
_EXPRESSION = re.compile(r"^\s*[$#]\{\s*(.*?)\s*\}\s*$", re.S)
_NAME = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*$")
_PERFORMER = re.compile(r"^\s*(user|group)\s*\(\s*(.*?)\s*\)\s*$")
REQUESTER_WORDS = frozenset({"requester", "initiator", "starter"})
MANAGER_WORDS = frozenset({"manager", "requester.manager", "initiator.manager", "requester_manager"})
#: the office's fallback queue (`WAYPOINT_FALLBACK_ROLE`); admins when nobody holds it either
DEFAULT_FALLBACK_ROLE = "itv_coordinator"
#: the incident kind of a task whose queue nobody could work
NO_ONE_MAY_ACT = UNWORKABLE


@dataclass(frozen=True)
class Declared:
    """What a diagram says about who does one task (expressions, not yet resolved)."""

    assignee: str | None = None
    candidate_users: tuple[str, ...] = ()
    candidate_groups: tuple[str, ...] = ()


@dataclass
class Owners:
    """A new task row's role (queue), assignee and candidate users."""

    role: str | None
    assignee_id: int | None = None
    candidate_ids: list[int] = field(default_factory=list)
    #: the role the task was meant for when it went to the fallback queue instead
    unworkable_role: str | None = None
    #: further candidate groups, tried in order when nobody may work `role`
    other_groups: list[str] = field(default_factory=list)
    #: `role`'s active holders, when routing read them (its new task's emails go to them)
    members: list[Member] | None = None


def _split(value: str | None) -> tuple[str, ...]:
    if not value or not value.strip():
        return ()
    if _EXPRESSION.match(value):
        return (value.strip(),)
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _formal(node: Any, root: Any) -> list[str]:
    """The texts a humanPerformer/potentialOwner gives: formal expressions, or its resource's name."""
    texts = [t.strip() for t in node.xpath(".//b:formalExpression/text()", namespaces={"b": BPMN}) if t.strip()]
    ref = node.get("resourceRef") or "".join(node.xpath("b:resourceRef/text()", namespaces={"b": BPMN})).strip()
    if not texts and ref:
        names = root.xpath("//b:resource[@id=$ref]/@name", namespaces={"b": BPMN}, ref=ref.split(":")[-1])
        texts = [str(names[0]) if names else ref]
    return [part for text in texts for part in _split(text)]


def _declared(node: Any, root: Any) -> Declared:
    assignee, users, groups = None, list[str](), list[str]()
    for ns in VENDORS:
        assignee = assignee or (node.get(f"{{{ns}}}assignee") or "").strip() or None
        users += _split(node.get(f"{{{ns}}}candidateUsers"))
        groups += _split(node.get(f"{{{ns}}}candidateGroups"))
    for zeebe in node.xpath(".//z:assignmentDefinition", namespaces={"z": ZEEBE}):
        assignee = assignee or (zeebe.get("assignee") or "").lstrip("=").strip() or None
        users += _split((zeebe.get("candidateUsers") or "").lstrip("="))
        groups += _split((zeebe.get("candidateGroups") or "").lstrip("="))
    for performer in node.xpath("b:humanPerformer", namespaces={"b": BPMN}):
        for text in _formal(performer, root):
            match = _PERFORMER.match(text)
            assignee = assignee or (match.group(2) if match else text)
    for owner in node.xpath("b:potentialOwner", namespaces={"b": BPMN}):
        for text in _formal(owner, root):
            match = _PERFORMER.match(text)
            (users if match and match.group(1) == "user" else groups).append(match.group(2) if match else text)
    return Declared(assignee, tuple(users), tuple(groups))


def read_declarations(files: Mapping[str, str]) -> dict[str, Declared]:
    """Every human task's declarations in these BPMN files, by element id."""
    out: dict[str, Declared] = {}
    for path, text in files.items():
        if not path.lower().endswith((".bpmn", ".xml")):
            continue
        root = parse_xml(text, path)
        for tag in HUMAN_TASKS:
            for node in root.iter(f"{{{BPMN}}}{tag}"):
                declared = _declared(node, root)
                if declared != Declared() and node.get("id"):
                    out.setdefault(node.get("id"), declared)
    return out


def declared_role_names(files: Mapping[str, str]) -> list[str]:
    """Role names the files use: lanes holding human tasks and literal candidate groups (deploy creates them)."""
    names: list[str] = []
    for path, text in files.items():
        if not path.lower().endswith((".bpmn", ".xml")):
            continue
        root = parse_xml(text, path)
        human = {n.get("id") for tag in HUMAN_TASKS for n in root.iter(f"{{{BPMN}}}{tag}")}
        for lane in root.iter(f"{{{BPMN}}}lane"):
            refs = {r.strip() for r in lane.xpath("b:flowNodeRef/text()", namespaces={"b": BPMN})}
            if refs & human and (lane.get("name") or "").strip():
                names.append(lane.get("name").strip())
    for declared in read_declarations(files).values():
        names += [g for g in declared.candidate_groups if not _EXPRESSION.match(g)]
    return list(dict.fromkeys(names))


_cache: dict[str, dict[str, Declared]] = {}
_cache_lock = threading.Lock()


def declarations(content_hash: str, files: Mapping[str, str]) -> dict[str, Declared]:
    """`read_declarations` once per deployed version (by its content hash)."""
    found = _cache.get(content_hash)
    if found is None:
        found = read_declarations(files)
        with _cache_lock:
            _cache[content_hash] = found
    return found


@dataclass
class Resolver:
    """Resolves expressions for one new task: the request's starter, its data, the people."""

    session: Session
    starter: User | None
    data: Mapping[str, Any]
    find_user_id: Callable[[str], int | None]

    def person(self, expression: str) -> int | None:
        """The active person an assignee expression names, or None."""
        match = _EXPRESSION.match(expression)
        text = (match.group(1) if match else expression).strip()
        if text in REQUESTER_WORDS:
            return self.starter.id if self.starter else None
        if text in MANAGER_WORDS:
            return self.starter.manager_id if self.starter else None
        if match and text.endswith(".manager") and _NAME.match(text):
            named = self._lookup(text.removesuffix(".manager"))
            boss = self.session.get(User, named) if named else None
            return boss.manager_id if boss else None
        if match:
            return self._lookup(text) if _NAME.match(text) else None
        # a plain name: that username, else a field of the request holding one (Camunda's plain variables)
        return self.find_user_id(text) or (self._lookup(text) if _NAME.match(text) else None)

    def _lookup(self, path: str) -> int | None:
        value: Any = self.data
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return self.find_user_id(value.strip()) if isinstance(value, str) and value.strip() else None

    def group(self, expression: str) -> str:
        match = _EXPRESSION.match(expression)
        if match and _NAME.match(match.group(1)):
            value: Any = self.data
            for part in match.group(1).split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
            return role_key(value) if isinstance(value, str) else ""
        return role_key(expression)


def resolve(declared: Declared, rule: str | None, lane: str | None, resolver: Resolver) -> Owners:
    """The owners of a new task (`rule`: Waypoint's `assignee` property), in the documented order."""
    groups = [g for g in (resolver.group(e) for e in declared.candidate_groups) if g]
    role = groups[0] if groups else role_key(lane) or None
    if rule is None and declared.assignee is None and role == "requester":
        rule = "requester"
    for expression in (rule, declared.assignee):
        if expression and expression.strip() and (person := resolver.person(expression)) is not None:
            # the requester's own step (no self-approval rule applies to a task given to them)
            requester = resolver.starter is not None and person == resolver.starter.id
            return Owners("requester" if requester else role, assignee_id=person)
    candidates = [p for p in (resolver.person(e) for e in declared.candidate_users) if p is not None]
    if candidates:
        return Owners(None, candidate_ids=list(dict.fromkeys(candidates)))
    return Owners(role, other_groups=groups[1:])


def owners_for(
    session: Session,
    parsed: Any,
    instance: ProcessInstance,
    task: Any,
    props: Mapping[str, str],
    find_user_id: Callable[[str], int | None],
    fallback_role: str,
    approval: bool = True,
) -> Owners:
    """The owners of a READY human task of `instance` (`parsed`: its version, `props`: its properties;
    `approval`: whether its requester is kept off it, engine.permissions.is_approval)."""
    declared = declarations(parsed.content_hash, parsed.files).get(task.task_spec.bpmn_id, Declared())
    starter = instance.started_by if isinstance(instance.started_by, User) else None
    resolver = Resolver(session, starter, task.data, find_user_id)
    owners = resolve(declared, props.get("assignee"), getattr(task.task_spec, "lane", None), resolver)
    return route_unworkable(session, owners, instance.started_by_id if approval else None, fallback_role)


def route_unworkable(session: Session, owners: Owners, requester_id: int | None, fallback: str) -> Owners:
    """A queue task whose role nobody but the requester holds goes to the `fallback` role's queue."""
    if owners.assignee_id is not None or owners.candidate_ids or not owners.role:
        return owners
    for group in [owners.role, *owners.other_groups]:
        members = active_members(session, group)
        if anyone_but_requester(group, members, requester_id):
            return Owners(group, members=members)
    for queue in (fallback, "admin"):
        if queue != owners.role:
            members = active_members(session, queue)
            if anyone_but_requester(queue, members, requester_id):
                return Owners(queue, unworkable_role=owners.role, members=members)
    return Owners("admin", unworkable_role=owners.role)


def record(session: Session, instance: ProcessInstance, row: TaskRecord, owners: Owners, now: datetime) -> list[dict]:
    """After a task row is added (inside the write path, the instance locked): its candidate rows,
    and the incident of a task sent to the fallback queue, with the audit event the write path
    appends for it."""
    for user_id in owners.candidate_ids:
        session.add(TaskCandidate(task=row, user_id=user_id))
    if not owners.unworkable_role:
        return []
    error = (
        f"nobody but the requester holds the role '{owners.unworkable_role}' of task '{row.name}': "
        f"it waits in the '{row.role}' queue until someone is granted the role or it is reassigned"
    )
    session.add(
        Incident(
            kind=NO_ONE_MAY_ACT,
            status="open",
            instance_id=instance.id,
            task_id=row.id,
            timer_kind=owners.unworkable_role[:20],
            attempts=0,
            error=error,
            created_at=now,
        )
    )
    details = {"kind": NO_ONE_MAY_ACT, "role": owners.unworkable_role, "queue": row.role}
    return [dict(action="incident_opened", task=row, details=details)]


def is_candidate(session: Session, task_id: str, user_id: int) -> bool:
    """Is the person one of the task's candidate users?"""
    return session.get(TaskCandidate, (task_id, user_id)) is not None


def in_queue_of(session: Session, user: User, row: TaskRecord) -> bool:
    """Is the task in one of the person's queues: their role's, or offered to them by name?"""
    return row.role in user.roles or is_candidate(session, row.id, user.id)


def candidates(session: Session, task_id: str) -> list[User]:
    """The people a task is offered to by name."""
    query = select(User).join(TaskCandidate, TaskCandidate.user_id == User.id).where(TaskCandidate.task_id == task_id)
    return list(session.scalars(query.order_by(User.username)))


def candidate_task_ids(user_id: int) -> Any:
    """SQL: ids of the tasks offered to this person by name (for queue queries)."""
    return select(TaskCandidate.task_id).where(TaskCandidate.user_id == user_id)

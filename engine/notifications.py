"""Which emails and task timers an engine action causes; reminders, escalations, digest, invitations.

`after_save` runs at the end of every engine action that saves an instance, in its transaction:
it gives each newly offered task a reminder timer (at its due time) and, when the task has an
`escalateAfter`, an escalation timer, drops the timers of tasks that closed, writes the new-task
emails to the outbox, and the calendar invitation once a trip or visit is approved. The worker
later fires the timers through `fire_reminder` / `fire_escalation` and runs `send_digests` daily.

Task properties (docs/modelling.md): `dueIn` (first reminder), `reminderEvery` (default `P1D`),
`escalateAfter` (from creation), `escalateTo` (a role: the task moves to that role's queue) or
`reassignOnEscalation="true"` (the task goes to the escalation target person).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import UUID
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from . import audit, emails, outbox
from .config import Settings
from .decisions import decision_form
from .definitions import ParsedDefinition
from .models import OutboxMessage, ProcessInstance, TaskRecord, Timer, User
from .taskindex import TASK_ESCALATION, TASK_REMINDER, duration_after, task_properties
from .tokens import mint, mint_reply
from .users import users_with_role

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn import BpmnWorkflow

    from .runtime import Engine

DEFAULT_REMINDER_EVERY = "P1D"
DIGEST_LIMIT = 50
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class MailConfig:
    """What writing emails needs: links, signing key, office time zone, reply domain, switches."""

    base_url: str = "http://127.0.0.1:5000"
    secret_key: str = "dev-insecure-change-me"
    timezone: str = "America/Toronto"
    sender: str = "waypoint@localhost"
    #: domain of reply-to-approve addresses (`r-<token>@domain`); None: no Reply-To, no mail-in
    reply_domain: str | None = None
    token_ttl: timedelta = timedelta(days=7)
    digest_hour: int = 7
    #: False: actions write no email (timers are still kept)
    enabled: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, env: Mapping[str, str] | None = None) -> MailConfig:
        """From `Settings` plus `WAYPOINT_MAIL_REPLY_DOMAIN`, `_EMAIL_TOKEN_DAYS`, `_DIGEST_HOUR`, `_EMAILS`."""
        e = os.environ if env is None else env
        return cls(
            base_url=settings.base_url,
            secret_key=settings.secret_key,
            timezone=settings.timezone,
            sender=settings.smtp.sender,
            reply_domain=e.get("WAYPOINT_MAIL_REPLY_DOMAIN") or None,
            token_ttl=timedelta(days=float(e.get("WAYPOINT_EMAIL_TOKEN_DAYS", "7"))),
            digest_hour=int(e.get("WAYPOINT_DIGEST_HOUR", "7")),
            enabled=e.get("WAYPOINT_EMAILS", "on").strip().lower() not in ("0", "off", "false", "no"),
        )

    @property
    def domain(self) -> str:
        """Host name for Message-IDs and calendar UIDs."""
        return urlsplit(self.base_url).hostname or "waypoint.invalid"


_configs: WeakKeyDictionary[Any, MailConfig] = WeakKeyDictionary()
_default: list[MailConfig] = []


def configure(engine: Engine, config: MailConfig) -> None:
    """Use `config` for the emails `engine`'s actions write (default: from the environment)."""
    _configs[engine] = config


def config_for(engine: Engine) -> MailConfig:
    """The mail configuration of `engine`."""
    found = _configs.get(engine)
    if found is None:
        if not _default:
            _default.append(MailConfig.from_settings(Settings.from_env()))
        found = _default[0]
    return found


# --- the hook in Engine._save --------------------------------------------------------------------
def after_save(
    session: Session,
    engine: Engine,
    instance: ProcessInstance,
    parsed: ParsedDefinition,
    wf: BpmnWorkflow,
    created: list[TaskRecord],
    now: datetime,
) -> None:
    """Timers and emails for what an action changed (called by `Engine._save`, same transaction)."""
    _drop_closed_task_timers(session, instance.id)
    props = {row.id: _props_from_workflow(wf, parsed, row) for row in created}
    if instance.status == "running":
        for row in created:
            schedule_task_timers(session, row, props[row.id])
    config = config_for(engine)
    if config.enabled:
        for row in created:
            for user in task_recipients(session, row):
                send_task_email(session, engine, config, "new_task", row, user, props[row.id], now)
        send_calendar_invitations(session, config, instance, now)
    session.flush()


def _props_from_workflow(wf: BpmnWorkflow, parsed: ParsedDefinition, row: TaskRecord) -> dict[str, str]:
    try:
        return task_properties(wf.get_task_from_id(UUID(row.id)))
    except Exception:  # the task is not in this workflow object: read the spec instead
        return element_properties(parsed, row.element_id)


def element_properties(parsed: ParsedDefinition, element_id: str) -> dict[str, str]:
    """The `spiffworkflow:properties` of a BPMN element in a definition (or a process it calls)."""
    for spec in (parsed.spec, *parsed.subprocess_specs.values()):
        task_spec = spec.task_specs.get(element_id)
        if task_spec is not None:
            return dict(getattr(task_spec, "extensions", {}).get("properties", {}) or {})
    return {}


def _drop_closed_task_timers(session: Session, instance_id: int) -> None:
    open_tasks = select(TaskRecord.id).where(TaskRecord.instance_id == instance_id, TaskRecord.status == "ready")
    session.execute(
        delete(Timer)
        .where(
            Timer.instance_id == instance_id,
            Timer.kind.in_((TASK_REMINDER, TASK_ESCALATION)),
            Timer.task_id.not_in(open_tasks),
        )
        .execution_options(synchronize_session=False)
    )


def _after(start: datetime, duration: str | None) -> datetime | None:
    if not duration:
        return None
    try:
        moment = duration_after(start, duration)
    except Exception:  # a malformed duration in the BPMN: no such timer rather than a failed action
        return None
    return moment if moment > start else None


def schedule_task_timers(session: Session, row: TaskRecord, props: Mapping[str, str]) -> None:
    """A reminder timer at the task's due time and, with `escalateAfter`, an escalation timer."""
    if row.due_at is not None:
        session.add(
            Timer(instance_id=row.instance_id, task_id=row.id, kind=TASK_REMINDER, due_at=row.due_at, attempts=0)
        )
    escalate_at = _after(row.created_at, props.get("escalateAfter"))
    if escalate_at is not None:
        session.add(
            Timer(instance_id=row.instance_id, task_id=row.id, kind=TASK_ESCALATION, due_at=escalate_at, attempts=0)
        )


# --- who gets what ------------------------------------------------------------------------------
def task_recipients(session: Session, row: TaskRecord) -> list[User]:
    """Who a task's emails go to: its claimant, else its assignee, else its role's members."""
    if row.claimed_by_id is not None:
        people = [session.get(User, row.claimed_by_id)]
    elif row.assignee_id is not None:
        people = [session.get(User, row.assignee_id)]
    elif row.role:
        starter = row.instance.started_by_id
        people = [u for u in users_with_role(session, row.role) if row.role == "requester" or u.id != starter]
    else:
        people = []
    return [u for u in people if u is not None and u.active and u.email]


def escalation_target(session: Session, row: TaskRecord) -> User | None:
    """The next level up: the manager of whoever holds the task, or the requester's manager for queue tasks.

    Never the requester (who may not approve their own request): then one more level up.
    """
    holder_id = row.claimed_by_id or row.assignee_id
    instance = row.instance
    base = session.get(User, holder_id) if holder_id is not None else instance.started_by
    target = base.manager if base is not None else None
    seen: set[int] = set()
    while target is not None and target.id == instance.started_by_id and row.role != "requester":
        if target.id in seen:
            return None
        seen.add(target.id)
        target = target.manager
    return target if target is not None and target.active else None


def _task_name(row: TaskRecord, props: Mapping[str, str], lang: str) -> str:
    return (props.get("name_fr") or row.name) if lang == "fr" else row.name


def task_context(
    session: Session,
    engine: Engine,
    config: MailConfig,
    row: TaskRecord,
    user: User,
    props: Mapping[str, str],
    now: datetime,
) -> tuple[dict[str, Any], str | None]:
    """Template context for an email about `row` to `user`, and its Reply-To address (or None)."""
    lang = emails.language_of(user.language)
    instance = row.instance
    parsed = engine.definition_for(session, instance)
    form = decision_form(parsed.form(row.form))
    links: dict[str, str | None] = {"approve_url": None, "reject_url": None}
    for verb in ("approve", "reject"):
        if form is not None and form.allows(verb):
            token = mint(config.secret_key, user_id=user.id, task_id=row.id, action=verb, now=now, ttl=config.token_ttl)
            links[f"{verb}_url"] = f"{config.base_url}/email-actions/{token}"
    reply_to = None
    if config.reply_domain and (links["approve_url"] or links["reject_url"]):
        local = mint_reply(config.secret_key, user_id=user.id, task_id=row.id, now=now, ttl=config.token_ttl)
        reply_to = f"{local}@{config.reply_domain}"
    starter = instance.started_by
    context = {
        "recipient_name": user.display_name,
        "task_name": _task_name(row, props, lang),
        "summary": instance.summary or "",
        "process_name": parsed.name,
        "instance_id": instance.id,
        "requester_name": starter.display_name if starter is not None else "",
        "task_url": f"{config.base_url}/tasks/{row.id}",
        "request_url": f"{config.base_url}/requests/{instance.id}",
        "due": emails.format_datetime(row.due_at, lang, config.timezone),
        "overdue": row.due_at is not None and row.due_at <= now,
        "waiting_since": emails.format_datetime(row.created_at, lang, config.timezone),
        "can_reply": reply_to is not None,
        **links,
    }
    return context, reply_to


def send_task_email(
    session: Session,
    engine: Engine,
    config: MailConfig,
    kind: str,
    row: TaskRecord,
    user: User,
    props: Mapping[str, str],
    now: datetime,
    **extra: Any,
) -> OutboxMessage:
    """Queue the `kind` email (new_task, reminder, escalation) about `row` for `user`."""
    context, reply_to = task_context(session, engine, config, row, user, props, now)
    rendered = emails.render(kind, user.language, {**context, **extra})
    return outbox.enqueue(
        session,
        now=now,
        kind=kind,
        recipient=user.email or "",
        recipient_name=user.display_name,
        user_id=user.id,
        instance_id=row.instance_id,
        task_id=row.id,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        reply_to=reply_to,
        headers={"Auto-Submitted": "auto-generated"},
        domain=config.domain,
    )


def send_plain(
    session: Session,
    config: MailConfig,
    kind: str,
    user: User,
    now: datetime,
    context: Mapping[str, Any],
    *,
    auto: str = "auto-replied",
    **row: Any,
) -> OutboxMessage:
    """Queue a `kind` email to `user` without task action links (digest, invitation, reply answers)."""
    rendered = emails.render(kind, user.language, {"recipient_name": user.display_name, **context})
    return outbox.enqueue(
        session,
        now=now,
        kind=kind,
        recipient=user.email or "",
        recipient_name=user.display_name,
        user_id=user.id,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        headers={"Auto-Submitted": auto},
        domain=config.domain,
        **row,
    )


# --- reminders and escalations (fired by the worker, under its lease) ------------------------------
def _open_task_of(session: Session, timer: Timer) -> TaskRecord | None:
    row = session.get(TaskRecord, timer.task_id, options=[joinedload(TaskRecord.instance)])
    if row is None or row.status != "ready" or row.instance.status != "running":
        return None
    return row


def next_reminder(due: datetime, every: str | None, now: datetime) -> datetime:
    """The first reminder time after `now` in the series `due`, `due + every`, ... (one per gap)."""
    step = _after(due, every or DEFAULT_REMINDER_EVERY)
    if step is None:
        step = due + timedelta(days=1)
    gap = step - due
    if step > now:
        return step
    # after downtime: skip the missed occurrences instead of sending them all
    missed = int((now - due) / gap)
    return due + gap * (missed + 1)


def fire_reminder(session: Session, engine: Engine, timer: Timer, now: datetime) -> int:
    """Send the reminder of an open task and move its timer to the next one; returns emails queued."""
    row = _open_task_of(session, timer)
    if row is None:
        session.delete(timer)
        return 0
    props = element_properties(engine.definition_for(session, row.instance), row.element_id)
    config = config_for(engine)
    sent = 0
    if config.enabled:
        for user in task_recipients(session, row):
            send_task_email(session, engine, config, "reminder", row, user, props, now)
            sent += 1
    timer.due_at = next_reminder(timer.due_at, props.get("reminderEvery"), now)
    timer.attempts, timer.last_error, timer.lease_owner, timer.lease_until = 0, None, None, None
    return sent


def escalation_reassigns(session: Session, engine: Engine, timer: Timer) -> bool:
    """True when firing this escalation changes the task's holder (so it must lock the instance)."""
    row = session.get(TaskRecord, timer.task_id)
    if row is None or row.status != "ready":
        return False
    props = element_properties(engine.definition_for(session, row.instance), row.element_id)
    return bool(props.get("escalateTo")) or props.get("reassignOnEscalation", "").strip().lower() == "true"


def fire_escalation(session: Session, engine: Engine, timer: Timer, now: datetime) -> int:
    """Notify the next level about an overdue task and reassign it if the process says so; emails queued.

    A reassignment changes the task index, so the caller must already hold the instance lock.
    """
    row = _open_task_of(session, timer)
    session.delete(timer)  # an escalation happens once
    if row is None:
        return 0
    props = element_properties(engine.definition_for(session, row.instance), row.element_id)
    target = escalation_target(session, row)
    previous = row.claimed_by or row.assignee
    role = (props.get("escalateTo") or "").strip()
    reassigned = False
    if role:
        row.role, row.assignee_id, row.claimed_by_id, reassigned = role, None, None, True
    elif props.get("reassignOnEscalation", "").strip().lower() == "true" and target is not None:
        row.assignee_id, row.claimed_by_id, reassigned = target.id, None, True
    if reassigned:
        session.flush()
        session.refresh(row)
        audit.append(
            session,
            row.instance,
            at=now,
            actor=SYSTEM_ACTOR,
            action="task_escalated",
            task_id=row.id,
            element_id=row.element_id,
            element_name=row.name,
            details={
                "from": previous.username if previous is not None else None,
                "to_role": role or None,
                "to": target.username if target is not None and not role else None,
            },
        )
        row.instance.updated_at = now
    config = config_for(engine)
    if not config.enabled:
        return 0
    people = {u.id: u for u in task_recipients(session, row)} if reassigned else {}
    if target is not None and target.email and target.active:
        people.setdefault(target.id, target)
    extra = {"escalated_from": previous.display_name if previous is not None else "", "reassigned": reassigned}
    for user in people.values():
        send_task_email(session, engine, config, "escalation", row, user, props, now, **extra)
    return len(people)


# --- the daily digest ---------------------------------------------------------------------------
def next_digest_time(now: datetime, config: MailConfig) -> datetime:
    """The next digest moment (config.digest_hour, office time) strictly after `now`."""
    local = now.astimezone(ZoneInfo(config.timezone))
    candidate = local.replace(hour=config.digest_hour, minute=0, second=0, microsecond=0)
    if candidate <= local:
        candidate = (candidate + timedelta(days=1)).replace(hour=config.digest_hour)
    return candidate.astimezone(now.tzinfo)


def send_digests(session: Session, engine: Engine, now: datetime) -> int:
    """One email per person with waiting work (unless they opted out), oldest task first; returns count."""
    config = config_for(engine)
    if not config.enabled:
        return 0
    people = {
        u.id: u
        for u in session.scalars(select(User).where(User.active.is_(True), User.digest_opt_out.is_(False)))
        if u.email
    }
    by_role: dict[str, list[int]] = {}
    for user in people.values():
        for role in user.roles:
            by_role.setdefault(role, []).append(user.id)
    waiting: dict[int, list[TaskRecord]] = {}
    tasks = session.scalars(
        select(TaskRecord)
        .where(TaskRecord.status == "ready")
        .options(joinedload(TaskRecord.instance))
        .order_by(TaskRecord.created_at, TaskRecord.id)
    )
    for row in tasks:
        holder = row.claimed_by_id or row.assignee_id
        if holder is not None:
            owners = [holder]
        else:
            starter = row.instance.started_by_id
            owners = [u for u in by_role.get(row.role or "", ()) if row.role == "requester" or u != starter]
        for user_id in owners:
            if user_id in people:
                waiting.setdefault(user_id, []).append(row)
    names: dict[tuple[int, str], dict[str, str]] = {}
    day = now.astimezone(ZoneInfo(config.timezone)).date().isoformat()
    count = 0
    for user_id, rows in waiting.items():
        key = f"digest:{user_id}:{day}"
        if outbox.is_queued(session, key):
            continue
        user = people[user_id]
        items = [_digest_item(session, engine, config, row, user, now, names) for row in rows[:DIGEST_LIMIT]]
        opt_out = mint(
            config.secret_key, user_id=user.id, task_id=None, action="digest_off", now=now, ttl=timedelta(days=30)
        )
        context = {
            "items": items,
            "total": len(rows),
            "more": max(len(rows) - DIGEST_LIMIT, 0),
            "inbox_url": f"{config.base_url}/inbox",
            "opt_out_url": f"{config.base_url}/email-actions/{opt_out}",
            "today": emails.format_date(now.astimezone(ZoneInfo(config.timezone)).date(), user.language),
        }
        send_plain(session, config, "digest", user, now, context, auto="auto-generated", dedup_key=key)
        count += 1
    return count


def _digest_item(
    session: Session,
    engine: Engine,
    config: MailConfig,
    row: TaskRecord,
    user: User,
    now: datetime,
    cache: dict[tuple[int, str], dict[str, str]],
) -> dict[str, Any]:
    key = (row.instance.definition_id, row.element_id)
    if key not in cache:
        cache[key] = element_properties(engine.definition_for(session, row.instance), row.element_id)
    lang = emails.language_of(user.language)
    return {
        "name": _task_name(row, cache[key], lang),
        "summary": row.instance.summary or "",
        "due": emails.format_datetime(row.due_at, lang, config.timezone),
        "overdue": row.due_at is not None and row.due_at <= now,
        "url": f"{config.base_url}/tasks/{row.id}",
    }


# --- calendar invitations for approved trips and visits -----------------------------------------
@dataclass(frozen=True)
class CalendarRule:
    """When an instance of a process counts as approved, and what its calendar entry says."""

    approved: Callable[[Mapping[str, Any]], bool]
    title: Callable[[Mapping[str, Any], str], str]
    location: Callable[[Mapping[str, Any]], str]


def _conference_title(data: Mapping[str, Any], lang: str) -> str:
    return ("Conférence : " if lang == "fr" else "Conference: ") + str(data.get("event_name") or "")


def _delegation_title(data: Mapping[str, Any], lang: str) -> str:
    who = ", ".join(str(p) for p in (data.get("agency"), data.get("country")) if p)
    return ("Visite de délégation : " if lang == "fr" else "Delegation visit: ") + who


def _delegation_approved(data: Mapping[str, Any]) -> bool:
    senior_ok = not data.get("needs_senior_approval") or data.get("senior_decision") == "approve"
    return data.get("host_unit_decision") == "approve" and data.get("itv_decision") == "approve" and senior_ok


#: Process key -> rule. conference_attendance is approved once its travel authority is issued;
#: delegation_visit once host unit, ITV and (when needed) the director approved.
CALENDAR_RULES: dict[str, CalendarRule] = {
    "conference_attendance": CalendarRule(
        approved=lambda d: d.get("travel_authority_status") == "issued",
        title=_conference_title,
        location=lambda d: ", ".join(str(p) for p in (d.get("city"), d.get("country")) if p),
    ),
    "delegation_visit": CalendarRule(
        approved=_delegation_approved,
        title=_delegation_title,
        location=lambda d: str(d.get("host_unit") or ""),
    ),
}


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def send_calendar_invitations(session: Session, config: MailConfig, instance: ProcessInstance, now: datetime) -> int:
    """Queue the calendar invitation of an approved trip or visit, once per instance and person."""
    rule = CALENDAR_RULES.get(instance.process_key)
    data = instance.data or {}
    if rule is None or not rule.approved(data):
        return 0
    start, end = _day(data.get("start_date")), _day(data.get("end_date"))
    user = instance.started_by
    if start is None or user is None or not user.email or not user.active:
        return 0
    key = f"calendar:{instance.id}:{user.id}"
    if outbox.is_queued(session, key):
        return 0
    end = end if end is not None and end >= start else start
    lang = emails.language_of(user.language)
    title = rule.title(data, lang)
    request_url = f"{config.base_url}/requests/{instance.id}"
    ics = emails.calendar_invitation(
        uid=f"waypoint-{instance.process_key}-{instance.id}@{config.domain}",
        title=title,
        start=start,
        end=end,
        now=now,
        organizer=config.sender,
        attendee=user.email,
        attendee_name=user.display_name,
        location=rule.location(data),
        description=instance.summary or "",
        url=request_url,
    )
    context = {
        "title": title,
        "start": emails.format_date(start, lang),
        "end": emails.format_date(end, lang),
        "location": rule.location(data),
        "summary": instance.summary or "",
        "request_url": request_url,
    }
    invitation = {"filename": "invitation.ics", "content_type": "text/calendar", "method": "REQUEST", "text": ics}
    send_plain(
        session,
        config,
        "calendar",
        user,
        now,
        context,
        auto="auto-generated",
        instance_id=instance.id,
        dedup_key=key,
        attachments=[invitation],
    )
    return 1


def with_config(engine: Engine, **changes: Any) -> MailConfig:
    """Configure `engine` with its current mail configuration changed by `changes` (tests, CLI)."""
    config = replace(config_for(engine), **changes)
    configure(engine, config)
    return config

"""Emails about tasks: mail settings, who receives a task's email, rendering with signed links, the outbox.

`MailConfig` holds what writing an email needs (links, signing key, office time zone, reply
domain); it is built once from `Settings` by the composition root. `MailContext` is what the
engine hands the mail code below it: that configuration, a spec lookup and the approval rule,
so nothing here needs the `Engine` itself.
`task_email` renders one of the task emails (new task, reminder, escalation) for one person,
with Approve/Reject links and a reply address when the task's form takes a one-word decision, as
an outbox row; `send_task_email` queues it in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session, lazyload

from engine.config import DEFAULT_SECRET_KEY, Settings
from engine.definitions import ParsedDefinition, element_properties
from engine.forms import decision_form
from engine.mail import bodies, outbox
from engine.mail.links import mint, mint_reply, reply_code
from engine.models import OutboxMessage, ProcessDefinition, ProcessInstance, TaskCandidate, TaskRecord, User, UserRole
from engine.people.roles import Member
from engine.permissions import bars_requester


@dataclass(frozen=True)
class MailConfig:
    """What writing emails needs: links, signing key, office time zone, reply domain, switches."""

    base_url: str = "http://127.0.0.1:5000"
    secret_key: str = DEFAULT_SECRET_KEY
    timezone: str = "America/Toronto"
    sender: str = "waypoint@localhost"
    #: domain of reply-to-approve addresses (`r-<token>@domain`); None: no Reply-To, no mail-in
    reply_domain: str | None = None
    token_ttl: timedelta = timedelta(days=7)
    digest_hour: int = 7
    #: False: actions write no email (timers are still kept)
    enabled: bool = True
    #: inbound MTAs whose `Authentication-Results` mail-in believes (engine/mail/sender_auth.py)
    trusted_authserv: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> MailConfig:
        """The mail part of `settings` (read once, by the composition root)."""
        return cls(
            base_url=settings.base_url,
            secret_key=settings.secret_key,
            timezone=settings.timezone,
            sender=settings.smtp.sender,
            reply_domain=settings.mail.reply_domain,
            token_ttl=timedelta(days=settings.mail.token_days),
            digest_hour=settings.mail.digest_hour,
            enabled=settings.mail.enabled,
            trusted_authserv=settings.mail.trusted_authserv,
        )

    @property
    def domain(self) -> str:
        """Host name for Message-IDs and calendar UIDs."""
        return urlsplit(self.base_url).hostname or "waypoint.invalid"


#: The parsed definition (spec and forms) of a stored process version.
SpecLookup = Callable[[Session, ProcessDefinition], ParsedDefinition]
#: Whether a request of a process (key, data) counts as approved (the process's glue says).
ApprovalRule = Callable[[str, Mapping[str, Any]], bool]


@dataclass
class MailContext:
    """What the mail code needs from the engine, built once by it (the config may be swapped by tests)."""

    config: MailConfig
    spec: SpecLookup
    is_approved: ApprovalRule

    def definition_of(self, session: Session, instance: ProcessInstance) -> ParsedDefinition:
        """The parsed definition `instance` runs on."""
        return self.spec(session, instance.definition)

    def properties(self, session: Session, row: TaskRecord) -> dict[str, str]:
        """The `spiffworkflow:properties` of the task's element."""
        return element_properties(self.definition_of(session, row.instance), row.element_id)


# --- who gets what ------------------------------------------------------------------------------
class Addressee(Protocol):
    """Whom an email goes to: a `User`, or a role `Member` read without loading one."""

    @property
    def id(self) -> int: ...
    @property
    def display_name(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def language(self) -> str: ...


#: built once: building the loader option cost more than finding the user in the session
_WITHOUT_ROLES = (lazyload(User.role_rows),)


def person(session: Session, user_id: int | None) -> User | None:
    """A user by id, without loading their roles (emails need names and addresses only)."""
    return session.get(User, user_id, options=_WITHOUT_ROLES) if user_id is not None else None


def task_recipients(
    session: Session,
    row: TaskRecord,
    candidate_ids: list[int] | None = None,
    members: list[Member] | None = None,
) -> list[Addressee]:
    """Who a task's emails go to: its claimant, else its assignee, else its role's members, else
    the people it is offered to by name. Active people with an address; a queue's by username, in
    one query. A new row's (not written yet) `candidate_ids`, or its role's active `members` when
    routing it read them (then no query)."""
    if row.claimed_by_id is not None or row.assignee_id is not None:
        user = person(session, row.claimed_by_id or row.assignee_id)  # often read already: no query
        return [user] if user is not None and user.active and user.email else []
    barred = row.instance.started_by_id if bars_requester(row) else None
    if row.role and members is not None:
        return [m for m in members if m.email and (barred is None or m.id != barred)]
    which: ColumnElement[bool]
    if row.role:
        which = User.id.in_(select(UserRole.user_id).where(UserRole.role == row.role))
        if barred is not None:
            which = and_(which, User.id != barred)
    elif candidate_ids is not None:
        which = User.id.in_(candidate_ids)
    else:
        which = User.id.in_(select(TaskCandidate.user_id).where(TaskCandidate.task_id == row.id))
    query = select(User.id, User.display_name, User.email, User.language).where(
        which, User.active.is_(True), User.email.is_not(None), User.email != ""
    )
    return [Member(*found) for found in session.execute(query.order_by(User.username))]


def task_name(row: TaskRecord, props: Mapping[str, str], lang: str) -> str:
    """The task's name in `lang` (its `name_fr` property in French), with its subject ("M2")."""
    name = (props.get("name_fr") or row.name) if lang == "fr" else row.name
    return f"{name} {row.subject}" if row.subject else name


def task_context(
    session: Session,
    mail: MailContext,
    row: TaskRecord,
    user: Addressee,
    props: Mapping[str, str],
    now: datetime,
) -> tuple[dict[str, Any], str | None]:
    """Template context for an email about `row` to `user`, and its Reply-To address (or None)."""
    config = mail.config
    lang = bodies.language_of(user.language)
    instance = row.instance
    parsed = mail.definition_of(session, instance)
    form = decision_form(parsed.form(row.form))
    links: dict[str, str | None] = {"approve_url": None, "reject_url": None}
    for verb in ("approve", "reject"):
        if form is not None and form.allows(verb):
            token = mint(config.secret_key, user_id=user.id, task_id=row.id, action=verb, now=now, ttl=config.token_ttl)
            links[f"{verb}_url"] = f"{config.base_url}/email-actions/{token}"
    reply_to, code = None, ""
    if config.reply_domain and (links["approve_url"] or links["reject_url"]):
        local = mint_reply(config.secret_key, user_id=user.id, task_id=row.id, now=now, ttl=config.token_ttl)
        reply_to, code = f"{local}@{config.reply_domain}", reply_code(config.secret_key, local)
    starter = person(session, instance.started_by_id)
    context = {
        "recipient_name": user.display_name,
        "task_name": task_name(row, props, lang),
        "summary": instance.summary_in(lang),
        "process_name": (parsed.names_fr.get(parsed.key) or parsed.name) if lang == "fr" else parsed.name,
        "instance_id": instance.id,
        "requester_name": starter.display_name if starter is not None else "",
        "task_url": f"{config.base_url}/tasks/{row.id}",
        "request_url": f"{config.base_url}/requests/{instance.id}",
        "due": bodies.format_datetime(row.due_at, lang, config.timezone),
        "overdue": row.due_at is not None and row.due_at <= now,
        "waiting_since": bodies.format_datetime(row.created_at, lang, config.timezone),
        "can_reply": reply_to is not None,
        "reply_code": code,
        **links,
    }
    return context, reply_to


def task_email(
    session: Session,
    mail: MailContext,
    kind: str,
    row: TaskRecord,
    user: Addressee,
    props: Mapping[str, str],
    now: datetime,
    **extra: Any,
) -> dict[str, Any]:
    """The outbox row of the `kind` email (new_task, reminder, escalation) about `row` for `user`,
    rendered and unwritten (`outbox.insert` writes an action's emails after its write lock)."""
    context, reply_to = task_context(session, mail, row, user, props, now)
    return email_row(
        mail.config,
        kind,
        user,
        now,
        {**context, **extra},
        auto="auto-generated",
        instance_id=row.instance_id,
        task_id=row.id,
        reply_to=reply_to,
    )


def send_task_email(
    session: Session,
    mail: MailContext,
    kind: str,
    row: TaskRecord,
    user: Addressee,
    props: Mapping[str, str],
    now: datetime,
    **extra: Any,
) -> OutboxMessage:
    """Queue the `kind` email (new_task, reminder, escalation) about `row` for `user`."""
    return outbox.add(session, task_email(session, mail, kind, row, user, props, now, **extra))


def send_plain(
    session: Session,
    config: MailConfig,
    kind: str,
    user: Addressee,
    now: datetime,
    context: Mapping[str, Any],
    *,
    auto: str = "auto-replied",
    **row: Any,
) -> OutboxMessage:
    """Queue a `kind` email to `user` (digest, invitation, reply answers; task emails add their links)."""
    return outbox.add(session, email_row(config, kind, user, now, context, auto=auto, **row))


def email_row(
    config: MailConfig,
    kind: str,
    user: Addressee,
    now: datetime,
    context: Mapping[str, Any],
    *,
    auto: str = "auto-replied",
    **row: Any,
) -> dict[str, Any]:
    """The outbox row of a `kind` email to `user`, rendered in their language (`outbox.message`)."""
    rendered = bodies.render(kind, user.language, {"recipient_name": user.display_name, **context})
    return outbox.message(
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

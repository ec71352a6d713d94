"""Emails about tasks: mail settings, who receives a task's email, rendering with signed links, the outbox.

`MailConfig` holds what writing an email needs (links, signing key, office time zone, reply
domain); `configure(engine, config)` sets it for an engine, else it comes from the environment.
`send_task_email` renders one of the task emails (new task, reminder, escalation) for one person,
with Approve/Reject links and a reply address when the task's form takes a one-word decision,
and queues it in the outbox in the caller's transaction.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from sqlalchemy.orm import Session, lazyload

from engine.config import DEFAULT_SECRET_KEY, Settings
from engine.forms import decision_form
from engine.mail import bodies, outbox
from engine.mail.links import mint, mint_reply
from engine.models import OutboxMessage, TaskRecord, User
from engine.users import users_with_role

if TYPE_CHECKING:
    from engine.runtime import Engine


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


def configure(engine: Engine, config: MailConfig) -> None:
    """Use `config` for the emails `engine`'s actions write (default: from the environment)."""
    _configs[engine] = config


def config_for(engine: Engine) -> MailConfig:
    """The mail configuration of `engine` (unless configured: read from the environment, each time)."""
    found = _configs.get(engine)
    return found if found is not None else MailConfig.from_settings(Settings.from_env())


def with_config(engine: Engine, **changes: Any) -> MailConfig:
    """Configure `engine` with its current mail configuration changed by `changes` (tests, CLI)."""
    config = replace(config_for(engine), **changes)
    configure(engine, config)
    return config


# --- who gets what ------------------------------------------------------------------------------
def person(session: Session, user_id: int | None) -> User | None:
    """A user by id, without loading their roles (emails need names and addresses only)."""
    return session.get(User, user_id, options=[lazyload(User.role_rows)]) if user_id is not None else None


def task_recipients(session: Session, row: TaskRecord) -> list[User]:
    """Who a task's emails go to: its claimant, else its assignee, else its role's members."""
    if row.claimed_by_id is not None:
        people = [person(session, row.claimed_by_id)]
    elif row.assignee_id is not None:
        people = [person(session, row.assignee_id)]
    elif row.role:
        starter = row.instance.started_by_id
        people = [u for u in users_with_role(session, row.role) if row.role == "requester" or u.id != starter]
    else:
        people = []
    return [u for u in people if u is not None and u.active and u.email]


def task_name(row: TaskRecord, props: Mapping[str, str], lang: str) -> str:
    """The task's name in `lang` (its `name_fr` property in French)."""
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
    lang = bodies.language_of(user.language)
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
    starter = person(session, instance.started_by_id)
    context = {
        "recipient_name": user.display_name,
        "task_name": task_name(row, props, lang),
        "summary": instance.summary or "",
        "process_name": parsed.name,
        "instance_id": instance.id,
        "requester_name": starter.display_name if starter is not None else "",
        "task_url": f"{config.base_url}/tasks/{row.id}",
        "request_url": f"{config.base_url}/requests/{instance.id}",
        "due": bodies.format_datetime(row.due_at, lang, config.timezone),
        "overdue": row.due_at is not None and row.due_at <= now,
        "waiting_since": bodies.format_datetime(row.created_at, lang, config.timezone),
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
    rendered = bodies.render(kind, user.language, {**context, **extra})
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
    rendered = bodies.render(kind, user.language, {"recipient_name": user.display_name, **context})
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

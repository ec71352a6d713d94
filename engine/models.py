"""The database tables, as typed SQLAlchemy 2.0 models (schema changes go through Alembic)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, hands back aware UTC: the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    language: Mapped[str] = mapped_column(String(8), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: no daily digest email for this person (the scheduler's digest job skips them)
    digest_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    manager: Mapped[User | None] = relationship(remote_side=[id])
    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def roles(self) -> set[str]:
        return {r.role for r in self.role_rows}


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class ProcessDefinition(Base):
    """One deployed version of a process key, with every file it needs."""

    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    deployed_by: Mapped[str | None] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    files: Mapped[list[DefinitionFile]] = relationship(cascade="all, delete-orphan", order_by="DefinitionFile.path")


class DefinitionFile(Base):
    __tablename__ = "definition_files"
    __table_args__ = (UniqueConstraint("definition_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    path: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)


class ProcessInstance(Base):
    """One running or finished request: its serialized workflow and bookkeeping."""

    __tablename__ = "process_instances"
    #: "Requests I started" (count of running ones, and the list) without reading each request
    __table_args__ = (Index("ix_process_instances_starter_status", "started_by_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    outcome: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(10))
    #: optimistic lock: every action bumps it with `UPDATE ... WHERE version = :v` (see runtime)
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    summary: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)
    audit_head: Mapped[str] = mapped_column(String(64), default="")
    #: what the instance waits for (timers, messages), so unchanged waits skip their re-sync
    waits: Mapped[str] = mapped_column(String(64), default="", server_default="")
    #: report facets taken from the data on every save (see glue `facets`)
    country: Mapped[str | None] = mapped_column(String(100), index=True)
    unit: Mapped[str | None] = mapped_column(String(100), index=True)
    starts_on: Mapped[date | None] = mapped_column(Date, index=True)
    ends_on: Mapped[date | None] = mapped_column(Date)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    definition: Mapped[ProcessDefinition] = relationship()
    started_by: Mapped[User | None] = relationship()


class TaskRecord(Base):
    """The task index: one row per user task the engine has offered (READY or done)."""

    __tablename__ = "tasks"
    __table_args__ = (
        # Partial indexes only: over open tasks (inbox queues) and completed ones (reports), so queues
        # stay fast with any history. No index leads with due_at alone: planners walked it hoping to
        # meet a small queue's tasks early, and read every open task when the queue was empty.
        Index(
            "ix_tasks_completed",
            "completed_at",
            postgresql_where=text("status = 'completed'"),
            sqlite_where=text("status = 'completed'"),
        ),
        # "IS NOT NULL" keeps these two out of the queue's plans (assignee and claimant both NULL)
        Index(
            "ix_tasks_open_assignee",
            "assignee_id",
            "due_at",
            postgresql_where=text("status = 'ready' AND assignee_id IS NOT NULL"),
            sqlite_where=text("status = 'ready' AND assignee_id IS NOT NULL"),
        ),
        Index(
            "ix_tasks_open_claimed",
            "claimed_by_id",
            "due_at",
            "assignee_id",
            postgresql_where=text("status = 'ready' AND claimed_by_id IS NOT NULL"),
            sqlite_where=text("status = 'ready' AND claimed_by_id IS NOT NULL"),
        ),
        Index(
            "ix_tasks_open_queue",
            "role",
            "due_at",
            "requester_id",
            postgresql_where=text("status = 'ready' AND assignee_id IS NULL AND claimed_by_id IS NULL"),
            sqlite_where=text("status = 'ready' AND assignee_id IS NULL AND claimed_by_id IS NULL"),
        ),
        Index(
            "ix_tasks_requester_open",
            "requester_id",
            postgresql_where=text("status = 'ready'"),
            sqlite_where=text("status = 'ready'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(100))
    element_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    lane: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(40))
    form: Mapped[str | None] = mapped_column(String(255))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: the instance's starter, copied so queues can leave out one's own requests without a join
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_tasks_requester_id_users"))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    instance: Mapped[ProcessInstance] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    claimed_by: Mapped[User | None] = relationship(foreign_keys=[claimed_by_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])


class Timer(Base):
    """A moment at which the engine must act on an instance (BPMN timer, reminder, ...)."""

    __tablename__ = "timers"
    __table_args__ = (UniqueConstraint("instance_id", "task_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: set when retries ran out: the scheduler leaves the row alone until an admin retries its incident
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MessageSubscription(Base):
    """A catch event waiting for a message, with the correlation values it expects."""

    __tablename__ = "message_subscriptions"
    __table_args__ = (Index("ix_msgsub_name_corr", "message_name", "correlation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(255))
    message_name: Mapped[str] = mapped_column(String(255))
    correlation: Mapped[str] = mapped_column(String(1000))
    retrieval: Mapped[str] = mapped_column(String(2000))


class AuditEvent(Base):
    """Append-only history of an instance, hash-chained per instance."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("instance_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(255))
    element_name: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class TaskDraft(Base):
    """A person's unsent form data for a task (save draft), one per task and user."""

    __tablename__ = "task_drafts"

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Attachment(Base):
    """A file attached to a request (stored outside the web root, by content hash)."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    uploaded_by: Mapped[User] = relationship()


class LoginFailure(Base):
    """A failed sign-in, kept briefly to rate-limit guessing (per username and per address)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# --- scheduler, outbox and email actions (engine/scheduler.py, engine/outbox.py) -------------------
class OutboxMessage(Base):
    """An email written in the transaction of the change that caused it; the worker sends it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    #: pending -> sent, or failed once retries ran out (an admin may put it back to pending)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    recipient: Mapped[str] = mapped_column(String(254))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    reply_to: Mapped[str | None] = mapped_column(String(254))
    #: extra headers and attachments: {"headers": {...}, "attachments": [{filename, content_type, text}]}
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    #: stable Message-ID, so a resend after a crash between SMTP and commit is recognisably the same mail
    message_id: Mapped[str] = mapped_column(String(200))
    #: "only one such email ever" (calendar invitations, daily digests); NULL for ordinary mail
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Incident(Base):
    """A timer or email that kept failing after its retries: visible to admins, who may retry it."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_status", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "timer", "email" or "job" (a periodic job)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open, retried
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    timer_id: Mapped[int | None] = mapped_column(Integer)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    #: the timer's kind, or the periodic job's name for kind "job"
    timer_kind: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))


class UsedToken(Base):
    """Ids of redeemed email-action tokens: each signed link or reply address works once."""

    __tablename__ = "used_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(20))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PeriodicJob(Base):
    """A recurring job of the worker (the daily digest): claimed by moving `next_due_at` forward."""

    __tablename__ = "periodic_jobs"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    next_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_owner: Mapped[str | None] = mapped_column(String(100))


# --- REST API: tokens, service accounts, idempotency (engine/api_tokens.py, engine/idempotency.py) ---------
class ApiToken(Base):
    """A bearer token for the JSON API: only its SHA-256 is stored; the text is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: the token's first characters (`wpt_` + 8), shown in lists so people can tell tokens apart
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()


class ServiceAccount(Base):
    """Marks a user as an integration (no password, no sign-in) and lists what it may do beyond its roles."""

    __tablename__ = "service_accounts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    #: BPMN message names this account may deliver (`*` for any)
    messages: Mapped[list] = mapped_column(JSON, default=list)
    #: may start requests on behalf of another person (who becomes the requester)
    start_on_behalf: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()


class IdempotencyRecord(Base):
    """The first successful answer to a POST sent with an `Idempotency-Key`, per user and key."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"), Index("ix_idempotency_created", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    #: SHA-256 of method, path and the canonical request body: a reused key with another request is refused
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- process designer (web/designer/, engine/drafts.py, engine/migrate.py) ------------------------
class ProcessDraft(Base):
    """A process designer's work in progress on a process: every file it needs, edited in the browser."""

    __tablename__ = "process_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), index=True)
    #: the deployed version the draft started from (None: a new process)
    base_version: Mapped[int | None] = mapped_column(Integer)
    main_file: Mapped[str] = mapped_column(String(255))
    #: {path relative to bpmn/: content}: BPMN, DMN, forms and the scenario file
    files: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeploymentLog(Base):
    """Who deployed or migrated what, and when (per-instance moves are also in `audit_events`)."""

    __tablename__ = "deployment_log"
    __table_args__ = (Index("ix_deployment_log_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))  # deploy, migrate
    version: Mapped[int | None] = mapped_column(Integer)
    definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definitions.id"))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class Delegation(Base):
    """Out of office: `delegate` works `user`'s tasks from `starts_on` to `ends_on` (inclusive)."""

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    delegate: Mapped[User] = relationship(foreign_keys=[delegate_id])


class SensitiveAccess(Base):
    """Who saw a request's personal data in clear, when, and in what capacity (append-only)."""

    __tablename__ = "sensitive_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reason: Mapped[str] = mapped_column(String(200))
    fields: Mapped[list] = mapped_column(JSON, default=list)

    user: Mapped[User] = relationship()

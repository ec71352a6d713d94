"""Process definitions and running requests: versions and files, instances, the task index, timers, message
subscriptions, the audit trail, task drafts, attachments and the personal-data access log."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.models.base import Base, UTCDateTime
from engine.models.people import User
from engine.models.states import InstanceState, compress, decompress


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
    """One running or finished request: its bookkeeping, and its serialized workflow (`state`, kept in
    `instance_states` so that listings never read it)."""

    __tablename__ = "process_instances"
    #: "Requests I started" (count of running ones, and the list) without reading each request
    __table_args__ = (Index("ix_process_instances_starter_status", "started_by_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    outcome: Mapped[str | None] = mapped_column(String(255))
    serializer_version: Mapped[str] = mapped_column(String(10))
    #: optimistic lock: every action bumps it with `UPDATE ... WHERE version = :v` (see runtime)
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    summary: Mapped[str] = mapped_column(String(500), default="")
    #: the same line in French ("" on rows saved before 0014: readers then see `summary`)
    summary_fr: Mapped[str] = mapped_column(String(500), default="", server_default="")
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
    #: read through `state`; loaded when first read, written by the save's flush after the version lock
    stored_state: Mapped[InstanceState | None] = relationship(cascade="all, delete-orphan")
    #: the open task rows, loaded only with the task an action works on (engine/core.py), never lazily
    open_tasks: Mapped[list[TaskRecord]] = relationship(
        primaryjoin="and_(TaskRecord.instance_id == ProcessInstance.id, TaskRecord.status == 'ready')",
        viewonly=True,
        lazy="raise",
    )

    @property
    def state(self) -> str:
        """The workflow's serialized state (spec-free JSON, personal fields sealed)."""
        stored = self.stored_state
        if stored is None:
            raise LookupError(f"request {self.id} has no stored state")
        return decompress(stored.state)

    @state.setter
    def state(self, value: str) -> None:
        stored, compressed = self.stored_state, compress(value)
        if stored is None:
            self.stored_state = InstanceState(state=compressed)
        else:
            stored.state = compressed

    def summary_in(self, language: str) -> str:
        """The summary line in `language` ("en" or "fr"), English where no French was saved."""
        return summary_line_in(language, self.summary, self.summary_fr)


def summary_line_in(language: str, summary: str | None, summary_fr: str | None) -> str:
    """Of a request's two summary lines, the one in `language`: the French where one was saved."""
    return (summary_fr if language == "fr" else "") or summary or ""


#: what a task's listing reads of it besides its conditions: the open-task indexes end with it (migration 0018)
_OPEN_ROW = ("created_at", "instance_id", "id")


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
        # "IS NOT NULL" keeps these two out of the queue's plans (assignee and claimant both NULL); these three
        # hold what separation of duties reads (approval, role, requester), what their WHERE reads and, last,
        # the task's row (a search walks them and reads no task from the table): SQLite reads a partial index
        # alone only when it holds every column a query names
        Index(
            "ix_tasks_open_assignee",
            "assignee_id",
            "due_at",
            "approval",
            "role",
            "requester_id",
            "status",
            *_OPEN_ROW,
            postgresql_where=text("status = 'ready' AND assignee_id IS NOT NULL"),
            sqlite_where=text("status = 'ready' AND assignee_id IS NOT NULL"),
        ),
        Index(
            "ix_tasks_open_claimed",
            "claimed_by_id",
            "due_at",
            "assignee_id",
            "approval",
            "role",
            "requester_id",
            "status",
            *_OPEN_ROW,
            postgresql_where=text("status = 'ready' AND claimed_by_id IS NOT NULL"),
            sqlite_where=text("status = 'ready' AND claimed_by_id IS NOT NULL"),
        ),
        Index(
            "ix_tasks_open_queue",
            "role",
            "due_at",
            "requester_id",
            "approval",
            "assignee_id",
            "claimed_by_id",
            "status",
            *_OPEN_ROW,
            postgresql_where=text("status = 'ready' AND assignee_id IS NULL AND claimed_by_id IS NULL"),
            sqlite_where=text("status = 'ready' AND assignee_id IS NULL AND claimed_by_id IS NULL"),
        ),
        Index(
            "ix_tasks_requester_open",
            "requester_id",
            postgresql_where=text("status = 'ready'"),
            sqlite_where=text("status = 'ready'"),
        ),
        # the API's listing order, so a page stops after its rows (migration 0015): open tasks, with
        # the columns the inbox's conditions and the digest read (checked from the index alone), and all
        Index(
            "ix_tasks_open_created",
            "created_at",
            "id",
            "assignee_id",
            "claimed_by_id",
            "role",
            "approval",
            "requester_id",
            "status",
            postgresql_where=text("status = 'ready'"),
            sqlite_where=text("status = 'ready'"),
        ),
        Index("ix_tasks_created", "created_at", "id"),
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
    #: an approval step, which its requester may not take (engine.permissions.is_approval)
    approval: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: which one of a multi-instance step this is ("M2"): the task's `subject` property, never personal
    subject: Mapped[str | None] = mapped_column(String(80))

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
    __table_args__ = (
        Index("ix_msgsub_name_corr", "message_name", "correlation"),
        Index("ix_msgsub_kind_name", "kind", "message_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(255))
    message_name: Mapped[str] = mapped_column(String(255))
    correlation: Mapped[str] = mapped_column(String(1000))
    retrieval: Mapped[str] = mapped_column(String(2000))
    #: "message", or "signal" (a signal catch event: `message_name` is the signal's name, no correlation)
    kind: Mapped[str] = mapped_column(String(10), default="message", server_default="message")


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

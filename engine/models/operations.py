"""The worker's and the designer's tables: outbox, incidents, used email tokens, periodic jobs,
idempotency records, process drafts and the deployment log; and the sign-in session generations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, UTCDateTime


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


# --- REST API: tokens, service accounts, idempotency (engine/people/api_tokens.py, engine/idempotency.py) ---------


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


# --- process designer (web/designer/, engine/designer/) -----------------------------------------


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


class SessionGeneration(Base):
    """A person's session generation: a session cookie names the one it began in, and a bump (sign-out,
    new password, a role taken away) ends every older session at once (engine/people/sessions.py)."""

    __tablename__ = "session_generations"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)

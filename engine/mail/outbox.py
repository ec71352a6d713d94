"""The transactional outbox: emails are rows written with the change that causes them, sent later.

`enqueue` adds a row inside the caller's transaction (`insert` writes several, built by `message`
before an action's write lock), so an email exists if and only if its cause committed.
`OutboxSender.deliver_once` (run by the worker) leases a batch of due rows, sends each over SMTP
(`smtplib`, SSL or STARTTLS and login per `SmtpSettings`) outside any database transaction, and
marks it sent. A failure is retried with exponential backoff (`backoff`); after `max_attempts`, or
at once on a permanent 5xx refusal, the row becomes `failed` and an incident for admins. The one
window left open by SMTP itself: a crash after the server accepted a message but before the row is
marked sent resends it once the lease expires; the stable Message-ID lets mail clients recognise that copy.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy import insert as sa_insert

from engine import leases
from engine.clock import Clock
from engine.config import SmtpSettings
from engine.db import Database
from engine.errors import DatabaseUnavailable, InvalidState, NotFound
from engine.models import OutboxMessage

log = logging.getLogger("waypoint.outbox")

PENDING, SENT, FAILED = "pending", "sent", "failed"
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
MAX_ATTEMPTS = 12  # waits of 30 s, 1, 2, 4, 8, 16, 32 min, then hourly: about 5 hours of retries


def backoff(attempts: int) -> timedelta:
    """Wait before retry number `attempts` + 1: 30 s doubling per attempt, at most one hour."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


def enqueue(session: Any, **email: Any) -> OutboxMessage:
    """Add one email (the keywords of `message`) to the outbox in the caller's transaction."""
    return add(session, message(**email))


def add(session: Any, values: dict[str, Any]) -> OutboxMessage:
    """Add one `message` row to the outbox in the caller's transaction (written at its flush)."""
    row = OutboxMessage(**values)
    session.add(row)
    return row


def insert(session: Any, messages: list[dict[str, Any]]) -> None:
    """Write `message` rows in one statement (an action's emails, rendered before its write lock)."""
    if messages:
        session.execute(sa_insert(OutboxMessage.table()).inline(), messages)  # no id read back


def message(
    *,
    now: datetime,
    kind: str,
    recipient: str,
    subject: str,
    text: str,
    html: str | None = None,
    recipient_name: str | None = None,
    user_id: int | None = None,
    instance_id: int | None = None,
    task_id: str | None = None,
    reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[dict[str, str]] | None = None,
    dedup_key: str | None = None,
    domain: str = "waypoint.invalid",
) -> dict[str, Any]:
    """The column values of one pending email (unwritten: `enqueue` or `insert` writes it)."""
    return dict(
        kind=kind,
        status=PENDING,
        recipient=recipient,
        recipient_name=recipient_name,
        user_id=user_id,
        instance_id=instance_id,
        task_id=task_id,
        subject=subject[:300],
        body_text=text,
        body_html=html,
        reply_to=reply_to,
        extra={"headers": headers or {}, "attachments": attachments or []},
        message_id=f"<{uuid.uuid4().hex}.{kind}@{domain}>",
        dedup_key=dedup_key,
        created_at=now,
        next_attempt_at=now,
        attempts=0,
    )


def is_queued(session: Any, dedup_key: str) -> bool:
    """True when an email with this dedup key was ever queued."""
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedup_key == dedup_key)) is not None


def build_message(row: OutboxMessage, sender: str) -> EmailMessage:
    """The MIME message of an outbox row: text, HTML alternative, attachments, headers."""
    msg = EmailMessage()
    msg["Subject"] = row.subject
    msg["From"] = sender
    msg["To"] = Address(display_name=row.recipient_name or "", addr_spec=row.recipient)
    msg["Date"] = format_datetime(row.created_at)
    msg["Message-ID"] = row.message_id
    if row.reply_to:
        msg["Reply-To"] = row.reply_to
    extra = row.extra or {}
    for name, value in (extra.get("headers") or {}).items():
        msg[name] = value
    msg.set_content(row.body_text)
    if row.body_html:
        msg.add_alternative(row.body_html, subtype="html")
    for item in extra.get("attachments") or []:
        maintype, _, subtype = item.get("content_type", "text/plain").partition("/")
        params = {"method": item["method"]} if item.get("method") else None
        if maintype != "text":
            raise ValueError(f"unsupported attachment type {item.get('content_type')}")
        msg.add_attachment(item["text"], subtype=subtype or "plain", filename=item["filename"], params=params)
    return msg


class SmtpTransport:
    """One SMTP connection for a batch of messages (SSL or STARTTLS, login when configured)."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self.connection: smtplib.SMTP | None = None

    def open(self) -> None:
        """Connect, secure and log in; raises smtplib/OSError errors as they come."""
        s = self.settings
        context = ssl.create_default_context()
        if s.ssl:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout, context=context, local_hostname="localhost"
            )
        else:
            connection = smtplib.SMTP(s.host, s.port, timeout=s.timeout, local_hostname="localhost")
        try:
            if s.starttls and not s.ssl:
                connection.starttls(context=context)
            if s.username:
                connection.login(s.username, s.password or "")
        except BaseException:
            connection.close()
            raise
        self.connection = connection

    def send(self, message: EmailMessage, recipient: str) -> None:
        """Send one message to `recipient`."""
        assert self.connection is not None
        self.connection.send_message(message, from_addr=parseaddr(self.settings.sender)[1], to_addrs=[recipient])

    def close(self) -> None:
        """Say QUIT (or just drop a broken connection)."""
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                self.connection.close()
            self.connection = None


@dataclass
class DeliveryReport:
    """What one `deliver_once` did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0


def _permanent(exc: BaseException) -> bool:
    """A 5xx answer about this message (not the connection): retrying will not help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and code >= 500 and not isinstance(exc, smtplib.SMTPServerDisconnected)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


class OutboxSender:
    """Delivers due outbox rows over SMTP under leases; several may run at once."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        smtp: SmtpSettings,
        owner: str,
        *,
        batch: int = 20,
        lease: timedelta = timedelta(seconds=60),
        max_attempts: int = MAX_ATTEMPTS,
        transport: Callable[[SmtpSettings], Any] = SmtpTransport,
        count_failure: Callable[..., bool],
    ):
        """`count_failure(session, row, error, now, *, max_attempts, permanent, incident)` counts a
        failed attempt and, when the email gives up, opens its incident (the worker's
        engine/worker/incidents.py, shared with timers; passed in because mail sits below the worker)."""
        self.db, self.clock, self.smtp, self.owner = db, clock, smtp, owner
        # one message's SMTP dialogue (a handful of operations, each up to smtp.timeout) must end
        # inside its lease, or another worker could take the row over and send it twice
        lease = max(lease, timedelta(seconds=5 * smtp.timeout))
        self.batch, self.lease, self.max_attempts, self.transport = batch, lease, max_attempts, transport
        self.count_failure = count_failure

    def claim(self) -> list[int]:
        """Lease up to `batch` due pending rows, oldest first; return their ids."""
        now = self.clock.now()
        with self.db.transaction() as session:
            rows = leases.claim(
                session,
                OutboxMessage,
                due=[OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now],
                order_by=[OutboxMessage.next_attempt_at, OutboxMessage.id],
                owner=self.owner,
                now=now,
                lease=self.lease,
                limit=self.batch,
                returning=[OutboxMessage.id],
            )
        return sorted(r.id for r in rows)

    def deliver_once(self) -> DeliveryReport:
        """Claim one batch and try to send each message once."""
        report = DeliveryReport()
        ids = self.claim()
        if not ids:
            return report
        transport = self.transport(self.smtp)
        try:
            transport.open()
        except Exception as exc:  # server down, TLS or login failure: every claimed row waits
            log.warning("SMTP connection to %s:%s failed: %s", self.smtp.host, self.smtp.port, exc)
            for row_id in ids:
                self._failed(row_id, exc, report, permanent=False)
            return report
        try:
            for position, row_id in enumerate(ids):
                message = self._prepare(row_id)
                if message is None:
                    continue
                try:
                    transport.send(message[0], message[1])
                except Exception as exc:
                    # SMTPException is an OSError: tell a refusal of this message from a lost connection
                    lost = isinstance(exc, smtplib.SMTPServerDisconnected) or not isinstance(exc, smtplib.SMTPException)
                    self._failed(row_id, exc, report, permanent=not lost and _permanent(exc))
                    if lost:
                        self._release(ids[position + 1 :])  # the rest wait for the next round
                        break
                else:
                    self._sent(row_id, report)
        finally:
            try:
                transport.close()
            except Exception:  # closing a broken connection must not hide what happened
                log.debug("closing the SMTP connection failed", exc_info=True)
        return report

    def _prepare(self, row_id: int) -> tuple[EmailMessage, str] | None:
        """Renew the lease (still ours and pending?) and build the message."""
        now = self.clock.now()
        with self.db.transaction() as session:
            if not leases.hold(
                session, OutboxMessage, row_id, self.owner, now + self.lease, OutboxMessage.status == PENDING
            ):
                return None
            row = session.get(OutboxMessage, row_id)
            assert row is not None
            try:
                return build_message(row, self.smtp.sender), row.recipient
            except Exception as exc:  # a row that cannot become a message will never send
                self._mark_failure(session, row, exc, now, permanent=True)
                return None

    def _sent(self, row_id: int, report: DeliveryReport) -> None:
        now = self.clock.now()
        try:
            with self.db.transaction() as session:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row_id, OutboxMessage.lease_owner == self.owner)
                    .values(
                        status=SENT,
                        sent_at=now,
                        attempts=OutboxMessage.attempts + 1,
                        last_error=None,
                        lease_owner=None,
                        lease_until=None,
                    )
                    .execution_options(synchronize_session=False)
                )
        except DatabaseUnavailable:
            log.exception("message %s was sent but could not be marked sent", row_id)
            raise
        report.sent += 1

    def _failed(self, row_id: int, exc: BaseException, report: DeliveryReport, *, permanent: bool) -> None:
        now = self.clock.now()
        with self.db.transaction() as session:
            row = session.get(OutboxMessage, row_id)
            if row is None or row.lease_owner != self.owner or row.status != PENDING:
                return
            failed = self._mark_failure(session, row, exc, now, permanent=permanent)
        if failed:
            report.failed += 1
        else:
            report.retrying += 1

    def _mark_failure(
        self, session: Any, row: OutboxMessage, exc: BaseException, now: datetime, *, permanent: bool
    ) -> bool:
        error = _describe(exc)
        gave_up = self.count_failure(
            session,
            row,
            error,
            now,
            max_attempts=self.max_attempts,
            permanent=permanent,
            incident=dict(
                kind="email", outbox_id=row.id, error=f"email to {row.recipient} ({row.kind}) failed: {error}"
            ),
        )
        if gave_up:
            row.status = FAILED
            log.error("email %s to %s failed for good: %s", row.id, row.recipient, error)
            return True
        row.next_attempt_at = now + backoff(row.attempts)
        return False

    def _release(self, ids: list[int]) -> None:
        if not ids:
            return
        with self.db.transaction() as session:
            for row_id in ids:
                leases.release(session, OutboxMessage, row_id, self.owner)


def retry(session: Any, outbox_id: int, now: datetime) -> OutboxMessage:
    """Put a failed email back in the queue with fresh attempts (admin action)."""
    row = session.get(OutboxMessage, outbox_id)
    if row is None:
        raise NotFound("no_such_outbox_message", id=outbox_id)
    if row.status != FAILED:
        raise InvalidState("outbox_not_failed", id=outbox_id, status=row.status)
    row.status, row.attempts, row.next_attempt_at = PENDING, 0, now
    row.lease_owner, row.lease_until = None, None
    return row


def latest(session: Any, limit: int, status: str | None = None) -> list[OutboxMessage]:
    """The newest `limit` emails (only those in `status` if given), newest first."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query))


def overview(session: Any, limit: int = 200) -> tuple[dict[str, int], list[OutboxMessage]]:
    """(count per status, the latest `limit` rows) for the admins' outbox page."""
    counts = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    return counts, latest(session, limit)

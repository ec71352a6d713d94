"""Reply-to-approve: a small inbound SMTP endpoint (`waypoint mail-in`, aiosmtpd).

A notification's Reply-To is `r-<signed token>@<reply domain>` (engine/mail/links.py). A reply whose
first line is `APPROVE [comment]` or `REJECT [comment]` (French: APPROUVER / REJETER) completes
the task as the token's user, through the same path as an email link (engine/one_click.py), and
the audit event records the channel (`reply`) and the sender evidence.

What comes back:

* an address that is not a valid, unexpired token, or a sender (envelope `MAIL FROM` or `From:`)
  that is not the token's user: refused during the SMTP dialogue (550), so the sending server
  returns a polite bounce and nobody else's address receives anything from us;
* a reply nobody vouches for (neither a trusted MTA's DMARC/DKIM pass nor the notification's
  quoted reply code, engine/mail/sender_auth.py): refused the same way (550 5.7.1);
* automatic replies (Auto-Submitted, out-of-office, bulk): accepted and ignored, never answered;
* a genuine reply that cannot be acted on (unrecognised first line, a comment the form
  requires, a task already done, a token already used): nothing changes, and a polite answer
  explaining the format goes to the user's registered address through the outbox;
* a decision: recorded, and a short confirmation goes the same way.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from html import unescape
from typing import Any

from engine.db import Database
from engine.definitions import element_properties
from engine.errors import ValidationFailed, WaypointError
from engine.mail.compose import MailConfig, send_plain, task_name
from engine.mail.links import ActionToken, TokenRejected, TokenUsed, reply_code, verify_reply
from engine.mail.sender_auth import mta_verdict, quotes_code
from engine.models import TaskRecord, User
from engine.one_click import NeedsTaskPage, decide, load_grant
from engine.runtime import Engine

log = logging.getLogger("waypoint.mailin")

MAX_MESSAGE = 1024 * 1024
_COMMAND = re.compile(
    r"^\s*\**(?P<verb>approve|approved|approuver|approuvé|approuve|reject|rejected|rejeter|rejeté|rejette|refuser)\b"
    r"(?!\s*\?)[\s:,.;!*-]*(?P<comment>.*)$",  # "Approve?" is a question, not a decision
    re.IGNORECASE,
)
_VERBS = {
    "approve": "approve",
    "approved": "approve",
    "approuver": "approve",
    "approuvé": "approve",
    "approuve": "approve",
    "reject": "reject",
    "rejected": "reject",
    "rejeter": "reject",
    "rejeté": "reject",
    "rejette": "reject",
    "refuser": "reject",
}
_AUTOMATIC = ("auto-generated", "auto-replied", "auto-notified")


@dataclass(frozen=True)
class Outcome:
    """The SMTP answer to give and what happened."""

    status: str
    action: str  # recorded, bounced, ignored, refused


def parse_command(text: str) -> tuple[str, str] | None:
    """(verb, comment) from the first non-empty, unquoted line of a reply, or None."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(">"):
            return None
        match = _COMMAND.match(stripped)
        if match is None:
            return None
        return _VERBS[match["verb"].lower()], match["comment"].strip()
    return None


def body_text(message: EmailMessage) -> str:
    """The plain-text body of a message (HTML with its tags removed when there is no text part)."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if part.get_content_subtype() == "html":
        content = re.sub(r"(?is)<(script|style).*?</\1>", "", content)
        content = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", content)
        content = unescape(re.sub(r"<[^>]+>", "", content))
    return str(content)


def is_automatic(message: EmailMessage) -> bool:
    """True for auto-replies and bulk mail, which must never be answered (no mail loops)."""
    submitted = str(message.get("Auto-Submitted", "")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        submitted.startswith(_AUTOMATIC)
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or message.get("X-Autoreply") is not None
        or message.get("X-Autorespond") is not None
    )


class MailIn:
    """Checks recipients and acts on replies; `handler()` adapts it to aiosmtpd."""

    def __init__(self, db: Database, engine: Engine, config: MailConfig | None = None):
        self.db, self.engine = db, engine
        self.config = config or engine.mail.config

    # --- SMTP dialogue --------------------------------------------------------------------------
    def check_recipient(self, address: str) -> str | None:
        """None when `address` is a valid reply address, else the SMTP refusal to send."""
        local = parseaddr(address)[1].rpartition("@")[0]
        try:
            verify_reply(self.config.secret_key, local, self.engine.clock.now())
        except TokenRejected as exc:
            return f"550 5.1.1 {exc}"
        return None

    def receive(self, mail_from: str, recipients: list[str], data: bytes) -> Outcome:
        """Act on one received message addressed to `recipients` (checked reply addresses)."""
        if len(data) > MAX_MESSAGE:
            return Outcome("552 5.3.4 message too large", "refused")
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        if is_automatic(message):
            return Outcome("250 OK: automatic message ignored", "ignored")
        if len(recipients) != 1:
            return Outcome("550 5.5.3 reply to one notification at a time", "refused")
        now = self.engine.clock.now()
        local = parseaddr(recipients[0])[1].rpartition("@")[0]
        try:
            grant = verify_reply(self.config.secret_key, local, now)
        except TokenRejected as exc:
            return Outcome(f"550 5.1.1 {exc}", "refused")
        header_from = parseaddr(str(message.get("From", "")))[1].lower()
        envelope = parseaddr(mail_from or "")[1].lower()
        with self.db.reading() as session:
            user = session.get(User, grant.user_id)
            email = (user.email or "").lower() if user is not None else ""
        if not email or header_from != email or envelope != email:
            return Outcome("550 5.7.1 this reply address belongs to someone else", "refused")
        text = body_text(message)
        evidence = self.evidence(message, email, local, text)
        if evidence is None:
            return Outcome("550 5.7.1 reply not authenticated: reply to the notification keeping it quoted", "refused")
        command = parse_command(text)
        if command is None:
            self._answer(grant, now, reason="bounce_unrecognised")
            return Outcome("250 OK: not understood, instructions sent", "bounced")
        verb, comment = command
        sender = {"envelope": envelope, "from": header_from, "evidence": evidence}
        try:
            with self.db.transaction() as session:
                decide(session, self.engine, grant, verb, comment, now, sender=sender)
        except (ValidationFailed, NeedsTaskPage, TokenUsed, WaypointError) as exc:
            self._answer(grant, now, reason="bounce_error", error=exc)
            return Outcome("250 OK: not recorded, explanation sent", "bounced")
        self._answer(grant, now, reason="done", verb=verb, comment=comment)
        return Outcome(f"250 OK: {verb} recorded", "recorded")

    def evidence(self, message: EmailMessage, email: str, local: str, text: str) -> str | None:
        """What vouches for the sender: a trusted MTA's verdict, or the quoted reply code; None: nothing."""
        verdict = mta_verdict(message, email.rpartition("@")[2], self.config.trusted_authserv)
        if verdict is not None:
            return verdict
        if quotes_code(text, reply_code(self.config.secret_key, local)):
            return "reply code quoted"
        return None

    # --- answers, through the outbox ------------------------------------------------------------
    def _answer(self, grant: ActionToken, now: Any, *, reason: str, **details: Any) -> None:
        config = self.config
        with self.db.transaction() as session:
            try:
                user, row = load_grant(session, grant)
            except WaypointError:
                return
            fr = user.language == "fr"
            base = {"task_url": f"{config.base_url}/tasks/{row.id}"}
            if reason == "done":
                verdict = {"approve": "approuvé" if fr else "approved", "reject": "rejeté" if fr else "rejected"}
                props = element_properties(self.engine.definition_for(session, row.instance), row.element_id)
                context = {
                    "verdict": verdict[details["verb"]],
                    "task_name": task_name(row, props, "fr" if fr else "en"),
                    "comment": details["comment"],
                    "summary": row.instance.summary_in(user.language),
                    "request_url": f"{config.base_url}/requests/{row.instance_id}",
                }
                send_plain(
                    session, config, "reply_done", user, now, context, instance_id=row.instance_id, task_id=row.id
                )
                return
            context = {**base, "reason": _reason(details.get("error"), row, fr)}
            send_plain(session, config, "reply_bounce", user, now, context, instance_id=row.instance_id, task_id=row.id)

    # --- aiosmtpd ---------------------------------------------------------------------------------
    def handler(self) -> Any:
        """An aiosmtpd handler object running this endpoint (database work off the event loop)."""
        mailin = self

        class Handler:
            async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
                refusal = await asyncio.get_running_loop().run_in_executor(None, mailin.check_recipient, address)
                if refusal is not None:
                    return refusal
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                data = envelope.original_content or envelope.content
                raw = data if isinstance(data, bytes) else str(data).encode()
                try:
                    outcome = await asyncio.get_running_loop().run_in_executor(
                        None, mailin.receive, envelope.mail_from, list(envelope.rcpt_tos), raw
                    )
                except Exception:  # never leave the sender without an answer
                    log.exception("reply processing failed")
                    return "451 4.3.0 temporary problem, try again later"
                log.info("reply from %s: %s", envelope.mail_from, outcome.action)
                return outcome.status

        return Handler()


def _reason(error: BaseException | None, row: TaskRecord, fr: bool) -> str:
    if error is None:
        if fr:
            return "la première ligne de votre réponse n'est ni APPROUVER ni REJETER"
        return "the first line of your reply is neither APPROVE nor REJECT"
    if isinstance(error, TokenUsed):
        return "cette adresse de réponse a déjà servi" if fr else "this reply address was already used"
    if isinstance(error, NeedsTaskPage):
        return (
            "cette tâche demande plus qu'une décision : ouvrez-la dans Waypoint"
            if fr
            else "this task needs more than a decision: please open it in Waypoint"
        )
    if fr:  # the details are worded in English: the task page gives them in French
        if isinstance(error, ValidationFailed):
            return "le formulaire a refusé la réponse : ouvrez la tâche dans Waypoint pour voir quoi corriger"
        return "Waypoint a refusé la réponse : ouvrez la tâche dans Waypoint pour en voir la raison"
    if isinstance(error, ValidationFailed):
        return f"the form refused the reply ({'; '.join(m for _, m in error.errors) or error})"
    return f"Waypoint refused the reply ({error})"


def serve(db: Database, engine: Engine, host: str, port: int, config: MailConfig | None = None) -> Any:
    """Start the endpoint on `host:port` in a background thread; returns the aiosmtpd Controller."""
    from aiosmtpd.controller import Controller

    controller = Controller(MailIn(db, engine, config).handler(), hostname=host, port=port, data_size_limit=MAX_MESSAGE)
    controller.start()
    return controller

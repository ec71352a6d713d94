"""The daily digest: one email per person with waiting work, oldest task first (opt-out per user).

The worker runs `send_digests` when the `daily_digest` row of `periodic_jobs` is due (at
`digest_hour`, office time) and moves that row to the next day in the same transaction, so one
worker sends each day's digests, once, however many run; a dedup key per person and day guards
the rest.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from engine.definitions import element_properties
from engine.mail import bodies, outbox
from engine.mail.compose import MailContext, send_plain
from engine.mail.links import ActionToken, TokenRejected, is_used, mint, redeem
from engine.models import ProcessDefinition, ProcessInstance, TaskRecord, User
from engine.permissions import bars_requester

DIGEST_LIMIT = 50


def send_digests(session: Session, mail: MailContext, now: datetime) -> int:
    """One email per person with waiting work (unless they opted out), oldest task first; returns count."""
    config = mail.config
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
    # plain rows, oldest first: only each person's first DIGEST_LIMIT tasks are kept, the rest are counted
    oldest: dict[int, list[Row]] = {}
    totals: dict[int, int] = {}
    for row in session.execute(_WAITING):
        holder = row.claimed_by_id or row.assignee_id
        if holder is not None:
            owners: Any = (holder,)
        else:
            bars = bars_requester(row)  # type: ignore[arg-type]  # a row with the columns it reads
            owners = [u for u in by_role.get(row.role or "", ()) if not bars or u != row.started_by_id]
        for user_id in owners:
            if user_id in people:
                totals[user_id] = totals.get(user_id, 0) + 1
                kept = oldest.setdefault(user_id, [])
                if len(kept) < DIGEST_LIMIT:
                    kept.append(row)
    names: dict[tuple[int, str], dict[str, str]] = {}
    local_today = now.astimezone(ZoneInfo(config.timezone)).date()
    count = 0
    for user_id, rows in oldest.items():
        key = f"digest:{user_id}:{local_today.isoformat()}"
        if outbox.is_queued(session, key):
            continue
        user = people[user_id]
        opt_out = mint(
            config.secret_key, user_id=user.id, task_id=None, action="digest_off", now=now, ttl=timedelta(days=30)
        )
        context = {
            "items": [_digest_item(session, mail, row, user, now, names) for row in rows],
            "total": totals[user_id],
            "more": totals[user_id] - len(rows),
            "inbox_url": f"{config.base_url}/inbox",
            "opt_out_url": f"{config.base_url}/email-actions/{opt_out}",
            "today": bodies.format_date(local_today, user.language),
        }
        send_plain(session, config, "digest", user, now, context, auto="auto-generated", dedup_key=key)
        count += 1
    return count


_WAITING = (
    select(
        TaskRecord.id,
        TaskRecord.name,
        TaskRecord.element_id,
        TaskRecord.role,
        TaskRecord.approval,
        TaskRecord.subject,
        TaskRecord.assignee_id,
        TaskRecord.claimed_by_id,
        TaskRecord.due_at,
        ProcessInstance.summary,
        ProcessInstance.started_by_id,
        ProcessInstance.definition_id,
    )
    .join(ProcessInstance, ProcessInstance.id == TaskRecord.instance_id)
    .where(TaskRecord.status == "ready")
    .order_by(TaskRecord.created_at, TaskRecord.id)
)


def _digest_item(
    session: Session,
    mail: MailContext,
    row: Row,
    user: User,
    now: datetime,
    cache: dict[tuple[int, str], dict[str, str]],
) -> dict[str, Any]:
    key = (row.definition_id, row.element_id)
    if key not in cache:
        definition = session.get(ProcessDefinition, row.definition_id)
        cache[key] = element_properties(mail.spec(session, definition), row.element_id) if definition else {}
    lang = bodies.language_of(user.language)
    return {
        "name": (cache[key].get("name_fr") or row.name) if lang == "fr" else row.name,
        "summary": row.summary or "",
        "due": bodies.format_datetime(row.due_at, lang, mail.config.timezone),
        "overdue": row.due_at is not None and row.due_at <= now,
        "url": f"{mail.config.base_url}/tasks/{row.id}",
    }


def opt_out(session: Session, grant: ActionToken, now: datetime) -> User:
    """Stop the daily digest for the user of a `digest_off` token (idempotent; the token is used once)."""
    user = session.get(User, grant.user_id)
    if user is None or grant.action != "digest_off":
        raise TokenRejected("link_invalid")
    if not is_used(session, grant):
        redeem(session, grant, now)
    user.digest_opt_out = True
    return user

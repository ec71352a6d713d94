"""Idempotency keys: a retried POST makes one transition and gets the first answer back.

The record is written in the same transaction as the action it guards, and first: `reserve`
inserts the (user, key) row before the action runs, `finish` fills in the answer before the
commit. So a key is either unused (nothing happened) or holds the answer of the one action that
committed. A concurrent retry with the same key queues on that row's unique index (PostgreSQL)
or on the write lock (SQLite), then fails to insert (`KeyInFlight`) and replays the committed
answer. Failed actions roll back with their record, so retrying them runs them again, which
is safe since they changed nothing.

A key is scoped to its user, kept for `RETENTION`, and bound to one request: reusing it for a
different method, path or body is refused (`KeyReused`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Conflict, WaypointError
from engine.models import IdempotencyRecord

RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 200


class KeyReused(WaypointError):
    """The key was already used for a different request."""

    status = 422
    kind = "idempotency_key_reused"


class KeyInFlight(Conflict):
    """Another request with the same key committed first (replay its answer)."""

    kind = "idempotency_key_in_flight"


def fingerprint(method: str, path: str, body: Any) -> str:
    """SHA-256 over method, path and a canonical form of the body."""
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def lookup(session: Session, user_id: int, key: str, now: datetime) -> IdempotencyRecord | None:
    """The live record for (user, key), if any."""
    record = session.scalars(
        select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
    ).first()
    if record is not None and record.created_at < now - RETENTION:
        return None
    return record


def check_same_request(record: IdempotencyRecord, method: str, path: str, digest: str) -> None:
    """:raise KeyReused: when `record` was made by a different request."""
    if (record.method, record.path, record.fingerprint) != (method, path, digest):
        raise KeyReused("idempotency_key_reused")


def reserve(
    session: Session, user_id: int, key: str, method: str, path: str, digest: str, now: datetime
) -> IdempotencyRecord:
    """Claim the key for this transaction (its first write), after dropping the user's expired keys.

    `path` is at most 500 characters (the caller cuts it, for `check_same_request` too).

    :raise KeyInFlight: another transaction holds or committed the key.
    """
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.created_at < now - RETENTION
        )
    )
    record = IdempotencyRecord(
        user_id=user_id, key=key, method=method, path=path, fingerprint=digest, headers={}, created_at=now
    )
    session.add(record)
    try:
        session.flush()
    except IntegrityError as exc:
        raise KeyInFlight("idempotency_key_in_flight") from exc
    return record


def finish(record: IdempotencyRecord, status: int, body: str, headers: dict[str, str]) -> None:
    """Store the answer to replay."""
    record.status, record.body, record.headers = status, body, dict(headers)

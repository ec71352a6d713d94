"""Signed, expiring, single-use tokens that let one email recipient act on one task.

Two shapes, one meaning (user + task + action + expiry):

* link tokens (`mint`/`verify`), carried in approve/reject URLs: itsdangerous-signed JSON with
  a random id (`jti`) and an explicit expiry checked against the injected clock;
* reply tokens (`mint_reply`/`verify_reply`), carried in the Reply-To address of a notification:
  a compact HMAC-SHA256 blob in lower-case base32 (56 characters) so that the whole local part
  stays under SMTP's 64-octet limit and survives servers that fold case.

Verifying proves who sent the token and that it has not expired; `redeem` then records its id
in `used_tokens` inside the caller's transaction, so a token works once: a replay, or a second
click racing the first, fails on the primary key and the caller's rollback undoes everything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Conflict, PermissionDenied
from engine.models import UsedToken

LINK_SALT = "waypoint.email-action"
REPLY_SALT = b"waypoint.email-reply"
REPLY_PREFIX = "r-"
ACTIONS = frozenset({"approve", "reject", "reply", "digest_off"})
_MAC_BYTES = 11  # 24 payload bytes + 11 = 35 bytes = exactly 56 base32 characters


class TokenRejected(PermissionDenied):
    """The token is malformed, forged, or for another task."""

    kind = "token_rejected"


class TokenExpired(TokenRejected):
    """The token was genuine but is past its expiry."""

    kind = "token_expired"


class TokenUsed(Conflict):
    """The token was already redeemed once."""

    kind = "token_used"


@dataclass(frozen=True)
class ActionToken:
    """What a verified token grants: `user_id` may do `action` on `task_id` until `expires_at`."""

    jti: str
    user_id: int
    task_id: str | None
    action: str
    expires_at: datetime


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=LINK_SALT)


def mint(secret: str, *, user_id: int, task_id: str | None, action: str, now: datetime, ttl: timedelta) -> str:
    """A URL-safe token for `action` by `user_id` on `task_id`, valid for `ttl` from `now`."""
    if action not in ACTIONS:
        raise ValueError(f"unknown token action {action!r}")
    payload = {
        "j": secrets.token_hex(12),
        "u": user_id,
        "t": task_id,
        "a": action,
        "e": int((now + ttl).timestamp()),
    }
    return str(_serializer(secret).dumps(payload))


def verify(secret: str, token: str, now: datetime) -> ActionToken:
    """The token's grant; TokenRejected if forged or malformed, TokenExpired if too old."""
    try:
        payload = _serializer(secret).loads(token)
        grant = ActionToken(
            jti=str(payload["j"]),
            user_id=int(payload["u"]),
            task_id=payload["t"],
            action=str(payload["a"]),
            expires_at=datetime.fromtimestamp(int(payload["e"]), UTC),
        )
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise TokenRejected("link_invalid_open_task") from exc
    if grant.action not in ACTIONS:
        raise TokenRejected("link_invalid_open_task")
    if now >= grant.expires_at:
        raise TokenExpired("link_expired")
    return grant


def _reply_key(secret: str) -> bytes:
    return hashlib.sha256(REPLY_SALT + secret.encode()).digest()


def mint_reply(secret: str, *, user_id: int, task_id: str, now: datetime, ttl: timedelta) -> str:
    """The local part of a reply address (`r-` + 56 base32 characters) for `user_id` on `task_id`."""
    expires_minutes = int((now + ttl).timestamp() // 60)
    payload = UUID(task_id).bytes + struct.pack(">II", user_id, expires_minutes)
    mac = hmac.new(_reply_key(secret), payload, hashlib.sha256).digest()[:_MAC_BYTES]
    return REPLY_PREFIX + base64.b32encode(payload + mac).decode().lower()


def verify_reply(secret: str, local_part: str, now: datetime) -> ActionToken:
    """The grant in a reply address's local part; TokenRejected or TokenExpired otherwise."""
    text = local_part.strip().lower()
    if not text.startswith(REPLY_PREFIX):
        raise TokenRejected("reply_address_unknown")
    try:
        raw = base64.b32decode(text[len(REPLY_PREFIX) :].upper())
    except ValueError as exc:  # binascii.Error is a ValueError
        raise TokenRejected("reply_address_unknown") from exc
    if len(raw) != 24 + _MAC_BYTES:
        raise TokenRejected("reply_address_unknown")
    payload, mac = raw[:24], raw[24:]
    expected = hmac.new(_reply_key(secret), payload, hashlib.sha256).digest()[:_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        raise TokenRejected("reply_address_unknown")
    user_id, expires_minutes = struct.unpack(">II", payload[16:])
    grant = ActionToken(
        jti="reply:" + hashlib.sha256(payload).hexdigest()[:40],
        user_id=user_id,
        task_id=str(UUID(bytes=payload[:16])),
        action="reply",
        expires_at=datetime.fromtimestamp(expires_minutes * 60, UTC),
    )
    if now >= grant.expires_at:
        raise TokenExpired("reply_address_expired")
    return grant


def reply_code(secret: str, local_part: str) -> str:
    """The code printed in the body of the email that carries reply address `local_part`
    (`XXXXX-XXXXX`): a reply quoting it proves its sender read that email (engine/mail/sender_auth.py)."""
    mac = hmac.new(_reply_key(secret), b"code:" + local_part.strip().lower().encode(), hashlib.sha256).digest()
    text = base64.b32encode(mac[:10]).decode()
    return f"{text[:5]}-{text[5:10]}"


def is_used(session: Session, grant: ActionToken) -> bool:
    """True when the token was already redeemed."""
    return session.get(UsedToken, grant.jti) is not None


def redeem(session: Session, grant: ActionToken, now: datetime) -> None:
    """Record the token as used in the caller's transaction; TokenUsed if it already was."""
    if is_used(session, grant):
        raise TokenUsed("link_used")
    session.add(
        UsedToken(jti=grant.jti, user_id=grant.user_id, task_id=grant.task_id, action=grant.action, used_at=now)
    )
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent redemption committed first
        raise TokenUsed("link_used") from exc

"""Service accounts: users that stand for an outside system (HR, passport authority, embassy link).

A service account is an ordinary user row without a password (it cannot sign in to the web
app) plus a `service_accounts` row listing what it may do beyond its roles: which BPMN messages
it may deliver, and whether it may start requests on someone's behalf. Its roles work as for
anyone (a `requester` role lets it start processes as itself), so an integration gets only the
roles and grants it needs, often none of the lane roles at all.

Who may deliver a message or start on someone's behalf is a rule of engine/permissions.py
(`may_deliver`, `require_may_start_for_others`). People record decisions that arrived by other
means through the follow-up tasks instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import FieldError, ValidationFailed
from engine.models import ServiceAccount, User
from engine.people.users import add_user, find_user

_MESSAGE_NAME = re.compile(r"^(\*|[A-Za-z_][A-Za-z0-9_.-]{0,99})$")


def add_service_account(
    session: Session,
    username: str,
    *,
    now: datetime,
    roles: Iterable[str] = (),
    messages: Iterable[str] = (),
    start_on_behalf: bool = False,
    display_name: str | None = None,
    description: str = "",
    created_by: str | None = None,
) -> ServiceAccount:
    """Create (or update) a service account with exactly these roles and grants."""
    messages = sorted(set(messages))
    bad = [m for m in messages if not _MESSAGE_NAME.match(m)]
    if bad:
        wrong = FieldError("messages", "not_message_names", names=", ".join(bad))
        raise ValidationFailed("invalid_message_names", [wrong])
    existing = find_user(session, username)
    if existing is not None and service_account(session, existing) is None:
        raise ValidationFailed("persons_account", [FieldError("username", "choose_another_name")], username=username)
    user = add_user(session, username, now=now, roles=roles, display_name=display_name or username)
    account = session.get(ServiceAccount, user.id)
    if account is None:
        account = ServiceAccount(user_id=user.id, created_at=now, created_by=created_by)
        session.add(account)
    account.description = description[:500]
    account.messages = messages
    account.start_on_behalf = start_on_behalf
    session.flush()
    return account


def service_account(session: Session, user: User) -> ServiceAccount | None:
    """The user's service-account row, or None for a person."""
    return session.get(ServiceAccount, user.id)


def list_service_accounts(session: Session) -> list[ServiceAccount]:
    """Every service account, by username."""
    return list(session.scalars(select(ServiceAccount).join(ServiceAccount.user).order_by(User.username)))


def account_view(account: ServiceAccount | None) -> dict | None:
    """A service account's grants as plain data."""
    if account is None:
        return None
    return {
        "description": account.description,
        "messages": list(account.messages),
        "start_on_behalf": account.start_on_behalf,
    }

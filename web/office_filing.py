"""The office's part of a start form (issue 18): ITV coordinators and admins may file a request for
someone else, and after its dates with a reason (engine/date_rules.py); the two fields only they
see are read here into `Engine.start`'s `on_behalf_of` and `past_dates_reason`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from engine.errors import FieldError, ValidationFailed
from engine.models import User
from engine.people.users import find_user
from engine.permissions import OVERSIGHT_ROLES, require_may_start_for_others

#: form field names: the requester's username, the reason for dates that have passed
FOR, REASON = "office_for", "office_past_dates_reason"


def files_for_others(person: User) -> bool:
    """Does `person` see the office's fields (the roles `Engine.start` lets override the dates)?"""
    return bool(person.roles & OVERSIGHT_ROLES)


def office_values(form: Mapping[str, str]) -> dict[str, str]:
    """What was typed in the office's fields, to show again."""
    return {FOR: form.get(FOR, "").strip(), REASON: form.get(REASON, "").strip()}


def office_options(session: Session, person: User, form: Mapping[str, str]) -> dict[str, Any]:
    """`Engine.start` options from the office's fields (none for anyone else, whatever they send).

    :raise ValidationFailed: the requester named is nobody active."""
    if not files_for_others(person):
        return {}
    typed = office_values(form)
    options: dict[str, Any] = {}
    if typed[FOR] and typed[FOR] != person.username:
        require_may_start_for_others(session, person)
        requester = find_user(session, typed[FOR])
        if requester is None or not requester.active:
            raise ValidationFailed("form_has_errors", [FieldError(FOR, "no_active_user", username=typed[FOR])])
        options["on_behalf_of"] = requester.username
    if typed[REASON]:
        options["past_dates_reason"] = typed[REASON]
    return options

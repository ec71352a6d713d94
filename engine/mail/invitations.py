"""Calendar invitations (ICS) for approved conference trips and delegation visits.

`CALENDAR_RULES` says, per process key, what its calendar entry says; whether an instance
counts as approved comes from the process's glue (`glue.process(..., approved=...)`), through the
engine's `MailContext`.
`send_calendar_invitations` runs after every save of such an instance and queues, once per
instance and person, an email to the requester with an all-day `METHOD:REQUEST` event from `start_date` to `end_date`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.countries import country_name
from engine.mail import bodies, outbox
from engine.mail.compose import MailContext, send_plain
from engine.models import ProcessInstance


@dataclass(frozen=True)
class CalendarRule:
    """What the calendar entry of an approved instance of a process says."""

    title: Callable[[Mapping[str, Any], str], str]
    location: Callable[[Mapping[str, Any], str], str]


def _with_country(first: Any, data: Mapping[str, Any], lang: str) -> str:
    """`first`, then the request's country by name in `lang` (a picked ISO code: "DE" -> "Allemagne")."""
    country = country_name(data["country"], lang) if data.get("country") else ""
    return ", ".join(str(p) for p in (first, country) if p)


def _conference_title(data: Mapping[str, Any], lang: str) -> str:
    return ("Conférence : " if lang == "fr" else "Conference: ") + str(data.get("event_name") or "")


def _delegation_title(data: Mapping[str, Any], lang: str) -> str:
    return ("Visite de délégation : " if lang == "fr" else "Delegation visit: ") + _with_country(
        data.get("agency"), data, lang
    )


#: Process key -> calendar entry for its approved requests.
CALENDAR_RULES: dict[str, CalendarRule] = {
    "conference_attendance": CalendarRule(
        title=_conference_title,
        location=lambda d, lang: _with_country(d.get("city"), d, lang),
    ),
    "delegation_visit": CalendarRule(
        title=_delegation_title,
        location=lambda d, lang: str(d.get("host_unit") or ""),
    ),
}


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def send_calendar_invitations(session: Session, mail: MailContext, instance: ProcessInstance, now: datetime) -> int:
    """Queue the calendar invitation of an approved trip or visit, once per instance and person."""
    rule = CALENDAR_RULES.get(instance.process_key)
    data = instance.data or {}
    if rule is None or not mail.is_approved(instance.process_key, data):
        return 0
    config = mail.config
    start, end = _day(data.get("start_date")), _day(data.get("end_date"))
    user = instance.started_by
    if start is None or user is None or not user.email or not user.active:
        return 0
    key = f"calendar:{instance.id}:{user.id}"
    if outbox.is_queued(session, key):
        return 0
    end = end if end is not None and end >= start else start
    lang = bodies.language_of(user.language)
    title = rule.title(data, lang)
    request_url = f"{config.base_url}/requests/{instance.id}"
    ics = bodies.calendar_invitation(
        uid=f"waypoint-{instance.process_key}-{instance.id}@{config.domain}",
        title=title,
        start=start,
        end=end,
        now=now,
        organizer=config.sender,
        attendee=user.email,
        attendee_name=user.display_name,
        location=rule.location(data, lang),
        description=instance.summary_in(lang),
        url=request_url,
    )
    context = {
        "title": title,
        "start": bodies.format_date(start, lang),
        "end": bodies.format_date(end, lang),
        "location": rule.location(data, lang),
        "summary": instance.summary_in(lang),
        "request_url": request_url,
    }
    invitation = {"filename": "invitation.ics", "content_type": "text/calendar", "method": "REQUEST", "text": ics}
    send_plain(
        session,
        config,
        "calendar",
        user,
        now,
        context,
        auto="auto-generated",
        instance_id=instance.id,
        dedup_key=key,
        attachments=[invitation],
    )
    return 1

"""Process content in the page's language.

- Task, event and process names: the BPMN files carry the French as a `name_fr` property;
  the engine answers it by element id (or, for rows that kept only the English name, by that
  name) from the parsed specs (engine/queries/names.py), once per request; pages in English
  never ask.
- Roles (BPMN lane names and queue names): their English and French names in the roles table
  (engine/people/roles.py), read once per request; the catalogue below names Waypoint's own roles
  where the table has no row.
- Statuses of tasks and requests and the actions of the audit trail: the same.

See docs/modelling.md, "Both official languages".
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask_babel import lazy_gettext as _l

from engine.people.roles import role_key, role_names
from engine.queries.names import FrenchNames, french_names

from .context import db, engine
from .i18n import language

#: Every role a lane, a queue or a person can have, in both languages (lane "Passport officer"
#: is role `passport_officer`).
ROLE_NAMES = {
    "requester": _l("Requester"),
    "supervisor": _l("Supervisor"),
    "finance": _l("Finance"),
    "ethics": _l("Ethics"),
    "senior_management": _l("Senior management"),
    "itv_coordinator": _l("ITV coordinator"),
    "passport_officer": _l("Passport officer"),
    "security": _l("Security"),
    "host_unit": _l("Host unit"),
    "liaison_officer": _l("Liaison officer"),
    "process_designer": _l("Process designer"),
    "admin": _l("Administrator"),
}

#: Statuses of tasks, requests, emails and incidents as stored (English words in the database).
STATUS_NAMES = {
    "ready": _l("ready"),
    "running": _l("running"),
    "completed": _l("completed"),
    "cancelled": _l("cancelled"),
    "error": _l("error"),
    "pending": _l("pending"),
    "sent": _l("sent"),
    "failed": _l("failed"),
    "open": _l("open"),
    "retried": _l("retried"),
    "approved": _l("approved"),
    "rejected": _l("rejected"),
}

#: Actions of the audit trail (the timeline of a request).
ACTION_NAMES = {
    "started": _l("started"),
    "task_completed": _l("task completed"),
    "complete": _l("completed"),
    "task_claimed": _l("task claimed"),
    "task_released": _l("task released"),
    "task_reassigned": _l("task reassigned"),
    "task_escalated": _l("task escalated"),
    "timer_fired": _l("timer fired"),
    "message": _l("message"),
    "message_received": _l("message received"),
    "cancelled": _l("cancelled"),
    "ended": _l("ended"),
    "reply": _l("reply by email"),
    "incident_opened": _l("incident opened"),
    "incident_retried": _l("incident retried"),
    "migrated": _l("moved to a new version"),
    "attachment_added": _l("file attached"),
    "wait": _l("waiting"),
    "wait_until": _l("waiting until a date"),
}

#: Keys of the audit details the timeline shows, by their stored name.
DETAIL_NAMES = {
    "decision": _l("decision"),
    "comment": _l("comment"),
    "outcome": _l("outcome"),
    "reason": _l("reason"),
    "message": _l("message"),
}


#: The audit trail's non-person actor (engine.audit.SYSTEM_ACTOR): timers, the worker, the engine itself.
ACTOR_NAMES = {"system": _l("system")}

#: Reasons the engine itself writes into the audit trail (people write their own, shown as written).
REASON_NAMES = {
    "person deactivated": _l("person deactivated"),
    "no longer in the directory": _l("no longer in the directory"),
}


def _names() -> dict[str, FrenchNames]:
    """Per process key, the French names the engine reads from the deployed versions, once per request."""
    names = g.get("_wp_french_names")
    if names is None:
        with db().reading() as s:
            names = g._wp_french_names = french_names(s, engine().specs)
    return names


def task_name(process_key: str | None, name: str | None, element_id: str | None = None) -> str:
    """A task's (or any BPMN element's) name in the page's language: by its element id when
    known, else by its English name; `process_key` None: the first process that knows it."""
    if not name or language() != "fr":
        return name or ""
    names = _names()
    candidates = [names[process_key]] if process_key in names else [] if process_key else list(names.values())
    return next((french for n in candidates if (french := n.name(name, element_id))), name)


def step_names(process_key: str | None, names: str | None) -> str:
    """Several step names joined by ", " (the "Requests I started" tab), or a status word."""
    if not names or language() != "fr":
        return names or ""
    if names in STATUS_NAMES:
        return str(STATUS_NAMES[names])
    return ", ".join(task_name(process_key, part) for part in names.split(", "))


def process_name(process_key: str | None, name: str | None) -> str:
    """A process's name in the page's language (its `name_fr` property)."""
    if not name or language() != "fr" or not process_key:
        return name or ""
    names = _names().get(process_key)
    return (names.by_id.get(process_key) if names else None) or name


def _role_names() -> dict[str, tuple[str, str]]:
    """(English, French) names of every role, from the roles table, once per request."""
    names = g.get("_wp_role_names")
    if names is None:
        with db().reading() as s:
            names = g._wp_role_names = role_names(s)
    return names


def role_name(role: str | None) -> str:
    """A role (or lane) in the page's language: `passport_officer` → "Passport officer"; roles
    admins and deploys added have their names in the roles table."""
    if not role:
        return ""
    if ", " in role:
        return ", ".join(role_name(part) for part in role.split(", "))
    key = role_key(role)
    found = _role_names().get(key)
    if found is not None:
        return found[1] if language() == "fr" else found[0]
    return str(ROLE_NAMES[key]) if key in ROLE_NAMES else role


def status_name(status: str | None) -> str:
    return str(STATUS_NAMES[status]) if status in STATUS_NAMES else (status or "")


def action_name(action: str | None) -> str:
    return str(ACTION_NAMES[action]) if action in ACTION_NAMES else (action or "").replace("_", " ")


def detail_name(key: str) -> str:
    """An audit detail's key ("supervisor_decision" → "supervisor decision" / « décision »)."""
    last = key.rsplit("_", 1)[-1] if key not in DETAIL_NAMES else key
    if language() == "fr" and last in DETAIL_NAMES:
        return str(DETAIL_NAMES[last])
    return key.replace("_", " ")


def actor_name(actor: str | None) -> str:
    """Who did it, as the timeline says it: a username, or "system" in the page's language."""
    return str(ACTOR_NAMES[actor]) if actor in ACTOR_NAMES else (actor or "")


def reason_text(reason: Any) -> str:
    """A reason of the audit trail: the engine's own words in the page's language, a person's as given."""
    return str(REASON_NAMES[reason]) if isinstance(reason, str) and reason in REASON_NAMES else str(reason)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(role_label=role_name)
    app.jinja_env.globals.update(clock_now=lambda: engine().clock.now())  # "overdue" in words
    app.jinja_env.globals.update(
        task_name=task_name,
        step_names=step_names,
        process_name=process_name,
        role_name=role_name,
        status_name=status_name,
        action_name=action_name,
        detail_name=detail_name,
        actor_name=actor_name,
        reason_text=reason_text,
    )

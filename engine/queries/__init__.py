"""Read-side queries from indexed tables: the inbox, task and process lists, the API's lists,
office reports and operational metrics. Nothing here writes."""

from typing import Any

from sqlalchemy import Integer, and_, func, literal, or_, select
from sqlalchemy.orm import Session

from engine.models import ProcessDefinition, ProcessInstance


def literal_count(count: int) -> Any:
    """A LIMIT or OFFSET written into the statement's text, not bound: PostgreSQL plans a prepared
    listing once for every call (a generic plan) only when it knows how many rows are wanted; with
    the count as a parameter it plans every call again, which costs more than running it."""
    return literal(count, Integer, literal_execute=True)


def summary_contains(text: str) -> Any:
    """A request whose summary line, in English or in French, contains `text` (any case)."""
    needle = text.lower()
    return or_(
        func.lower(ProcessInstance.summary).contains(needle, autoescape=True),
        func.lower(ProcessInstance.summary_fr).contains(needle, autoescape=True),
    )


_NEWEST_VERSIONS = (
    select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("version"))
    .group_by(ProcessDefinition.key)
    .subquery()
)
_LATEST_DEFINITIONS = (  # built once: most pages list the processes
    select(ProcessDefinition)
    .join(
        _NEWEST_VERSIONS,
        and_(ProcessDefinition.key == _NEWEST_VERSIONS.c.key, ProcessDefinition.version == _NEWEST_VERSIONS.c.version),
    )
    .order_by(ProcessDefinition.key)
)


def latest_definitions(session: Session) -> list[ProcessDefinition]:
    """The newest version of every process key (definitions table only)."""
    return list(session.scalars(_LATEST_DEFINITIONS))

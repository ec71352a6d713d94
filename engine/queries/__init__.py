"""Read-side queries from indexed tables: the inbox, task and process lists, the API's lists,
office reports and operational metrics. Nothing here writes."""

from typing import Any

from sqlalchemy import func, or_

from engine.models import ProcessInstance


def summary_contains(text: str) -> Any:
    """A request whose summary line, in English or in French, contains `text` (any case)."""
    needle = text.lower()
    return or_(
        func.lower(ProcessInstance.summary).contains(needle, autoescape=True),
        func.lower(ProcessInstance.summary_fr).contains(needle, autoescape=True),
    )

"""Summary lines kept true as the year turns.

A summary line leaves out the year of dates in the year it was written ("4–7 Nov"), so that a
list reads short; once the year turns, a request of last year would read as this year's. The
worker's `new_year_summaries` job (engine/worker/periodic.py, just after midnight on 1 January,
office time) writes again the lines of the requests whose dates fall in last year or in the new
one: the first now carry their year ("4–7 Nov 2026"), the second lose it. One transaction per
batch of requests; nothing else of a request changes, and nothing is audited (a summary is a
derived display line).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from engine.db import Database
from engine.models import ProcessInstance
from engine.privacy.vault import redact

if TYPE_CHECKING:
    from engine.runtime import Engine

BATCH = 200


def rewrite_for_new_year(db: Database, engine: Engine, now: datetime) -> int:
    """Write again the summary lines of requests dated last year or this year (as of `now`, office
    time); returns how many lines changed."""
    year = now.astimezone(engine.office_tz).year
    first, last = date(year - 1, 1, 1), date(year, 12, 31)
    with db.reading() as session:
        ids = list(
            session.scalars(
                select(ProcessInstance.id).where(
                    ProcessInstance.purged_at.is_(None),
                    or_(ProcessInstance.starts_on.between(first, last), ProcessInstance.ends_on.between(first, last)),
                )
            )
        )
    changed = 0
    for start in range(0, len(ids), BATCH):
        with db.transaction() as session:
            for instance in session.scalars(
                select(ProcessInstance).where(ProcessInstance.id.in_(ids[start : start + BATCH]))
            ):
                before = (instance.summary, instance.summary_fr)
                parsed = engine.definition_for(session, instance)
                public = redact(engine.clear_data(instance), parsed.personal)
                engine.glue.write_summaries(instance, public, now)
                changed += (instance.summary, instance.summary_fr) != before
    return changed

"""The register of requests (`/requests`): every request the signed-in person may see, searched,
filtered and paged, and its CSV. The engine decides what each person may see
(engine/queries/register.py); this page only reads the query string and renders."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, render_template, request, url_for

from engine.queries import latest_definitions
from engine.queries.register import STATUSES, RegisterFilters, register_page, register_rows

from .auth import login_required
from .context import db, engine, user
from .csvexport import csv_response
from .request_status import status_text, statuses_for

bp = Blueprint("register", __name__)

PAGE_SIZE = 50


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, "")[:10])
    except ValueError:
        return None


def _filters() -> RegisterFilters:
    args = request.args
    status = args.get("status") or None
    return RegisterFilters(
        search=args.get("q", "")[:200],
        process=args.get("process") or None,
        status=status if status in STATUSES else None,
        step=args.get("step") or None,
        unit=args.get("unit", "")[:100] or None,
        country=args.get("country", "")[:100] or None,
        starts_from=_day("from"),
        starts_to=_day("to"),
    )


@bp.get("/requests")
@login_required
def index():
    """A page of the register, newest first; `after` continues from the last id shown."""
    filters = _filters()
    after = request.args.get("after", type=int)
    with db().reading() as s:
        page = register_page(s, user(), filters, after=after, limit=PAGE_SIZE, today=engine().today())
        processes = [{"key": d.key, "name": d.name} for d in latest_definitions(s)]
        steps = engine().step_choices(s)
        statuses = statuses_for(s, [r.id for r in page.rows])
    query: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after" and v}
    return render_template(
        "requests/register.html",
        page=page,
        filters=filters,
        processes=processes,
        process_names={p["key"]: p["name"] for p in processes},
        steps=steps,
        statuses=STATUSES,
        request_statuses=statuses,
        next_url=url_for("register.index", **query, after=page.next_after) if page.next_after else None,
        first_url=url_for("register.index", **query) if after else None,
        csv_url=url_for("register.export", **query),
    )


@bp.get("/requests.csv")
@login_required
def export():
    """Every matching request the person may see, as CSV (the same filters as the page)."""
    with db().reading() as s:
        rows = register_rows(s, user(), _filters(), today=engine().today())
        stands: dict[int, Any] = {}
        for start in range(0, len(rows), 500):  # the engine reads statuses a page at a time
            stands.update(statuses_for(s, [r.id for r in rows[start : start + 500]]))
    return csv_response([_csv_row(r, stands.get(r.id)) for r in rows], "requests")


def _csv_row(row: Any, stands: Any) -> dict[str, Any]:
    return {
        "reference": row.id,
        "process": row.process_key,
        "where_it_stands": status_text(stands),
        "status": row.status,
        "outcome": row.outcome or "",
        "summary": row.summary,
        "summary_fr": row.summary_fr,
        "requester": row.requester,
        "open_steps": "; ".join(row.steps),
        "country": row.country or "",
        "unit": row.unit or "",
        "starts_on": row.starts_on.isoformat() if row.starts_on else "",
        "ends_on": row.ends_on.isoformat() if row.ends_on else "",
        "filed_at": row.created_at,
    }

"""Reports for the ITV office: a dashboard (tables and SVG charts) and CSV exports."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, abort, g, render_template, request

from engine import permissions, wait_report
from engine.queries import latest_definitions, reports
from engine.queries.tasks import list_processes

from .auth import login_required
from .context import db, engine
from .csvexport import csv_response

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.before_request
@login_required
def _may_view() -> Any:
    """Every page here asks the one rule (`permissions.may_view_reports`)."""
    if not permissions.may_view_reports(g.user):
        abort(403)


@bp.app_context_processor
def _rules() -> dict[str, Any]:
    return {"may_view_reports": permissions.may_view_reports}


def _filter() -> reports.ReportFilter:
    def day(name: str, end: bool = False) -> datetime | None:
        value = request.args.get(name)
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value[:10])
        except ValueError:
            abort(400)
        return datetime.combine(parsed.date(), time.max if end else time.min, UTC)

    return reports.ReportFilter(
        process=request.args.get("process") or None,
        since=day("since"),
        until=day("until", end=True),
        country=request.args.get("country") or None,
        unit=request.args.get("unit") or None,
    )


@bp.get("")
def dashboard():
    """Which approvals are stuck, where, and for how long; throughput; time per step; outcomes."""
    flt, now = _filter(), engine().clock.now()
    with db().reading() as s:
        context: dict[str, Any] = {
            "flt": flt,
            "now": now,
            "processes": list_processes(s),
            "stuck": _waiting(s, flt, now),
            "overdue": reports.overdue_tasks(s, flt, now, limit=50),
            "weeks": reports.throughput_by_week(s, flt, now),
            "steps": reports.time_per_step(s, flt, now),
            "e2e": reports.end_to_end(s, flt, now),
            "statuses": reports.status_counts(s, flt),
            "facets": reports.facet_values(s),
            "weeks_ahead": _calendar(s, flt),
            "calendar_window": flt.since is not None or flt.until is not None,
            "today": engine().today(),
            "process_names": {d.key: d.name for d in latest_definitions(s)},
        }
    peak = max((w["total"] for w in context["weeks"]), default=0)
    return render_template("reports/dashboard.html", peak=max(peak, 1), **context)


def _waiting(s: Any, flt: reports.ReportFilter, now: datetime) -> list[dict[str, Any]]:
    """Open tasks per step, then requests waiting at a message or a timer with no task open."""
    tasks = [{**r, "kind": "task"} for r in reports.open_by_step(s, flt, now)]
    return tasks + wait_report.waits_by_step(s, engine().specs, flt, now)


#: The calendar shows six weeks from this Monday, or the filter's dates (at most 26 weeks).
CALENDAR_DAYS, MAX_CALENDAR_DAYS = 42, 182


def _calendar(s: Any, flt: reports.ReportFilter) -> list[list[dict[str, Any]]]:
    """The upcoming-trips calendar over the filter's dates when it has them, else from today."""
    start = flt.since.date() if flt.since else engine().today()
    end = flt.until.date() if flt.until else start + timedelta(days=CALENDAR_DAYS - 1)
    days = min(max((end - start).days + 1, 1), MAX_CALENDAR_DAYS)
    shown = days + start.weekday()  # the weeks run from the Monday before `start`
    return reports.calendar_weeks(reports.upcoming(s, flt, start, days=days), start, days=-(-shown // 7) * 7)


REPORTS = {
    "stuck": lambda s, f, now: _waiting(s, f, now),
    "overdue": lambda s, f, now: reports.overdue_tasks(s, f, now, limit=100_000),
    "throughput": lambda s, f, now: reports.throughput_by_week(s, f, now),
    "time-per-step": lambda s, f, now: reports.time_per_step(s, f, now),
    "end-to-end": lambda s, f, now: reports.end_to_end(s, f, now),
    "upcoming": lambda s, f, now: reports.upcoming(s, f, now.date(), days=180),
}


@bp.get("/<name>.csv")
def export(name: str):
    """Any dashboard report as CSV (same filters)."""
    if name == "instances":
        return _instancescsv_response()
    if name not in REPORTS:
        abort(404)
    with db().reading() as s:
        rows = REPORTS[name](s, _filter(), engine().clock.now())
    return csv_response(rows, name)


def _instancescsv_response() -> Response:
    """Every request (within the filters) with its data fields flattened into columns."""
    flt = _filter()
    rows: list[dict[str, Any]] = []
    columns: dict[str, None] = {}
    with db().reading() as s:
        for instance in reports.requests_in(s, flt):
            row = {
                "id": instance.id,
                "process": instance.process_key,
                "status": instance.status,
                "outcome": instance.outcome or "",
                "summary": instance.summary,
                "created_at": instance.created_at,
                "ended_at": instance.ended_at or "",
            }
            for key, value in engine().display_data(s, instance).items():  # personal fields masked
                if key not in ("instance_id", "process_key"):
                    row[f"data.{key}"] = value
                    columns.setdefault(f"data.{key}", None)
            rows.append(row)
    fields = ["id", "process", "status", "outcome", "summary", "created_at", "ended_at", *columns]
    for row in rows:
        for field in fields:
            row.setdefault(field, "")
    return csv_response([{f: r[f] for f in fields} for r in rows], "requests")

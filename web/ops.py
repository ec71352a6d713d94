"""Operations endpoints for load balancers and Prometheus: `/healthz` and `/metrics` (no sign-in)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app
from flask.blueprints import BlueprintSetupState
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from engine import WaypointError
from engine.queries import metrics as ops_metrics

from .context import db, engine

bp = Blueprint("ops", __name__)


@bp.record_once
def _register_gauges(state: BlueprintSetupState) -> None:
    app = state.app
    app.extensions["waypoint.metrics"] = ops_metrics.registry(
        app.extensions["waypoint.db"], app.extensions["waypoint.engine"].clock
    )


@bp.get("/healthz")
def healthz() -> tuple[dict[str, Any], int]:
    """Health: database reachable and migrations current (else 503); worker heartbeat recent
    (else 200 "degraded": pages work, timers and email wait)."""
    try:
        healthy, checks = ops_metrics.health(db(), engine().clock.now())
    except WaypointError as exc:
        return {"status": "down", "checks": {"database": str(exc)}}, 503
    if checks.get("migrations") != "current":
        return {"status": "down", "checks": checks}, 503
    return {"status": "ok" if healthy else "degraded", "checks": checks}, 200


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics (open tasks by step, overdue, outbox, incidents, timer lag, worker)."""
    body = generate_latest(current_app.extensions["waypoint.metrics"])
    return Response(body, content_type=CONTENT_TYPE_LATEST)

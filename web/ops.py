"""Operations endpoints for load balancers and Prometheus: `/healthz` (open) and `/metrics`.

`/metrics` tells how much work waits where (open tasks per process and step, outbox, incidents,
worker heartbeat): it answers only a scraper that sends `Authorization: Bearer
<WAYPOINT_METRICS_TOKEN>` or connects from an allow-listed address (`WAYPOINT_METRICS_ALLOW`,
loopback by default; behind a proxy the client address is the one ProxyFix trusts).
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
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
    """Prometheus metrics (open tasks by step, overdue, outbox, incidents, timer lag, worker).

    :raise 401: without the scrape token from an address that is not allow-listed."""
    if not _may_scrape():
        abort(Response("metrics need a scrape token\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}))
    body = generate_latest(current_app.extensions["waypoint.metrics"])
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def _may_scrape() -> bool:
    security = current_app.config["WAYPOINT_SETTINGS"].security
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if security.metrics_token and scheme.lower() == "bearer":
        return hmac.compare_digest(token.strip().encode(), security.metrics_token.encode())
    return request.remote_addr in security.metrics_allow

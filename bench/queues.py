"""Figure 4: inbox pages over the scale data sets (server time), and their growth from the small to the large.

Each view is one signed-in person's inbox tab, chosen where the queues are largest in the data:
the time is the whole request through Flask's test client (routing, session, queries, template),
so it is the server's time without the network. The same views are then fetched from a real
server on the large data set (HTTP time, and the server's peak RSS).
"""

from __future__ import annotations

import time
from typing import Any

from engine import Database, ManualClock
from engine.demo.people import DEMO_PASSWORD

from .common import ANCHOR, Mode, bench_engine, summary
from .httpload import SECRET, InProcess, Server, sign_in

#: (view, person, URL)
VIEWS = (
    ("my tasks", "msmith", "/inbox"),
    ("team queue", "ppatel", "/inbox?tab=queue"),
    ("overdue", "htremblay", "/inbox?tab=overdue"),
    ("search", "fchan", "/inbox?tab=queue&q=vienna"),
)
PAGE_TARGET_MS = 25.0
GROWTH_TARGET = 1.2  # issue 21: p95 at 100,000 requests over p95 at 10,000
VIEW_BUDGET_S = 8.0  # per view and data set: slow pages get fewer runs (at least 10)


def _measure(client: Any, sessions: dict, mode: Mode, budget: float) -> dict[str, dict]:
    out = {}
    for view, person, url in VIEWS:
        headers = sessions[person].headers()
        for _ in range(3):
            reply = client.request("GET", url, headers=headers)
            if reply.status != 200:
                raise RuntimeError(f"{view}: {url} answered {reply.status}")
        times: list[float] = []
        deadline = time.perf_counter() + budget
        while len(times) < mode.page_runs and (len(times) < 10 or time.perf_counter() < deadline):
            times.append(client.request("GET", url, headers=headers).ms)
        out[view] = {**summary(times), "person": person, "url": url}
    return out


def pages(url: str, mode: Mode) -> dict[str, dict]:
    """Server time of each view on one data set (Flask test client)."""
    from web import create_app

    db = Database(url)
    engine = bench_engine(clock=ManualClock(ANCHOR))
    app = create_app({"WAYPOINT_DB": db, "WAYPOINT_ENGINE": engine, "SECRET_KEY": SECRET})
    client = InProcess(app)
    sessions = {person: sign_in(client, person, DEMO_PASSWORD) for _, person, _ in VIEWS}
    try:
        return _measure(client, sessions, mode, VIEW_BUDGET_S)
    finally:
        db.dispose()


def over_http(url: str, name: str, mode: Mode) -> dict[str, Any]:
    """The same views from a real server on the data set; with the server's peak RSS."""
    server = Server(url, name)
    try:
        client = server.client()
        sessions = {person: sign_in(client, person, DEMO_PASSWORD) for _, person, _ in VIEWS}
        short = Mode(**{**mode.__dict__, "page_runs": max(10, mode.page_runs // 2)})
        views = _measure(client, sessions, short, VIEW_BUDGET_S / 2)
        client.close()
    finally:
        rss = server.stop()
    return {"views": views, "server_peak_rss_mb": rss, "server": server.kind}


def growth(small: dict[str, dict], large: dict[str, dict]) -> dict[str, dict]:
    """p95 at the large size over p95 at the small size, per view, with the targets."""
    out = {}
    for view, figure in large.items():
        base = small.get(view, {}).get("p95")
        ratio = round(figure["p95"] / base, 2) if base else None
        out[view] = {
            "p95_small": base,
            "p95_large": figure["p95"],
            "growth": ratio,
            "growth_target": GROWTH_TARGET,
            "growth_pass": ratio is not None and ratio <= GROWTH_TARGET,
            "target": PAGE_TARGET_MS,
            "pass": figure["p95"] <= PAGE_TARGET_MS,
        }
    return out

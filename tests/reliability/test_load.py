"""No lost updates under load: several processes do random operations on shared instances.

Each worker process starts, claims, releases, completes, sends messages and cancels at random
over a shared pool of instances (its own people, so every success is attributable). Afterwards
every instance must deserialize, its task index, timers and subscriptions must be what its
workflow says (`check_consistency`), and the audit trail must hold exactly one event per
successful operation of any worker: nothing lost, nothing doubled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from sqlalchemy import select

from engine.models import AuditEvent
from tests.reliability.harness import ROOT, OpLog, check_consistency, start_flow

DEFAULT = (2, 60, 20)  # processes, operations each, instances
STRESS = {"postgresql": (8, 500, 200), "sqlite": (4, 250, 100)}


def run_workers(url: str, workers: int, ops: int, pool: list[int], seed: int) -> OpLog:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ids = ",".join(map(str, pool))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.load_worker", url, str(w), str(seed + w), str(ops), ids],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    try:
        for p in procs:  # all imported and connected...
            line = p.stdout.readline()
            assert line.strip() == "ready", (line, p.stderr.read() if p.poll() is not None else "")
        for p in procs:  # ...then all go at once
            p.stdin.write("go\n")
            p.stdin.flush()
        parts = []
        for p in procs:
            out, err = p.communicate(timeout=1800)
            assert p.returncode == 0, err[-3000:]
            parts.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return OpLog.merged(parts)


def load_run(db, engine, workers: int, ops: int, instances: int, seed: int = 9000) -> dict:
    pool = start_flow(db, engine, instances)
    log = run_workers(db.url, workers, ops, pool, seed)
    assert log.errors == [], log.errors[:10]

    stats = check_consistency(db, engine)
    with db.reading() as s:
        events = list(s.execute(select(AuditEvent.action, AuditEvent.task_id, AuditEvent.instance_id)))
    by_action: dict[str, list] = {}
    for action, task_id, instance_id in events:
        by_action.setdefault(action, []).append(task_id if action.startswith("task_") else instance_id)
    # each success has its event, and no event lacks a success: nothing lost, nothing doubled
    assert Counter(by_action.get("task_completed", [])) == Counter(log.completed)
    assert len(set(log.completed)) == len(log.completed)
    assert Counter(by_action.get("task_claimed", [])) == Counter(log.claimed)
    assert Counter(by_action.get("task_released", [])) == Counter(log.released)
    assert Counter(by_action.get("message_received", [])) == Counter(log.messages)
    assert Counter(by_action.get("cancelled", [])) == Counter(log.cancelled)
    assert len(by_action["started"]) == instances + len(log.started)
    figures = {
        "workers": workers,
        "operations": workers * ops,
        "instances": stats.instances,
        "ok": log.total("ok"),
        "conflicts": log.total("conflict"),
        "not_found": log.total("not_found"),
        "denied": log.total("denied"),
        "errors": len(log.errors),
        "by_operation": {op: dict(c) for op, c in sorted(log.counts.items())},
        "statuses": dict(stats.by_status),
        "audit_events": sum(stats.actions.values()),
    }
    print(f"\nload figures ({db.dialect}): {json.dumps(figures)}")
    return figures


def test_random_operations_from_several_processes_lose_nothing(flow_db, engine):
    workers, ops, instances = DEFAULT
    figures = load_run(flow_db, engine, workers, ops, instances)
    assert figures["ok"] > ops // 2  # the run did real work, not only refusals


@pytest.mark.stress
def test_stress_random_operations_lose_nothing(flow_db, engine):
    workers, ops, instances = STRESS[flow_db.dialect]
    figures = load_run(flow_db, engine, workers, ops, instances, seed=4242)
    assert figures["conflicts"] > 0  # the run really raced

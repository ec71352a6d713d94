"""A process that finishes the reliability test's instances and is killed part-way (test_crash.py).

`python -m tests.reliability.crash_child URL KILL_AT` counts the SQL statements and commits it
sends; at number KILL_AT it sends itself SIGKILL (0: never; the parent may kill it from
outside instead). After each transaction that committed it prints `committed <kind> <id>`,
so the parent knows which steps were acknowledged before the kill.
"""

from __future__ import annotations

import os
import signal
import sys

from sqlalchemy import event, select

from engine import Database
from engine.models import MessageSubscription
from tests.conftest import make_engine
from tests.reliability.harness import MESSAGE, ready_tasks, worker_users


def main() -> None:
    url, kill_at = sys.argv[1], int(sys.argv[2])
    db = Database(url)
    engine = make_engine()
    people = worker_users(0)
    count = 0

    def tick(*_args: object, **_kwargs: object) -> None:
        nonlocal count
        count += 1
        if count == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(db.engine, "before_cursor_execute", tick)
    event.listen(db.engine, "commit", tick)
    print("ready", flush=True)
    for _ in range(1000):
        tasks = ready_tasks(db)
        with db.reading() as s:
            waiting = list(
                s.scalars(select(MessageSubscription.instance_id).where(MessageSubscription.message_name == MESSAGE))
            )
        if not tasks and not waiting:
            break
        for task_id, _iid, role, claimant in tasks:
            with db.transaction() as s:
                engine.complete(s, task_id, claimant or people[role][0], {"decision": "approve", "comment": "child"})
            print(f"committed task {task_id}", flush=True)
        for iid in waiting:
            with db.transaction() as s:
                engine.deliver_message(s, MESSAGE, {"from": "child"}, correlation={"instance": iid})
            print(f"committed message {iid}", flush=True)
    print(f"finished after {count} statements", flush=True)


if __name__ == "__main__":
    main()

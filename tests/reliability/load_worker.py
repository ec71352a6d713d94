"""One worker process of the load test: random operations on a pool of instances, then a JSON log.

Run by tests/reliability/test_load.py as `python -m tests.reliability.load_worker URL WORKER SEED OPS IDS`
(IDS: comma-separated instance ids). It prints "ready" once imported and connected, waits for
a line on stdin (so all workers start together), runs, and prints its log as one JSON line.
"""

from __future__ import annotations

import json
import random
import sys

from engine import Database
from tests.conftest import make_engine
from tests.reliability.harness import OpLog, random_operation


def main() -> None:
    url, worker, seed, ops, ids = sys.argv[1:6]
    db = Database(url)
    engine = make_engine()
    pool = [int(i) for i in ids.split(",")]
    rng = random.Random(int(seed))
    log = OpLog()
    with db.reading() as s:  # connect and warm the spec cache before the start line
        from engine.models import ProcessInstance

        engine.definition_for(s, s.get(ProcessInstance, pool[0]))
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(int(ops)):
        random_operation(db, engine, rng, int(worker), pool, log)
    db.dispose()
    print(json.dumps(log.to_json()), flush=True)


if __name__ == "__main__":
    main()

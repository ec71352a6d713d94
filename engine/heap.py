"""A long-running process's start-up objects, kept out of Python's full garbage collections.

A full (generation 2) collection walks every container object the process holds. A web or worker
process holds about 185,000 from start-up alone (SQLAlchemy's mappers and cached statements,
Flask, Jinja, Babel, the imported libraries), and walking them took 90-130 ms, once every 90
pages or 600 actions or so: a pause the request or action that meets it waits out (measured in
docs/benchmarks.md, "Issue 21, sixth round"). Those objects live as long as the process, so once
it has started, `settle` collects what start-up threw away and moves the rest out of the
collector's reach (`gc.freeze`); a full collection then takes 5-10 ms. What the process makes
later is collected as before.
"""

from __future__ import annotations

import gc
from functools import cache


@cache  # once per process: the web app factory and the worker both ask, the first one settles
def settle() -> int:
    """Collect start-up's garbage, then freeze what lives on; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()

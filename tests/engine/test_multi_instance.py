"""Multi-instance activities expose loopCounter, nrOfInstances, nrOfActiveInstances and nrOfCompletedInstances to
their scripts and completion conditions; saved and restored at every wait, on both databases."""

from __future__ import annotations

from engine.models import TaskRecord
from engine.queries.tasks import instance_view, list_tasks
from tests.conftest import FIXTURES


def test_loop_variables_in_scripts_and_completion_conditions(people, engine):
    db = people
    with db.transaction() as s:
        engine.deploy(s, [FIXTURES / "multi"], deployed_by="admin")
        iid = engine.start(s, "multi_instance", {}, "jdoe").id
    with db.reading() as s:
        view = instance_view(s, iid)
        open_reviews = [t.id for t in list_tasks(s, instance_id=iid) if t.status == "ready"]
    # sequential: one active at a time, counted from 0
    assert view["data"]["seen"] == [[0, 3, 1, 0], [1, 3, 1, 1], [2, 3, 1, 2]]
    assert len(open_reviews) == 3  # parallel: all three at once
    with db.transaction() as s:
        engine.complete(s, open_reviews[0], "msmith", {})
    with db.reading() as s:
        assert instance_view(s, iid)["status"] == "running"
    with db.transaction() as s:
        engine.complete(s, open_reviews[1], "msmith", {})
    with db.reading() as s:
        view = instance_view(s, iid)
        left = s.get(TaskRecord, open_reviews[2])
        assert left is not None and left.status == "cancelled"
    assert (view["status"], view["outcome"]) == ("completed", "Done")  # two of three were enough

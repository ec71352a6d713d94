"""The task page offers a button per error or escalation boundary event of the task; pressing one raises it."""

from __future__ import annotations

from engine.queries.tasks import list_tasks
from tests.conftest import FIXTURES


def test_boundary_buttons_raise_their_event(app, as_user):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        engine.deploy(s, [FIXTURES / "boundary"], deployed_by="admin")
        instance_id = engine.start(s, "boundary_actions", {}, "jdoe").id
    with db.reading() as s:
        [task] = list_tasks(s, instance_id=instance_id)
        task_id = task.id
    msmith = as_user("msmith")
    page = msmith.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'name="boundary" value="escalation:NEEDS_HELP"' in page and ">Ask for help</button>" in page
    assert 'value="error:NO_BUDGET"' in page and f'formaction="/tasks/{task_id}/raise"' in page

    refused = msmith.post(f"/tasks/{task_id}/raise", {"boundary": "error:NOT_DECLARED"})
    assert refused.status_code == 302 and refused.location.endswith(f"/tasks/{task_id}")
    assert msmith.post(f"/tasks/{task_id}/raise", {"boundary": "escalation:NEEDS_HELP"}).status_code == 302
    with db.reading() as s:
        open_steps = sorted(t.element_id for t in list_tasks(s, instance_id=instance_id) if t.status == "ready")
    assert open_steps == ["Task_after_help", "Task_review"]
    assert msmith.post(f"/tasks/{task_id}/raise", {"boundary": "error:NO_BUDGET"}, csrf=False).status_code == 400

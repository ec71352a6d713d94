"""Personal data in every output channel: pages masked, reveal for permitted roles (logged),
CSV and API masked, nothing in logs."""

from __future__ import annotations

import logging

from tests.engine.test_privacy import SECRETS, VISIT


def start_visit(app):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        return engine.start(s, "delegation_visit", VISIT, "lokafor").id


def test_pages_mask_and_reveal_is_logged(app, as_user, caplog):
    caplog.set_level(logging.INFO)
    iid = start_visit(app)
    coordinator = as_user("cgagnon")
    page = coordinator.get(f"/requests/{iid}").text
    assert all(s not in page for s in (*SECRETS, "Anna Weber", "4821")) and "••••" in page and 'id="reveal"' in page
    host = as_user("lokafor")  # the filer: may see their own request's data, with a logged reveal too
    assert 'id="reveal"' in host.get(f"/requests/{iid}").text
    revealed = coordinator.post(f"/requests/{iid}/reveal").text
    assert "C4X9T4821" in revealed and "cette consultation a été enregistrée" in revealed  # cgagnon reads French
    log = as_user("admin").get(f"/admin/access-log?instance={iid}").text
    assert "Chantal Gagnon" in log and "request page" in log
    assert as_user("jdoe").post(f"/requests/{iid}/reveal").status_code == 404  # may not even see it
    assert all(s not in caplog.text for s in (*SECRETS, "Anna Weber"))


def test_exports_and_api_are_masked(app, as_user):
    iid = start_visit(app)
    csv_text = as_user("admin").get("/reports/instances.csv?process=delegation_visit").text
    assert str(iid) in csv_text and "••••" in csv_text
    assert all(s not in csv_text for s in (*SECRETS, "Anna Weber", "4821"))  # masks reveal nothing
    admin = as_user("admin")
    search = {"person": "Anna Weber", "reason": "request from the visitor", "format": "json"}
    subject = admin.post("/admin/subject-access", search)
    assert subject.status_code == 200 and "C4X9T4821" in subject.text  # the subject access export is complete
    assert subject.headers["Cache-Control"] == "no-store"
    sheet = admin.post("/admin/subject-access", {**search, "format": "csv"})
    assert sheet.mimetype == "text/csv" and "data.members.0.passport_number,C4X9T4821" in sheet.text
    log = admin.get(f"/admin/access-log?instance={iid}").text
    assert log.count("subject access export (Anna Weber): request from the visitor") == 2  # both downloads


def test_task_page_masks_the_request_so_far_until_revealed(app, as_user):
    iid = start_visit(app)
    db = app.extensions["waypoint.db"]
    from engine.queries.tasks import list_tasks

    with db.reading() as s:
        task_ids = [t.id for t in list_tasks(s, instance_id=iid)]
    security = as_user("sroy")
    page = security.get(f"/tasks/{task_ids[0]}").text
    assert all(s not in page.split('id="form-heading"')[0] for s in SECRETS)
    assert 'id="reveal"' in page

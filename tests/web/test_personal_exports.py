"""Personal data on its way out: no cache keeps pages or exports, CSV cells cannot be formulas,
names stay out of API listings and reports, attachments are encrypted on disk."""

from __future__ import annotations

import csv
import io
import os
import stat

import pytest

from engine.models import Attachment
from engine.people.users import get_user
from engine.privacy.vault import FILE_PREFIX
from tests.api.conftest import make_token
from tests.engine.test_privacy import VISIT
from tests.engine.test_privacy_personal import PASSPORT, TRAVELLER, trip
from web.csvexport import cell

PDF = b"%PDF-1.4 secret passport scan"


def start(app, process, data, user):  # type: ignore[no-untyped-def]
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        return engine.start(s, process, data, user).id


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", '\t=HYPERLINK("http://evil.example","x")', "\r=2+2"])
def test_csv_cells_never_start_a_formula(text):
    assert cell(text) == "'" + text


def test_reports_csv_defuses_tab_and_carriage_return(app, as_user):
    for title in ('\t=HYPERLINK("http://evil.example","x")', "\r=2+2"):
        start(app, "small_approval", {"title": title, "amount": 5}, "jdoe")
    export = as_user("dlee").get("/reports/instances.csv?process=small_approval")
    titles = {row["data.title"] for row in csv.DictReader(io.StringIO(export.text, newline=""))}
    assert titles == {'\'\t=HYPERLINK("http://evil.example","x")', "'\r=2+2"}
    assert export.headers["Cache-Control"] == "no-store"


def test_names_stay_out_of_api_listings_and_reports(app, as_user):
    iid = start(app, "passport_visa", trip(), "jdoe")
    members = [{**VISIT["members"][0], "nationality": "Austrian"}]
    visit = start(app, "delegation_visit", {**VISIT, "members": members}, "lokafor")
    export = as_user("dlee").get("/reports/instances.csv").text
    assert str(iid) in export and str(visit) in export
    assert all(secret not in export for secret in (TRAVELLER, PASSPORT, "Anna Weber", "Austrian"))  # nationality too
    headers = {"Authorization": f"Bearer {make_token(app, 'jdoe')}"}
    client = app.test_client()
    listing = client.get("/api/v1/instances", headers=headers)
    assert listing.status_code == 200 and TRAVELLER not in listing.text and "Jane Doe" in listing.text
    detail = client.get(f"/api/v1/instances/{iid}", headers=headers)
    assert detail.json["data"]["traveller_name"] == "••••" and TRAVELLER not in detail.text
    assert detail.headers["Cache-Control"] == "no-store"


def test_pages_with_personal_data_are_never_cached(app, as_user):
    iid = start(app, "delegation_visit", VISIT, "lokafor")
    coordinator = as_user("cgagnon")
    for response in (
        coordinator.get(f"/requests/{iid}"),
        coordinator.post(f"/requests/{iid}/reveal"),
        coordinator.get("/inbox"),
    ):
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    with app.test_client().get("/static/css/app.css") as static:  # the same for everyone: cacheable
        assert static.status_code == 200 and static.headers.get("Cache-Control") != "no-store"


def test_attachments_are_encrypted_in_private_folders(app, as_user, tmp_path):
    iid = start(app, "small_approval", {"title": "Scan", "amount": 5}, "jdoe")
    jdoe = as_user("jdoe")
    upload = {"file": (io.BytesIO(PDF), "scan.pdf", "application/pdf")}
    assert jdoe.post(f"/requests/{iid}/attachments", upload, content_type="multipart/form-data").status_code == 302
    store = app.extensions["waypoint.attachments"]
    [stored] = [p for p in store.root.rglob("*") if p.is_file()]
    content = stored.read_bytes()
    assert content.startswith(FILE_PREFIX) and b"secret passport scan" not in content
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    assert {stat.S_IMODE(os.stat(d).st_mode) for d in (store.root, stored.parent)} == {0o700}
    db = app.extensions["waypoint.db"]
    with db.reading() as s:
        attachment_id = s.query(Attachment).filter_by(instance_id=iid).one().id
    download = jdoe.get(f"/attachments/{attachment_id}")
    assert download.data == PDF and download.headers["Cache-Control"] == "no-store"


def test_attachments_stored_in_clear_before_are_still_read(app, as_user):
    iid = start(app, "small_approval", {"title": "Old scan", "amount": 5}, "jdoe")
    store, db = app.extensions["waypoint.attachments"], app.extensions["waypoint.db"]
    engine = app.extensions["waypoint.engine"]
    with db.transaction() as s:
        from engine.models import ProcessInstance

        attachment = store.add(s, s.get(ProcessInstance, iid), get_user(s, "jdoe"), "old.pdf", PDF, engine.clock.now())
        attachment_id = attachment.id
    path = store.path_for(attachment.sha256)
    path.write_bytes(PDF)  # as an earlier release left it
    assert as_user("jdoe").get(f"/attachments/{attachment_id}").data == PDF


def searches(app) -> list[tuple[str, str, str, list]]:  # type: ignore[no-untyped-def]
    from engine.privacy.records import subject_searches

    with app.extensions["waypoint.db"].reading() as s:
        return [(q.user.username, q.person, q.reason, q.found) for q in reversed(subject_searches(s))]


def test_subject_access_is_no_oracle_and_every_search_is_recorded(app, as_user):
    """F10: a passport number or birth date finds nothing, and a search that finds nothing is on record too."""
    iid = start(app, "delegation_visit", VISIT, "lokafor")
    admin = as_user("admin")
    for needle in ("C4X9T4821", "1970-04-21", "Anna Weber", "anna"):
        page = admin.post("/admin/subject-access", {"person": needle, "reason": "visitor's request", "format": "page"})
        assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert searches(app) == [
        ("admin", "C4X9T4821", "visitor's request", []),  # a passport number is not a name
        ("admin", "1970-04-21", "visitor's request", []),
        ("admin", "Anna Weber", "visitor's request", [iid]),
        ("admin", "anna", "visitor's request", [iid]),  # part of a name, from 3 characters
    ]
    assert f"/requests/{iid}" in admin.post("/admin/subject-access", {"person": "lokafor", "reason": "r"}).text
    listed = admin.get("/admin/subject-access").text
    assert 'id="sa-searches"' in listed and "C4X9T4821" in listed  # the search itself is what is recorded


def test_subject_access_needs_a_post_with_a_reason(app, as_user):
    start(app, "delegation_visit", VISIT, "lokafor")
    admin = as_user("admin")
    old_style = admin.get("/admin/subject-access?person=Anna+Weber&format=json")  # never in a URL or a server log
    assert old_style.status_code == 200 and "Anna Weber" not in old_style.text and old_style.mimetype == "text/html"
    refused = admin.post("/admin/subject-access", {"person": "Anna Weber", "reason": " ", "format": "json"})
    assert refused.status_code == 400 and refused.mimetype == "text/html"
    assert searches(app) == []
    assert as_user("cgagnon").post("/admin/subject-access", {"person": "Anna Weber", "reason": "x"}).status_code == 403

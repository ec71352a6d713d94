"""Starting requests from the catalogue, the request page with its diagram, withdrawing, files."""

from __future__ import annotations

import re

from tests.web.conftest import task_ids

CONFERENCE_FORM = {
    "event_name": "Interpol General Assembly",
    "organizer": "Interpol",
    "city": "Lyon",
    "country": "France",
    "start_date": "2026-12-04",
    "end_date": "2026-12-07",
    "attendance_role": "presenter",
    "purpose": "Present the office's work",
    "benefit": "Cooperation",
    "costs.registration": "500",
    "costs.airfare": "1 800,50",
    "costs.lodging": "1200",
    "costs.per_diem": "400",
    "costs.other": "0",
    "funding_source": "own_unit",
    "members_attending": "1",
}


def test_catalogue_depends_on_roles(as_user):
    jdoe = as_user("jdoe").get("/requests/new").text
    assert "/requests/new/conference_attendance" in jdoe and "/requests/new/passport_visa" in jdoe
    assert "/requests/new/small_approval" in jdoe  # its start event is in the Requester lane


def test_start_a_conference_request_from_the_form(app, as_user):
    jdoe = as_user("jdoe")
    form = jdoe.get("/requests/new/conference_attendance")
    assert form.status_code == 200 and 'name="costs.airfare"' in form.text and 'for="f-event_name"' in form.text
    done = jdoe.post("/requests/new/conference_attendance", CONFERENCE_FORM)
    assert done.status_code == 302, done.text[-2000:]
    instance_id = int(done.headers["Location"].rsplit("/", 1)[1])
    page = jdoe.get(f"/requests/{instance_id}")
    assert page.status_code == 200
    assert "Interpol General Assembly" in page.text and "Lyon" in page.text
    assert "$1,800.50" in page.text  # the French decimal comma was understood, money shown per locale
    assert 'data-current="' in page.text
    current = re.search(r'data-current="([^"]*)"', page.text).group(1).split()
    done_ids = re.search(r'data-done="([^"]*)"', page.text).group(1).split()
    assert current and all(c not in done_ids for c in current)
    xml = jdoe.get(f"/requests/{instance_id}/diagram.bpmn")
    assert xml.status_code == 200 and xml.mimetype == "application/xml" and current[0] in xml.text
    msmith = as_user("msmith")
    assert task_ids(msmith.get("/inbox").text)


def test_start_form_errors_are_shown_next_to_fields(as_user):
    jdoe = as_user("jdoe")
    bad = dict(CONFERENCE_FORM, **{"costs.airfare": "lots", "end_date": "2026-12-01", "event_name": ""})
    page = jdoe.post("/requests/new/conference_attendance", bad)
    assert page.status_code == 400
    assert 'id="f-costs-airfare-error"' in page.text and 'aria-invalid="true"' in page.text
    assert 'value="Lyon"' in page.text  # entered values are kept


def test_request_page_visibility(app, as_user):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        iid = engine.start(s, "small_approval", {"title": "Private", "amount": 5}, "jdoe").id
    assert as_user("jdoe").get(f"/requests/{iid}").status_code == 200
    assert as_user("msmith").get(f"/requests/{iid}").status_code == 200  # holds its task
    assert as_user("cgagnon").get(f"/requests/{iid}").status_code == 200  # ITV coordinator oversight
    assert as_user("fchan").get(f"/requests/{iid}").status_code == 404
    assert as_user("fchan").get("/requests/999999").status_code == 404


def test_withdraw(app, as_user):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        iid = engine.start(s, "small_approval", {"title": "Oops", "amount": 5}, "jdoe").id
    assert "Withdraw" in as_user("jdoe").get(f"/requests/{iid}").text
    assert "Withdraw" not in as_user("msmith").get(f"/requests/{iid}").text
    as_user("jdoe").post(f"/requests/{iid}/cancel", {"reason": "trip cancelled"})
    page = as_user("jdoe").get(f"/requests/{iid}")
    assert "cancelled" in page.text and "trip cancelled" in page.text


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_attachments_upload_and_download(app, as_user):
    import io

    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        iid = engine.start(s, "small_approval", {"title": "Files", "amount": 5}, "jdoe").id
    jdoe = as_user("jdoe")
    done = jdoe.post(
        f"/requests/{iid}/attachments",
        {"file": (io.BytesIO(PDF), "../../etc/quote.pdf")},
        content_type="multipart/form-data",
    )
    assert done.status_code == 302
    page = jdoe.get(f"/requests/{iid}")
    link = re.search(r'href="(/attachments/\d+)">([^<]+)</a>', page.text)
    assert link and link.group(2) == "quote.pdf"
    file = jdoe.get(link.group(1))
    assert file.status_code == 200 and file.data == PDF and "attachment" in file.headers["Content-Disposition"]
    file.close()
    assert as_user("fchan").get(link.group(1)).status_code == 404  # may not see the request
    exe = jdoe.post(
        f"/requests/{iid}/attachments",
        {"file": (io.BytesIO(b"MZ\x90\x00"), "x.pdf")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "only PDF, PNG and JPEG" in exe.text
    # the request size cap (12 MB in production) answers 413 before the file is read; a small cap
    # here keeps the test client's body in memory
    app.config["MAX_CONTENT_LENGTH"] = 100_000
    huge = jdoe.post(
        f"/requests/{iid}/attachments",
        {"file": (io.BytesIO(b"%PDF" + b"0" * 200_000), "big.pdf")},
        content_type="multipart/form-data",
    )
    assert huge.status_code == 413 and "too large" in huge.text


def test_error_pages(as_user):
    jdoe = as_user("jdoe")
    assert jdoe.get("/no/such/page").status_code == 404
    assert jdoe.get("/admin/users").status_code == 403
    admin = as_user("admin").get("/admin/users")
    assert admin.status_code == 200 and "msmith" in admin.text


def test_the_withdraw_button_follows_the_engine(app, as_user, engine, monkeypatch):
    from engine import Engine, InvalidState

    db = app.extensions["waypoint.db"]
    with db.transaction() as s:
        iid = engine.start(s, "small_approval", {"title": "Laptop", "amount": 1000}, "jdoe").id
    withdraw = "Withdraw this request"
    assert withdraw in as_user("jdoe").get(f"/requests/{iid}").text  # the requester
    assert withdraw in as_user("admin").get(f"/requests/{iid}").text
    assert withdraw not in as_user("msmith").get(f"/requests/{iid}").text  # the approver sees it, may not cancel
    monkeypatch.setattr(Engine, "may_cancel", lambda self, s, actor, instance: InvalidState("already_approved"))
    assert withdraw not in as_user("jdoe").get(f"/requests/{iid}").text


def test_member_names_are_labelled_as_names_not_sites(app, as_user):
    """Two forms' `name` fields (a site's and a member's) keep their own titles on the request page."""
    from tests.workflows.test_forms import VISIT

    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        iid = engine.start(s, "delegation_visit", VISIT, "lokafor").id
    page = as_user("cgagnon").get(f"/requests/{iid}").text  # cgagnon reads French
    members = page[page.index("Nom complet") - 300 :]
    assert "Nom complet" in page and "Lieu" in page
    assert '<th scope="col">Lieu</th><th scope="col">Titre ou grade' not in members
    english = as_user("lokafor").get(f"/requests/{iid}").text
    assert '<th scope="col">Full name</th>' in english and '<th scope="col">Site</th>' in english


def test_the_timeline_names_decisions_by_their_labels_in_both_languages(app, as_user):
    """A decision reads as its form's choice ("Return for changes"), never its value ("return")."""
    from engine.queries.tasks import list_tasks
    from tests.workflows.test_forms import CONFERENCE

    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        iid = engine.start(s, "conference_attendance", CONFERENCE, "jdoe").id
    with db.transaction() as s:
        [task] = list_tasks(s, instance_id=iid)
        engine.complete(s, task.id, "msmith", {"supervisor_decision": "return", "supervisor_comment": "Add the agenda"})
    english = as_user("jdoe").get(f"/requests/{iid}").text
    timeline = english[english.index('class="timeline"') :]
    assert "Return for changes" in timeline and ": return<" not in timeline.replace(" ", "")
    french = as_user("cgagnon").get(f"/requests/{iid}").text
    assert "Renvoyer pour modification" in french[french.index('class="timeline"') :]

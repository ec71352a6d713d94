"""What a French reader reads that the engine, timers, scripts and lists wrote (issue 18 item 9):
the timeline's actor "system", its quotes and the messages outside events deliver, a reason the
engine wrote, choices shown read-only (a number's label, a list of countries), the reference a
script gives each delegation member, the reports' country filter and the French task email.
The English reader keeps his words. On SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from flask import Flask
from werkzeug.datastructures import MultiDict

from engine.models import TaskRecord
from tests.web.test_i18n import _outbox
from tests.web.test_record_outside_events import waiting_for_passport
from tests.workflows.test_forms import CONFERENCE, MEMBER, VISIT
from web.render import build_fields, label_map, parse_form

NBSP = "\u00a0"


def _text(page: str) -> str:
    """A page's words: tags out, entities decoded, runs of white space as one space."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"[ \t\r\n]+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _timeline(page: str) -> str:
    return _text(page.split('<ol class="timeline">', 1)[1].split("</ol>", 1)[0])


def _complete(app: Flask, engine, iid: int, element: str, who: str, data: dict) -> None:  # type: ignore[no-untyped-def]
    with app.extensions["waypoint.db"].transaction() as s:
        row = s.query(TaskRecord).filter_by(instance_id=iid, element_id=element, status="ready").one()
        engine.complete(s, row.id, who, data)


def _dates(clock, days: int = 40) -> dict[str, str]:  # type: ignore[no-untyped-def]
    start = clock.now().date() + timedelta(days=days)
    return {"start_date": start.isoformat(), "end_date": (start + timedelta(days=2)).isoformat()}


def test_the_timeline_of_a_rejected_request_in_french(app, engine, as_user, clock):
    """The engine ends the request ("system"), the step names are quoted the French way."""
    db = app.extensions["waypoint.db"]
    with db.transaction() as s:
        iid = engine.start(s, "conference_attendance", {**CONFERENCE, **_dates(clock)}, "rmartin").id
    _complete(
        app,
        engine,
        iid,
        "UserTask_supervisor_review",
        "msmith",
        {"supervisor_decision": "reject", "supervisor_comment": "Pas de budget"},
    )

    french = _timeline(as_user("rmartin").get(f"/requests/{iid}").text)
    assert "système terminée" in french and "system" not in french
    assert f"tâche terminée «{NBSP}Examen par le superviseur{NBSP}»" in french and "“" not in french
    assert f"décision{NBSP}: Rejeter" in french

    english = _timeline(as_user("msmith").get(f"/requests/{iid}").text)
    assert "system ended" in english and "task completed “Supervisor review”" in english


def test_a_recorded_outside_event_reads_as_its_step(app, engine, as_user):
    """The message's name (passport_issued, an identifier) is not repeated as a detail: the
    French reader reads the wait's French name, the English one the wait as before."""
    iid = waiting_for_passport(app, engine)
    officer = as_user("ppatel")
    action = re.search(r'action="(/requests/\d+/record/\d+)"', officer.get(f"/requests/{iid}").text).group(1)
    assert officer.post(action, {"passport_number": "DP123456", "expiry_date": "2032-05-01"}).status_code == 302

    french = _timeline(as_user("cgagnon").get(f"/requests/{iid}").text)  # the ITV coordinator sees it
    assert f"ppatel message reçu «{NBSP}Attendre la délivrance du passeport{NBSP}»" in french
    assert "passport_issued" not in french and "message :" not in french
    english = _timeline(officer.get(f"/requests/{iid}").text)
    assert "message received “passport_issued”" in english


def test_a_reason_the_engine_wrote_is_translated(app, engine, as_user, clock):
    """Deactivating the assigned supervisor moves the task with the engine's reason."""
    from engine.people.lifecycle import deactivate

    db = app.extensions["waypoint.db"]
    with db.transaction() as s:
        iid = engine.start(s, "conference_attendance", {**CONFERENCE, **_dates(clock)}, "rmartin").id
    with db.transaction() as s:
        deactivate(s, "msmith", "admin", clock.now())
    french = _timeline(as_user("rmartin").get(f"/requests/{iid}").text)
    assert f"raison{NBSP}: personne désactivée" in french and "person deactivated" not in french


def test_read_only_choices_lists_and_the_member_reference_in_french(app, engine, as_user, clock):
    """A delegation's site sensitivity (a number choice) reads as its label; a member's reference
    (a script fills it in) has a French column title; a passport request's destinations are names."""
    db = app.extensions["waypoint.db"]
    visit = {**VISIT, **_dates(clock, 50), "sites": [{"name": "HQ", "sensitivity": 2}], "members": [MEMBER]}
    with db.transaction() as s:
        visit_id = engine.start(s, "delegation_visit", visit, "htremblay").id
    page = _text(as_user("htremblay").get(f"/requests/{visit_id}").text)
    assert "HQ 2 - Aires opérationnelles à accès restreint" in page
    assert "Numéro de passeport Référence" in page and " Ref " not in page

    start = clock.now().date() + timedelta(days=30)
    passport = {
        "traveller_name": "Rémi Martin",
        "trip_start_date": start.isoformat(),
        "trip_end_date": (start + timedelta(days=4)).isoformat(),
        "destinations": ["CN", "FR"],
        "travel_purpose": "Réunion",
        "passport_type": "official",
        "current_passport": {"held": True, "number": "AB123456", "expiry": "2031-01-01"},
    }
    with db.transaction() as s:
        passport_id = engine.start(s, "passport_visa", passport, "rmartin").id
    french = _text(as_user("rmartin").get(f"/requests/{passport_id}").text)
    assert "Destinations (pays) Chine, France" in french and "CN, FR" not in french
    english = _text(as_user("ppatel").get(f"/requests/{passport_id}").text)
    assert "Destinations (countries) China, France" in english


def test_a_read_only_property_gets_no_input(app):
    """`readOnly` (the member's reference): not a field of the form, not taken from a post, but
    titled for the read-only display."""
    import json

    from tests.conftest import ROOT

    schema = json.loads((ROOT / "bpmn" / "forms" / "delegation_request.schema.json").read_text())
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        members = next(f for f in build_fields(schema, {"members": [MEMBER]}) if f.key == "members")
        assert [f.key for f in members.rows[0]] == ["name", "title", "nationality", "date_of_birth", "passport_number"]
        assert all(f.key != "ref" for f in members.template)
        data, _ = parse_form(schema, MultiDict({"members.0.name": "Hans Weber", "members.0.ref": "M9"}))
        assert data["members"] == [{"name": "Hans Weber"}]
        labels = label_map([schema])
        assert labels["members.ref"] == "Référence" and labels[("country", "DE")] == "Allemagne"


def test_the_reports_country_filter_names_countries(app, engine, as_user, clock):
    db = app.extensions["waypoint.db"]
    with db.transaction() as s:
        engine.start(s, "delegation_visit", {**VISIT, "country": "DE", **_dates(clock, 50)}, "htremblay")
    page = as_user("cgagnon").get("/reports").text
    select = page.split('id="r-country"', 1)[1].split("</select>", 1)[0]
    assert re.search(r'<option value="DE"\s*>Allemagne</option>', select), select


def test_the_french_task_email_numbers_the_request_the_french_way(app, engine, clock):
    db = app.extensions["waypoint.db"]
    with db.transaction() as s:
        iid = engine.start(s, "conference_attendance", {**CONFERENCE, **_dates(clock)}, "lokafor").id
    [email] = _outbox(app, kind="new_task", instance_id=iid)  # to cgagnon, lokafor's manager, in French
    assert email.recipient_name == "Chantal Gagnon"
    assert f"(Participation à une conférence, demande nº{NBSP}{iid})" in email.body_text
    assert f"demande nº{NBSP}{iid}" in email.body_html and "demande no " not in email.body_text

"""The summary line of a request in the reader's language (issue 18, item 9): written in English and
in French at every save, shown in French on French pages and in French emails, searchable in both."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.clock import frozen_time
from engine.queries.tasks import instance_view
from tests.web.conftest import task_ids
from tests.web.test_i18n import CONFERENCE, _outbox
from workflows.conference_attendance import summary as conference_summary
from workflows.delegation_visit import screening_summary
from workflows.delegation_visit import summary as delegation_summary
from workflows.passport_visa import summary as passport_summary

IN_2027 = datetime(2027, 1, 15, 15, 0, tzinfo=UTC)
FRENCH_LINE = "Lina Okafor — Assemblée générale d'Interpol, Lyon, 8–11 mars — 4\u00a0310\u00a0$"


def test_each_process_writes_its_line_in_french():
    with frozen_time(IN_2027):
        assert conference_summary(CONFERENCE, "fr") == FRENCH_LINE.replace("Lina Okafor — ", "")
        assert conference_summary({**CONFERENCE, "costs": {"other": 12.5}}, "fr").endswith("12,50\u00a0$")
        assert conference_summary({**CONFERENCE, "costs": {"other": 12.5}}).endswith("$12.50")
        visit = {"agency": "BKA", "country": "DE", "members": [{}, {}], "host_unit": "Federal Policing"}
        visit |= {"start_date": "2027-11-04", "end_date": "2027-11-07"}
        assert (
            delegation_summary(visit, "fr") == "BKA (Allemagne) — 2 membres — 4–7 nov. — unité hôte : Federal Policing"
        )
        assert delegation_summary(visit) == "BKA (Germany) — 2 members — 4–7 Nov — host: Federal Policing"
        trip = {"traveller_name": "Jane Doe", "destinations": ["DE", "CN"], "trip_start_date": "2028-12-30"}
        trip["trip_end_date"] = "2029-01-02"
        assert (
            passport_summary(trip, "fr")
            == "Jane Doe — documents de voyage : Allemagne, Chine — 30 déc. 2028–2 janv. 2029"
        )
        assert (
            screening_summary({"member": {"ref": "M2"}, "agency": "BKA"}, "fr")
            == "Contrôle de sécurité — membre M2 — BKA"
        )


def test_french_readers_see_the_french_line_on_pages_and_in_emails(app, as_user, clock):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    clock.set(IN_2027)
    with db.transaction() as s:
        instance = engine.start(s, "conference_attendance", CONFERENCE, "lokafor")
        instance_id, english = instance.id, instance.summary
    assert english == "Lina Okafor — Assemblée générale d'Interpol, Lyon, 8–11 Mar — $4,310"
    cgagnon = as_user("cgagnon")  # lokafor's manager; her pages are in French
    inbox = cgagnon.get("/inbox").text
    assert FRENCH_LINE.replace("'", "&#39;") in inbox and "8–11 Mar" not in inbox
    [task_id] = task_ids(inbox)
    shown = FRENCH_LINE.replace("'", "&#39;")
    assert shown in cgagnon.get(f"/tasks/{task_id}").text
    assert shown in cgagnon.get(f"/requests/{instance_id}").text
    assert shown in cgagnon.get("/requests", query_string={"search": "mars"}).text  # searched in French
    [new_task] = _outbox(app, kind="new_task", task_id=task_id)
    assert FRENCH_LINE in new_task.body_text

    dlee = as_user("dlee")  # an English reader who sees every request (senior management)
    page = dlee.get(f"/requests/{instance_id}").text
    assert english.replace("'", "&#39;") in page and FRENCH_LINE.replace("'", "&#39;") not in page
    with db.reading() as s:  # the API gives both lines
        view = instance_view(s, instance_id)
    assert (view["summary"], view["summary_fr"]) == (english, FRENCH_LINE)

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


def test_the_diagram_reads_in_french_for_a_french_reader(app, as_user):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        instance_id = engine.start(s, "conference_attendance", CONFERENCE, "lokafor").id
    french = as_user("cgagnon").get(f"/requests/{instance_id}/diagram.bpmn").text
    for label in ("Examen par le superviseur", "Superviseur", "Approuver", "Décision du superviseur?"):
        assert f'name="{label}"' in french
    assert 'name="Supervisor review"' not in french and 'name="Approve"' not in french
    english = as_user("dlee").get(f"/requests/{instance_id}/diagram.bpmn").text
    assert 'name="Supervisor review"' in english and 'name="Approuver"' not in english


DRAWN = {"participant", "sequenceFlow", "subProcess", "callActivity", "task"}


def test_every_label_of_the_shipped_diagrams_has_its_french():
    """What French readers see on a request's diagram: every named pool, step, event, gateway and
    flow of bpmn/ carries a `name_fr` property (lanes are roles: the roles table holds their French)."""
    from engine.definitions import NS, node_property
    from engine.xmlsafe import parse_xml
    from tests.workflows.walk import BPMN

    missing = []
    for path in sorted(BPMN.glob("*.bpmn")):
        for node in parse_xml(path.read_text(), path.name).xpath("//bpmn:*[@name]", namespaces=NS):
            kind = node.tag.rsplit("}", 1)[-1]
            drawn = kind in DRAWN or kind.endswith(("Task", "Event", "Gateway"))
            if drawn and not node_property(node, "name_fr"):
                missing.append(f"{path.name}: {node.get('id')} '{node.get('name')}'")
    assert missing == []


def test_a_step_s_french_name_read_from_its_deployed_files(app):
    from sqlalchemy import select

    from engine.bilingual import french_step_name
    from engine.models import ProcessDefinition

    with app.extensions["waypoint.db"].reading() as s:
        definition = s.scalars(
            select(ProcessDefinition).where(ProcessDefinition.key == "conference_attendance")
        ).first()
        assert french_step_name(s, definition.id, "UserTask_supervisor_review") == "Examen par le superviseur"
        assert french_step_name(s, definition.id, "Flow_supervisor_approve") == "Approuver"
        assert french_step_name(s, definition.id, "no_such_element") is None

"""The French readers' walk (issue 18 item 9), in Chromium: one request of each process from
filing to its end, the French-speaking demo people (rmartin requester, cgagnon ITV coordinator,
htremblay host unit) reading what scripts, timers, decision tables and outside events wrote, and
the emails they got, in French; the English-speaking people do the steps that are theirs.
Demo people keep their languages; start dates follow the test clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.models import OutboxMessage
from tests.browser import walking

pytestmark = pytest.mark.browser

NBSP = "\u00a0"
#: English the engine or a page used to show French readers (the timeline's actor and quotes,
#: message identifiers, a member's reference column, country codes)
ENGLISH_TIMELINE = ("system", "“", "”", "passport_issued", "visa_decision", "task completed", "message received")


def french(page) -> None:  # type: ignore[no-untyped-def]
    assert page.locator("html[lang=fr]").count() == 1


def timeline(walk: walking.Walk, who: str, instance_id: int) -> str:
    page = walk.request_page(who, instance_id)
    french(page)
    text = page.inner_text(".timeline")
    for english in ENGLISH_TIMELINE:
        assert english not in text, (english, text)
    return text


def emails_to(live, name: str, instance_id: int) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    with live.db.reading() as s:
        query = select(OutboxMessage).where(
            OutboxMessage.recipient_name == name, OutboxMessage.instance_id == instance_id
        )
        return list(s.scalars(query.order_by(OutboxMessage.id)))


def test_a_conference_in_french_to_the_trip_report(walk, live):
    start, end = walk.dates(ahead=45, lasting=3)
    rmartin = walk.new_request("rmartin", "conference_attendance")
    french(rmartin)
    costs = {"registration": "300", "airfare": "1500", "lodging": "900", "per_diem": "300", "other": "0"}
    why = ("Échanges sur la coopération", "Partenariats")
    walking.fill_conference_request(
        rmartin, ("Congrès Rive-Sud", "Europol", "Lyon", "FR"), (start, end), "attendee", why, costs, "own_unit"
    )
    assert f"Total{NBSP}:" in rmartin.inner_text("[data-money-total]")
    instance_id = walking.file_request(rmartin)
    assert "En attente d’approbation par Marc Smith" in rmartin.inner_text("dl.facts")

    walking.approve_conference(walk, instance_id, "Rive-Sud", cost_centre="CC-7730")
    cgagnon = walk.open_task("cgagnon", instance_id, "Enregistrer le déplacement", "Rive-Sud")
    french(cgagnon)
    cgagnon.fill("#f-itv_file_number", f"ITV-F{instance_id}")
    walk.finish(cgagnon, instance_id)

    assert walk.move_clock_to(end + timedelta(days=1)) >= 1  # the trip is over: the report opens
    rmartin = walk.open_task("rmartin", instance_id, "Soumettre le rapport de voyage", "Rive-Sud")
    walking.file_trip_report(walk, rmartin, instance_id, "Trois nouveaux contacts", total_cost="2950")

    walk.assert_closed("rmartin", instance_id, "Approuvée, rapport de voyage déposé", "Cette demande est fermée.")
    seen = timeline(walk, "rmartin", instance_id)
    assert f"système échéance atteinte «{NBSP}Voyage terminé{NBSP}»" in seen, seen
    assert f"msmith tâche terminée «{NBSP}Examen par le superviseur{NBSP}»" in seen
    assert f"décision{NBSP}: Approuver" in seen

    mails = emails_to(live, "Rémi Martin", instance_id)
    assert {m.kind for m in mails} >= {"new_task", "calendar", "outcome"}
    report = next(m for m in mails if m.kind == "new_task")
    assert f"Soumettre le rapport de voyage (Participation à une conférence, demande nº{NBSP}{instance_id})" in (
        report.body_text
    )
    for mail in mails:
        words = mail.subject + mail.body_text
        assert "Submit trip report" not in words and "request #" not in words and "Conference attendance" not in words
    walk.no_server_error()


def test_passport_and_visa_read_in_french_through_the_recorded_events(walk, live):
    start, end = walk.dates(ahead=35, lasting=4)
    rmartin = walk.new_request("rmartin", "passport_visa")
    walking.fill_documents_request(rmartin, (start, end), "Réunion à Pékin", ("AB765432", end + timedelta(days=60)))
    instance_id = walking.file_request(rmartin)
    so_far = rmartin.inner_text("main")
    assert "Chine, France" in so_far and "CN, FR" not in so_far

    walking.prepare_passport(walk, instance_id, "Chine", f"PPT-F{instance_id}")
    walking.submit_passport(walk, instance_id, "Chine")
    assert "En attente de Passeport Canada" in walk.where_it_stands("rmartin", instance_id)

    renewed = {"passport_number": "DP765432", "expiry_date": (walk.today() + timedelta(days=3650)).isoformat()}
    walking.record_outside_event(walk.request_page("ppatel", instance_id), "Passport Canada", fill=renewed)
    walking.apply_for_visa(walk, instance_id, "Chine", f"V-CN-F{instance_id}")
    assert "En attente de la mission qui délivre le visa" in walk.where_it_stands("rmartin", instance_id)

    walking.record_visa_granted(walk, instance_id)
    seen = timeline(walk, "rmartin", instance_id)  # the recorded events, by the waits' French names
    assert f"ppatel message reçu «{NBSP}Attendre la délivrance du passeport{NBSP}»" in seen, seen
    assert f"message reçu «{NBSP}Attendre la décision de la mission{NBSP}»" in seen, seen

    ppatel = walk.open_task("ppatel", instance_id, "Sign out passport before departure", "Chine")
    walking.sign_out_passport(walk, ppatel, instance_id)
    walk.move_clock_to(end + timedelta(days=1))
    ppatel = walk.open_task("ppatel", instance_id, "Record passport return", "Chine")
    ppatel.fill("#f-passport_returned_on", walk.today().isoformat())
    walk.finish(ppatel, instance_id, "passport_condition", "good")

    walk.assert_closed("rmartin", instance_id, "Documents délivrés, passeport rendu", "Cette demande est fermée.")
    timeline(walk, "rmartin", instance_id)
    [outcome] = [m for m in emails_to(live, "Rémi Martin", instance_id) if m.kind == "outcome"]
    assert "Documents délivrés, passeport rendu" in outcome.subject and "documents de voyage" in outcome.subject
    walk.no_server_error()


def test_a_delegation_visit_read_in_french_by_its_host_and_the_itv_office(walk, live):
    start, end = walk.dates(ahead=55, lasting=1)
    search = "Frenchwalk"
    host = walk.as_("htremblay")
    instance_id = walking.file_visit(host, live, "Frenchwalk Agency", start, end, members=1)
    host.goto(f"{live.url}/requests/{instance_id}")
    french(host)
    so_far = host.inner_text("main")
    assert "Numéro de passeport\tRéférence" in so_far, so_far  # the reference a script gives each member
    assert "\tRef\n" not in so_far and "HQ conference centre\t1 - Aires publiques" in so_far

    walking.clear_screening(walk, walking.screenings(walk, search).filter(has_text="Screen visitor M1"))

    # mgirard approves for the host unit (not the filer's to approve), then the ITV office
    cgagnon = walking.approve_visit(walk, instance_id, search, agenda="Séances d'information")

    cgagnon.goto(f"{live.url}/reports")
    countries = cgagnon.locator("#r-country option").all_inner_texts()
    assert "Allemagne" in countries and "DE" not in countries

    walk.move_clock_to(end + timedelta(days=1))
    walking.write_visit_report(walk, "htremblay", instance_id, "Rapport après la visite", search, "Visite utile")

    walk.assert_closed("htremblay", instance_id, "Visite terminée, rapport déposé", "Cette demande est fermée.")
    seen = timeline(walk, "htremblay", instance_id)
    assert f"système échéance atteinte «{NBSP}Visite terminée{NBSP}»" in seen, seen
    cgagnon = walk.as_("cgagnon")
    cgagnon.goto(f"{live.url}/requests?q={search}")
    row = cgagnon.inner_text("table tbody tr")
    assert "Visite d'une délégation étrangère" in row and "Fermée" in row, row
    mails = emails_to(live, "Hugo Tremblay", instance_id)
    assert {"calendar", "new_task", "outcome"} <= {m.kind for m in mails}
    for mail in mails:
        assert "Post-visit report" not in mail.body_text and "request #" not in mail.body_text
    walk.no_server_error()

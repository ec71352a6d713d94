"""The French readers' walk (issue 18 item 9), in Chromium: one request of each process from
filing to its end, the French-speaking demo people (rmartin requester, cgagnon ITV coordinator,
htremblay host unit) reading what scripts, timers, decision tables and outside events wrote, and
the emails they got, in French; the English-speaking people do the steps that are theirs.
Demo people keep their languages; start dates follow the test clock."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.models import OutboxMessage
from tests.browser.test_office_walk import Walk, file_request, file_visit

pytestmark = pytest.mark.browser

NBSP = "\u00a0"
#: English the engine or a page used to show French readers (the timeline's actor and quotes,
#: message identifiers, a member's reference column, country codes)
ENGLISH_TIMELINE = ("system", "“", "”", "passport_issued", "visa_decision", "task completed", "message received")


@pytest.fixture
def walk(open_page, live):  # type: ignore[no-untyped-def]
    before = live.clock.now()
    yield Walk(open_page, live)
    live.clock.set(before)


def french(page) -> None:  # type: ignore[no-untyped-def]
    assert page.locator("html[lang=fr]").count() == 1


def timeline(walk: Walk, who: str, instance_id: int) -> str:
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
    start = walk.today() + timedelta(days=45)
    end = start + timedelta(days=3)
    rmartin = walk.as_("rmartin")
    rmartin.goto(f"{live.url}/requests/new/conference_attendance")
    french(rmartin)
    rmartin.fill("#f-event_name", "Congrès Rive-Sud")
    rmartin.fill("#f-organizer", "Europol")
    rmartin.fill("#f-city", "Lyon")
    rmartin.select_option("#f-country", "FR")
    rmartin.fill("#f-start_date", start.isoformat())
    rmartin.fill("#f-end_date", end.isoformat())
    rmartin.check("input[name=attendance_role][value=attendee]")
    rmartin.fill("#f-purpose", "Échanges sur la coopération")
    rmartin.fill("#f-benefit", "Partenariats")
    for item, amount in (("registration", "300"), ("airfare", "1500"), ("lodging", "900"), ("per_diem", "300")):
        rmartin.fill(f"#f-costs-{item}", amount)
    rmartin.fill("#f-costs-other", "0")
    rmartin.select_option("#f-funding_source", "own_unit")
    rmartin.fill("#f-members_attending", "1")
    assert f"Total{NBSP}:" in rmartin.inner_text("[data-money-total]")
    instance_id = file_request(rmartin)
    assert "En attente d’approbation par Marc Smith" in rmartin.inner_text("dl.facts")

    msmith = walk.open_task("msmith", instance_id, "Supervisor review", "Rive-Sud")
    walk.finish(msmith, instance_id, "supervisor_decision", "approve")
    fchan = walk.open_task("fchan", instance_id, "Confirm funds", "Rive-Sud")
    fchan.fill("#f-cost_centre", "CC-7730")
    walk.finish(fchan, instance_id, "finance_decision", "confirm")
    cgagnon = walk.open_task("cgagnon", instance_id, "Enregistrer le déplacement", "Rive-Sud")
    french(cgagnon)
    cgagnon.fill("#f-itv_file_number", f"ITV-F{instance_id}")
    walk.finish(cgagnon, instance_id)

    assert walk.move_clock_to(end + timedelta(days=1)) >= 1  # the trip is over: the report opens
    rmartin = walk.open_task("rmartin", instance_id, "Soumettre le rapport de voyage", "Rive-Sud")
    rmartin.fill("#f-report_summary", "Trois nouveaux contacts")
    rmartin.check("input[name=objectives_met][value=yes]")
    rmartin.fill("#f-actual_total_cost", "2950")
    walk.finish(rmartin, instance_id)

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
    start = walk.today() + timedelta(days=35)
    end = start + timedelta(days=4)
    rmartin = walk.as_("rmartin")
    rmartin.goto(f"{live.url}/requests/new/passport_visa")
    rmartin.fill("#f-traveller_name", "Rémi Martin")
    rmartin.fill("#f-trip_start_date", start.isoformat())
    rmartin.fill("#f-trip_end_date", end.isoformat())
    rmartin.check("input[name=destinations][value=FR]")
    rmartin.check("input[name=destinations][value=CN]")  # China needs a visa
    rmartin.fill("#f-travel_purpose", "Réunion à Pékin")
    rmartin.check("input[name=passport_type][value=official]")
    rmartin.check("#f-current_passport-held")
    rmartin.fill("#f-current_passport-number", "AB765432")
    rmartin.fill("#f-current_passport-expiry", (end + timedelta(days=60)).isoformat())
    instance_id = file_request(rmartin)
    so_far = rmartin.inner_text("main")
    assert "Chine, France" in so_far and "CN, FR" not in so_far

    ppatel = walk.open_task("ppatel", instance_id, "Prepare passport application", "Chine")
    ppatel.fill("#f-application_ref", f"PPT-F{instance_id}")
    walk.finish(ppatel, instance_id, "application_type", "renewal")
    rmartin = walk.open_task("rmartin", instance_id, "Fournir les photos et les formulaires", "Chine")
    rmartin.check("#f-photos_supplied")
    rmartin.check("#f-application_form_signed")
    walk.finish(rmartin, instance_id)
    ppatel = walk.open_task("ppatel", instance_id, "Submit passport application", "Chine")
    ppatel.fill("#f-passport_submitted_on", walk.today().isoformat())
    walk.finish(ppatel, instance_id, "submission_channel", "courier")
    assert "En attente de Passeport Canada" in walk.where_it_stands("rmartin", instance_id)

    ppatel = walk.request_page("ppatel", instance_id)
    passport = ppatel.locator(".outside-wait").filter(has_text="Passport Canada")
    passport.locator("summary").click()
    passport.locator("[name=passport_number]").fill("DP765432")
    passport.locator("[name=expiry_date]").fill((walk.today() + timedelta(days=3650)).isoformat())
    passport.locator("button[type=submit]").click()
    ppatel.wait_for_load_state()
    ppatel = walk.open_task("ppatel", instance_id, "Prepare visa application", "Chine")
    ppatel.fill("#f-visa_ref", f"V-CN-F{instance_id}")
    ppatel.fill("#f-visa_mission", "Embassy of China")
    walk.finish(ppatel, instance_id)
    ppatel = walk.open_task("ppatel", instance_id, "Submit visa application", "Chine")
    ppatel.fill("#f-visa_submitted_on", walk.today().isoformat())
    walk.finish(ppatel, instance_id)
    assert "En attente de la mission qui délivre le visa" in walk.where_it_stands("rmartin", instance_id)

    ppatel = walk.request_page("ppatel", instance_id)
    visa = ppatel.locator(".outside-wait").filter(has_text="Record visa decision")
    visa.locator("summary").click()
    visa.locator("input[name=decision][value=granted]").check()
    visa.locator("[name=decided_on]").fill(walk.today().isoformat())
    visa.locator("button[type=submit]").click()
    ppatel.wait_for_load_state()
    seen = timeline(walk, "rmartin", instance_id)  # the recorded events, by the waits' French names
    assert f"ppatel message reçu «{NBSP}Attendre la délivrance du passeport{NBSP}»" in seen, seen
    assert f"message reçu «{NBSP}Attendre la décision de la mission{NBSP}»" in seen, seen

    ppatel = walk.open_task("ppatel", instance_id, "Sign out passport before departure", "Chine")
    ppatel.fill("#f-passport_signed_out_on", walk.today().isoformat())
    ppatel.check("#f-traveller_acknowledged")
    walk.finish(ppatel, instance_id)
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
    start = walk.today() + timedelta(days=55)
    end = start + timedelta(days=1)
    search = "Frenchwalk"
    host = walk.as_("htremblay")
    instance_id = file_visit(host, live, "Frenchwalk Agency", start, end, members=1)
    host.goto(f"{live.url}/requests/{instance_id}")
    french(host)
    so_far = host.inner_text("main")
    assert "Numéro de passeport\tRéférence" in so_far, so_far  # the reference a script gives each member
    assert "\tRef\n" not in so_far and "HQ conference centre\t1 - Aires publiques" in so_far

    sroy = walk.as_("sroy")
    sroy.goto(f"{live.url}/inbox?tab=queue&q={search}")
    sroy.locator("#inbox-table tbody tr").filter(has_text="Screen visitor M1").locator(
        "a[href^='/tasks/']"
    ).first.click()
    sroy.wait_for_url(re.compile(r"/tasks/[^/?]+$"))
    button = sroy.locator("fieldset.decision button[value=cleared]")
    if button.count():
        button.click()
    else:
        sroy.check("input[name=screening_result][value=cleared]")
        sroy.click("#complete")
    sroy.wait_for_url(re.compile(r"/inbox"))

    mgirard = walk.open_task("mgirard", instance_id, "Host unit approval", search)  # not the filer's to approve
    mgirard.fill("#f-host_contact_name", "Insp. Girard")
    walk.finish(mgirard, instance_id, "host_unit_decision", "approve")
    cgagnon = walk.open_task("cgagnon", instance_id, "Approbation du bureau VIV", search)
    walk.finish(cgagnon, instance_id, "itv_decision", "approve")
    cgagnon = walk.open_task("cgagnon", instance_id, "Organiser le protocole", search)
    cgagnon.fill("#f-agenda", "Séances d'information")
    cgagnon.check("#f-transport_arranged")
    walk.finish(cgagnon, instance_id)

    cgagnon.goto(f"{live.url}/reports")
    countries = cgagnon.locator("#r-country option").all_inner_texts()
    assert "Allemagne" in countries and "DE" not in countries

    walk.move_clock_to(end + timedelta(days=1))
    host = walk.open_task("htremblay", instance_id, "Rapport après la visite", search)
    host.fill("#f-visit_summary", "Visite utile")
    walk.finish(host, instance_id)

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

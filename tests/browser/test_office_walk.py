"""The travel office's walk (issue 18), in Chromium through the browser only: one request of each
process from filing to its end, each step done by the demo person whose work it is, checking what
they see (the task in their inbox, the flash, the status and outcome on the request page) and that
no page answers 500. The passport request is filed and followed in French and reaches its end
through the outside events the passport officer records on the request page. The only calls past
the browser move the test clock and fire the timers that came due (the worker's job)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser import walking
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def test_conference_from_filing_to_the_trip_report(walk, live):
    start, end = walk.dates(ahead=40, lasting=3)
    jdoe = walk.new_request("jdoe", "conference_attendance")
    # $6,100 paid by a foreign government: the route table adds the ethics review and the director.
    walking.fill_conference_request(
        jdoe,
        event=("Office Walk Congress", "Interpol", "Lyon", "FR"),
        dates=(start, end),
        role="presenter",
        why=("Present the office's work on travel approvals", "Cooperation with partner agencies"),
        costs={"registration": "500", "airfare": "4000", "lodging": "1200", "per_diem": "400", "other": "0"},
        funding="foreign_government",
    )
    instance_id = walking.file_request(jdoe)
    assert "Supervisor review" in walk.where_it_stands("jdoe", instance_id)

    walking.approve_conference(walk, instance_id, "Office%20Walk", cost_centre="CC-4410")

    ebrown = walk.open_task("ebrown", instance_id, "Ethics review", "Office%20Walk")
    walk.finish(ebrown, instance_id, "ethics_decision", "approve")

    dlee = walk.open_task("dlee", instance_id, "Director approval", "Office%20Walk")
    walk.finish(dlee, instance_id, "senior_decision", "approve")

    cgagnon = walk.open_task("cgagnon", instance_id, "Enregistrer le déplacement", "Office%20Walk")  # reads French
    cgagnon.fill("#f-itv_file_number", f"ITV-W{instance_id}")
    walk.finish(cgagnon, instance_id)
    assert "Terminé" in cgagnon.inner_text(".flashes")

    # The trip report opens when the trip is over.
    assert "Submit trip report" not in walk.where_it_stands("jdoe", instance_id)
    assert walk.move_clock_to(end + timedelta(days=1)) >= 1
    jdoe = walk.open_task("jdoe", instance_id, "Submit trip report", "Office%20Walk")
    walking.file_trip_report(walk, jdoe, instance_id, "Presented; three new contacts", total_cost="5900")

    walk.assert_closed("jdoe", instance_id, "Approved, trip report filed", "This request is closed.")
    screenshot(walk.as_("jdoe"), "office-walk-conference")
    walk.no_server_error()


def test_passport_and_visa_in_french_through_the_recorded_outside_events(walk, live):
    start, end = walk.dates(ahead=30, lasting=4)
    rmartin = walk.new_request("rmartin", "passport_visa")  # reads French: every page of his is in French
    assert rmartin.locator("html[lang=fr]").count() == 1
    # France and China (China needs a visa); his passport expires two months after the return: a renewal is needed.
    walking.fill_documents_request(
        rmartin, (start, end), "Réunion Europol, marche du bureau", ("AB123456", end + timedelta(days=60))
    )
    instance_id = walking.file_request(rmartin)
    assert "soumise" in rmartin.inner_text(".flashes")

    rmartin = walking.prepare_passport(walk, instance_id, "China", f"PPT-W{instance_id}")
    assert "Terminé" in rmartin.inner_text(".flashes")
    walking.submit_passport(walk, instance_id, "China")

    # Nobody has a task now: the requester reads, in French, what the request waits for.
    stands = walk.where_it_stands("rmartin", instance_id)
    assert "Passeport Canada" in stands, stands
    assert walk.request_page("rmartin", instance_id).locator("details.record").count() == 0  # not his to record

    ppatel = walk.request_page("ppatel", instance_id)
    expiry = walk.today() + timedelta(days=3650)
    renewed = {"passport_number": "DP654321", "expiry_date": expiry.isoformat()}
    walking.record_outside_event(ppatel, "Passport Canada", fill=renewed, summary="Record passport received")
    assert "Recorded. The request has moved on." in ppatel.inner_text(".flashes")

    # The passport came back: the visa application (one per destination needing one) follows.
    walking.apply_for_visa(walk, instance_id, "China", f"V-CN-W{instance_id}")

    ppatel = walking.record_visa_granted(walk, instance_id)
    assert "Recorded. The request has moved on." in ppatel.inner_text(".flashes")

    ppatel = walk.open_task("ppatel", instance_id, "Sign out passport before departure", "China")
    seen = ppatel.inner_text("main")  # what was recorded from the request page, in the request so far
    assert f"{expiry:%b} {expiry.day}, {expiry.year}" in seen, seen  # the renewed passport's expiry
    assert "passport_issued" in ppatel.inner_text(".timeline") and "visa_decision" in ppatel.inner_text(".timeline")
    walking.sign_out_passport(walk, ppatel, instance_id)

    walk.move_clock_to(end + timedelta(days=1))
    ppatel = walk.open_task("ppatel", instance_id, "Record passport return", "China")
    ppatel.fill("#f-passport_returned_on", (walk.today() + timedelta(days=30)).isoformat())
    ppatel.check("input[name=passport_condition][value=good]")
    ppatel.click("#complete")
    assert ppatel.locator("#f-passport_returned_on-error").is_visible()  # a return date ahead is refused
    ppatel.fill("#f-passport_returned_on", walk.today().isoformat())
    walk.finish(ppatel, instance_id, "passport_condition", "good")

    walk.assert_closed("rmartin", instance_id, "Documents délivrés, passeport rendu", "Cette demande est fermée.")
    screenshot(walk.as_("rmartin"), "office-walk-passport-fr")
    walk.no_server_error()


def test_delegation_visit_from_filing_to_the_post_visit_report(walk, live):
    start, end = walk.dates(ahead=50, lasting=2)
    search = "Walkabout"
    instance_id = walking.file_visit(walk.as_("lokafor"), live, "Walkabout Agency", start, end, members=2)
    walking.screen_members(walk, search, members=2)

    host = ("htremblay", "Approbation de l'unité hôte", "Sgt. Tremblay")  # reads French
    agenda = "Day 1 briefings; day 2 lab tour"
    walking.approve_visit(walk, instance_id, search, agenda, host=host, letters_sent_on=walk.today())

    # The report opens after the visit; the host unit writes it (the filer is the liaison officer).
    walk.move_clock_to(end + timedelta(days=1))
    walking.write_visit_report(
        walk, "mgirard", instance_id, "Post-visit report", search, "Productive; two follow-up meetings agreed"
    )

    walk.assert_closed("lokafor", instance_id, "Visit completed, report filed", "This request is closed.")
    screenshot(walk.as_("lokafor"), "office-walk-delegation")
    walk.no_server_error()


def test_the_host_who_filed_a_visit_writes_its_post_visit_report(walk, live):
    """Separation of duties bars the filer from approving (host unit approval by another member),
    not from the report that is theirs to write (issue 18 item 20)."""
    start, end = walk.dates(ahead=60, lasting=1)
    search = "Hostwalk"
    instance_id = walking.file_visit(walk.as_("htremblay"), live, "Hostwalk Agency", start, end, members=1)
    walking.screen_members(walk, search, members=1)
    with pytest.raises(AssertionError, match="has no"):  # the filer is not offered the approval of his visit
        walk.open_task("htremblay", instance_id, "Approbation de l'unité hôte", search)
    walking.approve_visit(walk, instance_id, search, agenda="Briefings")  # by another member of the host unit

    walk.move_clock_to(end + timedelta(days=1))
    walking.write_visit_report(
        walk, "htremblay", instance_id, "Rapport après la visite", search, "Visite utile"
    )  # in French
    walk.assert_closed("htremblay", instance_id, "Visite terminée", "Cette demande est fermée.")
    walk.no_server_error()

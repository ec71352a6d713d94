"""End-to-end in Chromium: a conference request from the start form to the trip report,
the return-for-changes round trip, bulk approval, the diagram, and screenshots for review."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def submit_conference(page, live, event: str, members: int = 1) -> int:  # type: ignore[no-untyped-def]
    page.goto(f"{live.url}/requests/new/conference_attendance")
    page.fill("#f-event_name", event)
    page.fill("#f-organizer", "Interpol")
    page.fill("#f-city", "Lyon")
    page.select_option("#f-country", "FR")  # the country picker stores the ISO code
    first = live.clock.now().date() + timedelta(days=30)  # start dates may not be in the past
    page.fill("#f-start_date", first.isoformat())
    page.fill("#f-end_date", (first + timedelta(days=3)).isoformat())
    page.check("#f-attendance_role-2")  # presenter
    page.fill("#f-purpose", "Present the office's work on travel approvals")
    page.fill("#f-benefit", "Cooperation with partner agencies")
    for field, amount in (
        ("registration", "500"),
        ("airfare", "1800"),
        ("lodging", "1200"),
        ("per_diem", "400"),
        ("other", "0"),
    ):
        page.fill(f"#f-costs-{field}", amount)
    page.select_option("#f-funding_source", "own_unit")
    page.fill("#f-members_attending", str(members))
    page.click("#submit-request")
    page.wait_for_url(re.compile(r"/requests/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def open_task(page, live, search: str, step: str, tab: str = "mine") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live.url}/inbox?tab={tab}&q={search}")
    row = page.locator("#inbox-table tbody tr", has_text=step).first
    row.locator("a").first.click()
    page.wait_for_url(re.compile(r"/tasks/"))


def decide(page, label: str) -> None:  # type: ignore[no-untyped-def]
    page.click(f"fieldset.decision button:has-text('{label}')")


def test_conference_request_through_every_role_to_the_end(open_page, live):
    event = "E2E Assembly"
    jdoe = open_page("jdoe")
    instance_id = submit_conference(jdoe, live, event)
    assert "Supervisor review" in jdoe.inner_text("body")

    msmith = open_page("msmith")
    open_task(msmith, live, "E2E", "Supervisor review")
    screenshot(msmith, "task-page")
    assert "$3,900.00" in msmith.inner_text(".request-data")  # cost table with its total
    decide(msmith, "Approve")
    msmith.wait_for_url(re.compile(r"/inbox"))
    assert "Done: “Supervisor review”" in msmith.inner_text(".flashes")

    fchan = open_page("fchan")
    open_task(fchan, live, "E2E", "Confirm funds", tab="queue")
    fchan.fill("#f-cost_centre", "CC-4410")
    decide(fchan, "Confirm")
    fchan.wait_for_url(re.compile(r"/inbox"))

    coordinator = open_page("cgagnon")  # reads French: the step is "Register trip" in French
    open_task(coordinator, live, "E2E", "Enregistrer le déplacement", tab="queue")
    coordinator.fill("#f-itv_file_number", "ITV-2026-0042")
    coordinator.click("#complete")
    coordinator.wait_for_url(re.compile(r"/inbox"))

    # After the trip's end date a timer opens the trip report for the requester.
    began = live.clock.now()
    live.clock.set(began + timedelta(days=34))
    assert live.fire_due_timers() >= 1
    open_task(jdoe, live, "E2E", "Submit trip report")
    jdoe.fill("#f-report_summary", "Presented; three new contacts")
    jdoe.check("#f-objectives_met-1")  # "Yes"
    jdoe.fill("#f-actual_total_cost", "3750")
    jdoe.click("#complete")
    jdoe.wait_for_url(re.compile(r"/inbox"))

    jdoe.goto(f"{live.url}/requests/{instance_id}")
    facts = jdoe.inner_text("dl.facts")
    assert "Approved, trip report filed" in facts and "running" not in facts
    live.clock.set(began)  # the other tests' dates are relative to the clock they find


def test_return_for_changes_round_trip(open_page, live):
    jdoe = open_page("jdoe")
    instance_id = submit_conference(jdoe, live, "Return Trip Summit")
    msmith = open_page("msmith")
    open_task(msmith, live, "Return%20Trip", "Supervisor review")
    decide(msmith, "Return for changes")  # no comment: refused, the error sits next to the field
    assert msmith.locator("#f-supervisor_comment-error").is_visible()
    assert msmith.get_attribute("#f-supervisor_comment", "aria-invalid") == "true"
    msmith.fill("#f-supervisor_comment", "Please split the lodging cost")
    decide(msmith, "Return for changes")
    msmith.wait_for_url(re.compile(r"/inbox"))

    open_task(jdoe, live, "Return%20Trip", "Amend and resubmit request")
    banner = jdoe.locator(".banner-return")  # the reason, first thing on the page
    assert "Returned for changes by Marc Smith" in banner.inner_text()
    assert "Please split the lodging cost" in banner.inner_text()
    assert banner.bounding_box()["y"] < jdoe.locator("#complete").bounding_box()["y"]
    assert jdoe.input_value("#f-city") == "Lyon"  # the form comes back filled in
    jdoe.fill("#f-costs-lodging", "900")
    jdoe.click("#complete")
    jdoe.wait_for_url(re.compile(r"/inbox"))

    open_task(msmith, live, "Return%20Trip", "Supervisor review")
    assert "Please split the lodging cost" in msmith.inner_text(".timeline")
    jdoe.goto(f"{live.url}/requests/{instance_id}")
    assert "$900.00" in jdoe.inner_text("body")


def test_bulk_approve_five(open_page, live):
    rmartin = open_page("rmartin")
    ids = [submit_conference(rmartin, live, f"Bulk Forum {n}") for n in range(5)]
    msmith = open_page("msmith")
    msmith.goto(f"{live.url}/inbox?q=Bulk%20Forum")
    assert msmith.locator("#inbox-table tbody tr").count() == 5
    screenshot(msmith, "inbox")
    msmith.check("#select-all")
    msmith.fill("#bulk-comment", "Approved in bulk")
    msmith.click("#bulk-approve")
    msmith.wait_for_url(re.compile(r"/inbox/bulk"))
    assert "5 of 5 approved" in msmith.inner_text("main")
    assert msmith.locator("#bulk-results tr.ok").count() == 5
    msmith.goto(f"{live.url}/requests/{ids[0]}")
    assert "Confirm funds" in msmith.inner_text("body")


def test_diagram_highlights_the_current_step(open_page, live):
    jdoe = open_page("jdoe")
    instance_id = submit_conference(jdoe, live, "Diagram Days")
    jdoe.goto(f"{live.url}/requests/{instance_id}")
    jdoe.wait_for_selector("#diagram[data-ready='true']")
    current = jdoe.locator(".djs-element.wp-current")
    assert current.count() >= 1
    assert current.first.get_attribute("data-element-id") == "UserTask_supervisor_review"
    assert jdoe.locator(".djs-element.wp-done").count() >= 2  # start event, cost script, route rules...
    # Readable: at least 100 % around the current step, which is in view; zoom buttons and arrow keys work.
    assert float(jdoe.get_attribute("#diagram", "data-scale")) >= 1.0
    box, step = jdoe.locator("#diagram").bounding_box(), current.first.bounding_box()
    assert box["x"] <= step["x"] and step["x"] + step["width"] <= box["x"] + box["width"]
    assert step["width"] >= 90  # a 100 x 80 task drawn at full size: its label can be read
    jdoe.click("[data-zoom=out]")
    assert float(jdoe.get_attribute("#diagram", "data-scale")) < 1.0
    jdoe.click("[data-zoom=in]")
    jdoe.focus("#diagram")
    before = current.first.bounding_box()["x"]
    jdoe.keyboard.press("ArrowLeft")
    assert current.first.bounding_box()["x"] > before
    screenshot(jdoe, "request-page")
    # A French reader (the ITV coordinator sees every request) reads the labels in French.
    cgagnon = open_page("cgagnon")
    cgagnon.goto(f"{live.url}/requests/{instance_id}")
    cgagnon.wait_for_selector("#diagram[data-ready='true']")
    lane = cgagnon.locator(".djs-element[data-element-id='Lane_supervisor']").text_content() or ""
    flow = cgagnon.locator(".djs-element[data-element-id='Flow_supervisor_approve_label']").text_content() or ""
    assert (lane.strip(), flow.strip()) == ("Superviseur", "Approuver")


def test_narrow_screen_inbox(open_page, live):
    page = open_page("msmith", width=375)
    page.goto(f"{live.url}/inbox")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    screenshot(page, "inbox-375px")

"""The start form in Chromium, in both languages: the running total follows the amounts as they are
typed, and the approval route (the route table's answer) updates as costs and funding change."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

COSTS = {"registration": "950", "airfare": "2400", "lodging": "1500", "per_diem": "600", "other": "150"}


def _fill_trip(page, funding: str) -> None:
    page.fill("#f-event_name", "Interpol European Regional Conference")
    page.fill("#f-city", "Lyon")
    page.select_option("#f-country", "FR")
    page.fill("#f-start_date", "2027-03-01")
    page.fill("#f-end_date", "2027-03-05")
    page.check("input[name=attendance_role][value=attendee]")
    page.select_option("#f-funding_source", funding)
    page.fill("#f-members_attending", "1")


def test_running_total_and_route_in_english(open_page, live):
    page = open_page("jdoe")
    page.goto(f"{live.url}/requests/new/conference_attendance")
    _fill_trip(page, "own_unit")
    for key, value in COSTS.items():
        page.fill(f"#f-costs-{key}", value)
    assert page.text_content("#f-costs-total") == "$5,600.00"
    expect(page.locator("#route-preview-text")).to_contain_text("Senior management")
    text = page.text_content("#route-preview-text")
    assert text.startswith("Approvals: Marc Smith (Supervisor review) → Finance (Confirm funds)")
    assert page.get_attribute("#route-preview-text", "aria-live") == "polite"
    page.fill("#f-costs-airfare", "400")  # now under $5,000: no director
    assert page.text_content("#f-costs-total") == "$3,600.00"
    expect(page.locator("#route-preview-text")).not_to_contain_text("Senior")
    assert page.text_content("#route-preview-text").endswith("Finance (Confirm funds)")


def test_running_total_and_route_in_french(open_page, live):
    page = open_page("rmartin")  # reads French (switching jdoe's language would outlive this test)
    page.goto(f"{live.url}/requests/new/conference_attendance")
    page.wait_for_selector("html[lang=fr]")
    _fill_trip(page, "event_sponsor")
    for key, value in COSTS.items():
        page.fill(f"#f-costs-{key}", value.replace("950", "950,50"))
    assert page.text_content("#f-costs-total").replace("\u202f", " ").replace("\u00a0", " ") == "5 600,50 $"
    expect(page.locator("#route-preview-text")).to_contain_text("Éthique")
    text = page.text_content("#route-preview-text")
    assert text.startswith("Approbations : Marc Smith (Examen par le superviseur)") and "Haute direction" in text

"""Subject access in Chromium: a POST form with a reason, the result on the page, the search on
record, and no serious WCAG violation on either page."""

from __future__ import annotations

from tests.browser.test_accessibility import BLOCKING, run_axe


def test_subject_access_search_in_the_browser(open_page, live):  # type: ignore[no-untyped-def]
    page = open_page("admin")
    page.goto(f"{live.url}/admin/subject-access")
    assert [v["id"] for v in run_axe(page) if v["impact"] in BLOCKING] == []
    page.fill("#sa-person", "jdoe")
    page.fill("#sa-reason", "jdoe asked for her data")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("#sa-found")
    assert "jdoe" not in page.url  # the person searched for stays out of the address
    assert [v["id"] for v in run_axe(page) if v["impact"] in BLOCKING] == []
    page.goto(f"{live.url}/admin/subject-access")
    assert "jdoe asked for her data" in page.inner_text("#sa-searches")

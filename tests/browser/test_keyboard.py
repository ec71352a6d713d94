"""Keyboard only, in Chromium: an approver signs in, opens a task from the inbox, writes the
comment and presses the decision button; then approves two tasks in bulk; a finance officer
claims a queue task. Only Tab, Shift+Tab, Enter, Space and typing: no mouse, no clicks. Every
element reached shows a visible focus outline.
"""

from __future__ import annotations

import re

import pytest

from engine.demo.people import DEMO_PASSWORD
from tests.workflows.test_forms import CONFERENCE  # a valid request; each test names its event

pytestmark = pytest.mark.browser


def focused(page, selector: str) -> bool:  # type: ignore[no-untyped-def]
    return bool(page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector))


def tab_to(page, selector: str, limit: int = 250, backwards: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Press Tab (or Shift+Tab) until the focused element matches `selector`; its focus is visible."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        if focused(page, selector):
            break
        page.keyboard.press(key)
    else:
        raise AssertionError(f"{selector} is not reachable with {key}")
    outline = page.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
                   return [s.outlineStyle, parseFloat(s.outlineWidth) || 0, s.boxShadow]; }"""
    )
    assert (outline[0] != "none" and outline[1] >= 2) or outline[2] != "none", (selector, outline)


def keyboard_sign_in(chromium, live, username: str):  # type: ignore[no-untyped-def]
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-CA")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live.url}/login")
    assert focused(page, "#username")  # autofocus
    page.keyboard.type(username)
    tab_to(page, "#password")
    page.keyboard.type(DEMO_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{live.url}/inbox"
    return context, page


def search_inbox(page, text: str) -> None:  # type: ignore[no-untyped-def]
    tab_to(page, "#filter-q")
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_approve_open_bulk_and_claim_with_the_keyboard_only(chromium, live):
    with live.db.transaction() as s:
        ids = [
            live.engine.start(
                s, "conference_attendance", {**CONFERENCE, "event_name": f"Keyboard Summit {n}"}, "jdoe"
            ).id
            for n in range(3)
        ]

    context, page = keyboard_sign_in(chromium, live, "msmith")
    try:
        # The first Tab reaches the skip link; Enter moves on to the main content.
        page.keyboard.press("Tab")
        assert focused(page, "a.skip-link") and page.locator("a.skip-link").is_visible()
        page.keyboard.press("Enter")
        assert page.evaluate("location.hash") == "#main"

        # Open one task from the inbox, write the comment, press "Approve".
        search_inbox(page, "Keyboard Summit 0")
        tab_to(page, "#inbox-table tbody a[href^='/tasks/']")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert re.search(r"/tasks/", page.url) and "Supervisor review" in page.inner_text("h1")
        tab_to(page, "#f-supervisor_comment")
        page.keyboard.type("Approved without a mouse")
        tab_to(page, "fieldset.decision button[value=approve]")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.startswith(f"{live.url}/inbox")
        assert "Done: “Supervisor review” on request" in page.inner_text(".flashes")

        # Bulk approve the two others: select all with Space, a comment, Enter on the button.
        search_inbox(page, "Keyboard Summit")
        assert page.locator("#inbox-table tbody tr").count() == 2
        tab_to(page, "#select-all")
        page.keyboard.press("Space")
        assert page.locator("input[name=task_ids]:checked").count() == 2
        tab_to(page, "#bulk-comment")
        page.keyboard.type("Approved in bulk, keyboard only")
        tab_to(page, "#bulk-approve")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "/inbox/bulk" in page.url and "2 of 2 approved" in page.inner_text("main")
    finally:
        context.close()

    # Finance: the three requests wait in the finance queue; claim one with Space.
    context, page = keyboard_sign_in(chromium, live, "fchan")
    try:
        search_inbox(page, "Keyboard Summit")
        tab_to(page, ".tabs a[href*='tab=queue']", backwards=True)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "tab=queue" in page.url and "Keyboard Summit" not in page.inner_text("h1")
        search_inbox(page, "Keyboard Summit 1")
        tab_to(page, "#inbox-table button[formaction*='/claim']")
        with page.expect_navigation():
            page.keyboard.press("Space")
        assert "You took “Confirm funds”." in page.inner_text(".flashes")
    finally:
        context.close()

    with live.db.reading() as s:
        from engine.queries.tasks import list_tasks

        steps = {i: [t.name for t in list_tasks(s, instance_id=i)] for i in ids}
    assert steps == {i: ["Confirm funds"] for i in ids}


def test_shortcuts_list_move_open_and_approve(chromium, live):
    """`?` lists the shortcuts; `/` searches; j/k move through the inbox, x selects, o opens; on the task
    `a` reaches Approve and Enter approves. Typing in a field never triggers them, and they can be turned off."""
    with live.db.transaction() as s:
        for n in range(2):
            live.engine.start(s, "conference_attendance", {**CONFERENCE, "event_name": f"Shortcut Forum {n}"}, "jdoe")

    context, page = keyboard_sign_in(chromium, live, "msmith")
    try:
        page.keyboard.press("?")
        dialog = page.locator("dialog#shortcuts")
        assert dialog.is_visible() and "Next / previous task in the inbox" in dialog.inner_text()
        page.keyboard.press("Escape")
        assert not dialog.is_visible()

        page.keyboard.press("/")
        assert focused(page, "#filter-q")
        page.keyboard.type("Shortcut Forum j")  # a "j" typed in the search box is text, not a shortcut
        assert page.input_value("#filter-q") == "Shortcut Forum j"
        page.keyboard.press("Control+A")
        page.keyboard.type("Shortcut Forum")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        rows = page.locator("#inbox-table tbody tr")
        assert rows.count() == 2
        page.locator("main").focus()

        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("k")
        assert rows.nth(0).get_attribute("class").split().count("kb-current") == 1
        page.keyboard.press("x")
        assert rows.nth(0).locator("input[name=task_ids]").is_checked()
        page.keyboard.press("x")
        assert not rows.nth(0).locator("input[name=task_ids]").is_checked()
        with page.expect_navigation():
            page.keyboard.press("o")
        assert "/tasks/" in page.url and "Supervisor review" in page.inner_text("h1")

        page.keyboard.press("a")
        assert focused(page, "button.decision-approve")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "Done: “Supervisor review” on request" in page.inner_text(".flashes")

        # Turned off (WCAG 2.1.4) from the header's button, single keys do nothing; it is remembered.
        page.click("#shortcuts-open")
        page.click("#shortcuts-toggle")
        assert page.inner_text("#shortcuts-toggle") == "Turn single-key shortcuts on"
        page.keyboard.press("Escape")
        page.reload()
        page.locator("main").focus()
        page.keyboard.press("?")
        assert not page.locator("dialog#shortcuts").is_visible()
        page.keyboard.press("j")
        assert page.locator("#inbox-table tr.kb-current").count() == 0
    finally:
        context.close()


def test_shortcuts_list_is_in_french(open_page):
    page = open_page("rmartin")
    page.click("#shortcuts-open")
    text = page.inner_text("dialog#shortcuts")
    assert "Raccourcis clavier" in text and "Tâche suivante" in text
    page.keyboard.press("Escape")
    page.click("a[href='/requests/new']")
    page.wait_for_url("**/requests/new")  # loaded, with its shortcut script: a key pressed before is lost
    page.locator("main").focus()
    with page.expect_navigation():
        page.keyboard.press("i")
    assert page.url.endswith("/inbox")

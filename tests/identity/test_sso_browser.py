"""In real Chromium: a person Waypoint has never seen signs in through the OpenID Connect provider,
lands in their inbox with the roles their groups map to, and signs out of both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.people.users import find_user
from tests.browser.conftest import CHROMIUM, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def page(sso, request) -> Iterator[object]:  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium (as root)")
    browser = request.getfixturevalue("chromium")  # the run's one browser (tests/conftest.py)
    context = browser.new_context(locale="en-CA")
    # only loopback: nothing the provider's or Waypoint's pages load may leave the machine
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def test_a_newcomer_signs_in_through_the_provider_and_out_of_both(sso, page):
    page.goto(f"{sso.url}/inbox")
    page.wait_for_url(re.compile(r"/login"))
    page.click("#sign-in-oidc")  # "Sign in with Example ID"
    page.wait_for_url(re.compile(rf"^{re.escape(sso.provider.issuer)}/interaction/"))
    page.fill("#op-login", "nora")
    page.fill("#op-password", "nora-pw")
    page.click("#op-submit")
    page.wait_for_url(f"{sso.url}/inbox")
    assert "Nora Newcomer" in page.inner_text("header")
    screenshot(page, "sso-inbox-after-first-sign-in")
    with sso.db.reading() as s:
        nora = find_user(s, "nnew")
        assert nora.roles == {"finance", "requester"} and nora.email == "nora.new@example.org"
    page.click("header form[action='/logout'] button[type=submit]")
    page.wait_for_url(re.compile(rf"^{re.escape(sso.provider.issuer)}/session/end"))
    page.click("#op-logout")  # the provider asks before ending its own session
    page.wait_for_url(re.compile(rf"^{re.escape(sso.url)}/login"))
    page.goto(f"{sso.url}/inbox")  # Waypoint's session is over
    page.wait_for_url(re.compile(r"/login"))
    page.click("#sign-in-oidc")  # and the provider's: it asks for the password again
    page.wait_for_url(re.compile(rf"^{re.escape(sso.provider.issuer)}/interaction/"))
    assert page.is_visible("#op-password")


def test_the_sign_in_and_people_pages_pass_axe_in_both_languages(sso, page):
    from engine.people.users import hash_password
    from tests.browser.test_accessibility import BLOCKING, run_axe, switch_language

    with sso.db.transaction() as s:
        find_user(s, "admin").password_hash = hash_password("admin-pw")
    found = {}
    for lang in ("en", "fr"):
        page.context.clear_cookies()
        page.context.set_extra_http_headers({"Accept-Language": lang})
        page.goto(f"{sso.url}/login")
        found[f"login {lang}"] = run_axe(page)
        page.fill("#username", "admin")
        page.fill("#password", "admin-pw")
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(f"{sso.url}/inbox")
        switch_language(page, lang)
        for path in ("/admin/people", "/admin/people/jdoe", "/admin/groups"):
            page.goto(f"{sso.url}{path}")
            assert page.get_attribute("html", "lang") == lang
            found[f"{path} {lang}"] = run_axe(page)
            screenshot(page, f"people-admin{path.replace('/', '-')}-{lang}")
    blocking = {name: [v for v in found[name] if v["impact"] in BLOCKING] for name in found}
    assert all(not v for v in blocking.values()), blocking

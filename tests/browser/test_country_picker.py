"""The country picker in Chromium: a French requester types "russ" in the search box above the
list of countries, sees only the countries whose French name holds it, and picks Russie (RU)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

VISIBLE = "s => Array.from(s.options).filter(o => !o.hidden && o.value).map(o => o.value + ' ' + o.text)"


def test_a_french_requester_finds_russie_by_typing(open_page, live):
    page = open_page("rmartin")  # reads French (switching jdoe's language would outlive this test)
    page.goto(f"{live.url}/requests/new/conference_attendance")
    page.wait_for_selector("html[lang=fr]")
    search = page.locator("input[data-list-search]").first
    assert search.get_attribute("aria-label") == "Pays : chercher dans la liste"
    names = page.eval_on_selector("#f-country", VISIBLE)
    assert len(names) == 249 and names.index("DE Allemagne") < names.index("AD Andorre")  # sorted in French
    search.fill("russ")
    assert page.eval_on_selector("#f-country", VISIBLE) == ["BY Biélorussie", "RU Russie"]
    search.fill("RU")  # a code finds its country too
    assert "RU Russie" in page.eval_on_selector("#f-country", VISIBLE)
    page.select_option("#f-country", "RU")
    assert page.input_value("#f-country") == "RU"

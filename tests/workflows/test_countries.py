"""Countries are ISO 3166-1 alpha-2 codes: the start forms offer a picker named in English and
French that stores the code, and the advisory table (FEEL over codes) gives the same route to a
picked code and to a name typed by an older request, in English or French and in any case.

Conference attendance is the process that reads the advisory table: Russia is at level 4, which
means director approval and a pre-departure security briefing."""

from __future__ import annotations

import pytest

from engine.countries import choices, country_code, country_name
from tests.workflows.test_conference_attendance import (
    BRIEFING,
    DIRECTOR,
    FINANCE,
    KEY,
    REGISTER,
    SUPERVISOR,
    approve_until_travel_authority,
    conference_request,
)
from tests.workflows.walk import Walker
from workflows import delegation_visit, passport_visa

LEVEL_4_ROUTE = [SUPERVISOR, FINANCE, DIRECTOR, REGISTER, BRIEFING]


@pytest.fixture
def w(walker) -> Walker:
    return walker(KEY)


@pytest.mark.parametrize("country", ["Russie", "russia", "RU", " Russian Federation "])
def test_russia_by_code_or_by_name_gets_level_4_and_director_approval(w, country):
    w.start("jdoe", conference_request(country=country))
    assert (w.data["country_code"], w.data["advisory_level"], w.data["needs_senior_approval"]) == ("RU", 4, True)
    assert (w.data["advisory_en"], w.data["advisory_fr"]) == ("Avoid all travel", "Éviter tout voyage")
    assert approve_until_travel_authority(w) == LEVEL_4_ROUTE


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Russie", "RU"),
        ("russia", "RU"),
        ("RU", "RU"),
        ("ru", "RU"),
        ("Russian Federation", "RU"),
        ("Côte d’Ivoire", "CI"),
        ("cote d'ivoire", "CI"),
        ("États-Unis", "US"),
        ("USA", "US"),
        ("Allemagne", "DE"),
        ("Corée du Nord", "KP"),
        ("Narnia", None),
        ("", None),
        (None, None),
    ],
)
def test_country_codes_from_codes_and_english_or_french_names(text, code):
    assert country_code(text) == code


def test_the_picker_lists_every_iso_country_named_in_both_languages():
    options = choices()
    assert len(options) == 249 and len({code for code, _ in options}) == 249
    assert dict(options)["RU"] == {"title": "Russia", "x-fr": {"title": "Russie"}}
    assert country_name("DE", "fr") == "Allemagne" and country_name("Narnia") == "Narnia"


def test_summaries_name_picked_codes_so_searching_by_name_finds_them():
    assert "Bundeskriminalamt (Germany)" in delegation_visit.summary({"agency": "Bundeskriminalamt", "country": "DE"})
    line = passport_visa.summary({"traveller_name": "Jane Doe", "destinations": ["FR", "CN", "Narnia"]})
    assert "travel documents: France, China, Narnia" in line

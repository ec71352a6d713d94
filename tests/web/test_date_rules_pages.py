"""The start form refuses a first day that has passed with a sentence in the reader's language
(engine/date_rules.py; the suite's clock reads 2 Nov 2026), keeps what was typed, and files nothing."""

from __future__ import annotations

import pytest

from engine.models import ProcessInstance
from tests.web.test_requests import CONFERENCE_FORM

PAST = {**CONFERENCE_FORM, "start_date": "2026-10-05", "end_date": "2026-10-08"}


@pytest.mark.parametrize(
    ("user", "sentence"),
    [
        ("jdoe", "this date has passed: enter today (2026-11-02) or a later day"),
        ("rmartin", "cette date est passée : entrez aujourd’hui (2026-11-02) ou un jour suivant"),
    ],
)
def test_a_start_form_with_a_passed_first_day_says_so_in_the_readers_language(app, as_user, user, sentence):
    page = as_user(user).post("/requests/new/conference_attendance", PAST)
    assert page.status_code == 400
    assert sentence in page.text
    assert 'id="f-start_date-error"' in page.text and 'value="Lyon"' in page.text  # next to the field, input kept
    with app.extensions["waypoint.db"].reading() as s:
        assert s.query(ProcessInstance).count() == 0


def test_a_start_form_starting_today_is_filed(as_user):
    done = as_user("jdoe").post(
        "/requests/new/conference_attendance", {**PAST, "start_date": "2026-11-02", "end_date": "2026-11-04"}
    )
    assert done.status_code == 302, done.text[-2000:]

"""Every email template renders in English and French (text and HTML), and calendar files are well formed."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.mail.bodies import calendar_invitation, format_date, format_datetime, render

TASK = {
    "recipient_name": "Chantal Gagnon",
    "task_name": "Examen <urgent>",
    "summary": "Jane Doe — Interpol, Lyon",
    "process_name": "Conference attendance",
    "instance_id": 7,
    "requester_name": "Jane Doe",
    "task_url": "http://w.test/tasks/1",
    "request_url": "http://w.test/requests/7",
    "due": "jeudi 5 novembre 2026, 09 h 00",
    "overdue": True,
    "waiting_since": "lundi 2 novembre 2026, 09 h 00",
    "can_reply": True,
    "reply_code": "ABCDE-FGH23",
    "approve_url": "http://w.test/email-actions/a",
    "reject_url": None,
    "escalated_from": "Marc Smith",
    "reassigned": True,
}
CONTEXTS = {
    "new_task": TASK,
    "reminder": TASK,
    "escalation": TASK,
    "digest": {
        "recipient_name": "Marc Smith",
        "items": [{"name": "Review", "summary": "S", "due": "d", "overdue": False, "url": "http://w.test/tasks/1"}],
        "total": 51,
        "more": 50,
        "inbox_url": "http://w.test/inbox",
        "opt_out_url": "http://w.test/email-actions/x",
        "today": "November 5, 2026",
    },
    "calendar": {
        "recipient_name": "Jane Doe",
        "title": "Conference: Interpol",
        "start": "November 20, 2026",
        "end": "November 23, 2026",
        "location": "Lyon, France",
        "summary": "S",
        "request_url": "http://w.test/requests/7",
    },
    "reply_done": {
        "recipient_name": "Marc Smith",
        "verdict": "approved",
        "task_name": "Review",
        "comment": "ok",
        "summary": "S",
        "request_url": "http://w.test/requests/7",
    },
    "reply_bounce": {"recipient_name": "Marc Smith", "reason": "no", "task_url": "http://w.test/tasks/1"},
}


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("kind", sorted(CONTEXTS))
def test_every_template_renders(kind, lang):
    rendered = render(kind, lang, CONTEXTS[kind])
    assert rendered.subject.startswith("[Waypoint] ") and "\n" not in rendered.subject
    assert rendered.text.strip() and "{{" not in rendered.text and "{%" not in rendered.text
    assert f'<html lang="{lang}">' in rendered.html
    assert CONTEXTS[kind]["recipient_name"] in rendered.text
    if kind in ("new_task", "reminder", "escalation"):
        assert "Examen &lt;urgent&gt;" in rendered.html and "Examen <urgent>" in rendered.text  # HTML escaped only
        assert "http://w.test/email-actions/a" in rendered.text and "Reject" not in rendered.text


def test_unknown_language_falls_back_to_english():
    assert render("reply_bounce", "de", CONTEXTS["reply_bounce"]).subject == "[Waypoint] Your reply was not recorded"


def test_dates_in_words_in_office_time():
    moment = datetime(2026, 11, 5, 19, 5, tzinfo=UTC)
    # Babel's (CLDR's) wording, as on the pages: a narrow no-break space before "p.m."
    assert format_datetime(moment, "en", "America/Toronto") == "Thursday, November 5, 2026, 2:05\u202fp.m."
    assert format_datetime(moment, "fr", "America/Toronto") == "jeudi 5 novembre 2026, 14 h 05"
    assert format_datetime(moment, "de", "America/Toronto") == "Thursday, November 5, 2026, 2:05\u202fp.m."
    assert format_datetime(moment, "en", "Europe/Paris") == "Thursday, November 5, 2026, 8:05\u202fp.m."
    night = datetime(2026, 11, 2, 3, 30, tzinfo=UTC)  # still the 1st in Toronto
    assert format_datetime(night, "fr", "America/Toronto") == "dimanche 1er novembre 2026, 22 h 30"
    assert format_datetime(None, "en", "America/Toronto") == ""
    assert format_date(date(2026, 11, 1), "fr") == "1er novembre 2026"
    assert format_date(date(2026, 11, 20), "fr") == "20 novembre 2026"
    assert format_date(date(2026, 11, 1), "en") == "November 1, 2026"


def test_calendar_file_lines_are_folded_and_escaped():
    ics = calendar_invitation(
        uid="waypoint-x-1@w.test",
        title="Délégation; visite, " + "é" * 80,
        start=date(2026, 11, 20),
        end=date(2026, 11, 23),
        now=datetime(2026, 11, 2, 14, tzinfo=UTC),
        organizer="waypoint@w.test",
        attendee="jdoe@w.test",
        attendee_name="Jane Doe",
    )
    lines = ics.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR" and lines[-1] == ""
    assert all(len(line.encode()) <= 75 for line in lines)
    assert "SUMMARY:Délégation\\; visite\\, " in ics and "DTSTAMP:20261102T140000Z" in lines
    unfolded = ics.replace("\r\n ", "")
    assert "SUMMARY:Délégation\\; visite\\, " + "é" * 80 + "\r\n" in unfolded

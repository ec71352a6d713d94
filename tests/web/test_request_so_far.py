""" "The request so far" (issue 18 item 10): each decision with its step, person and date, grouped by
step, one group per round; internals (variables no form asks for, fields marked `x-internal`) and
empty fields hidden; on the request page and the task page, in English and French."""

from __future__ import annotations

import json
import re
import shutil

from engine.request_so_far import shown_keys
from tests.web.test_request_status_pages import complete, french, started
from tests.workflows.test_conference_attendance import conference_request

ROUND_ONE = {"supervisor_decision": "return", "supervisor_comment": "Add the lodging"}
ROUND_TWO = {"supervisor_decision": "approve", "supervisor_comment": "Fine now"}


def so_far(page: str) -> list[str]:
    """The section's groups as text: heading | person | label: value ..."""
    section = page[page.index('id="data-heading"') : page.index("</section>", page.index('id="data-heading"'))]
    groups = re.findall(r'<li class="so-far-step">(.*?)</li>', section, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", g).split()) for g in groups]


def reviewed_twice(app, engine) -> int:
    iid = started(app, engine)
    complete(app, engine, iid, "UserTask_supervisor_review", "msmith", ROUND_ONE)
    complete(app, engine, iid, "UserTask_amend_request", "jdoe", conference_request(organizer=""))
    complete(app, engine, iid, "UserTask_supervisor_review", "msmith", ROUND_TWO)
    return iid


def test_each_decision_with_its_step_person_and_date(app, engine, as_user):
    iid = reviewed_twice(app, engine)
    page = as_user("admin").get(f"/requests/{iid}").text  # English
    groups = so_far(page)
    assert groups[0].startswith("Request Jane Doe · ") and "Event name Interpol General Assembly" in groups[0]
    assert "Organizer" not in groups[0]  # emptied when amended: empty fields are not shown
    assert groups[1:3] == [
        "Supervisor review Marc Smith · 2026-11-02, 9:00 a.m. Decision Return for changes Comment Add the lodging",
        "Supervisor review Marc Smith · 2026-11-02, 9:00 a.m. Decision Approve Comment Fine now",
    ]
    finance = re.search(r'href="/tasks/([0-9a-f-]{36})"', page).group(1)
    task_page = so_far(as_user("fchan").get(f"/tasks/{finance}").text)
    assert task_page[1:] == groups[1:3]  # the same on the finance officer's task page
    everything = " ".join(groups)
    for internal in ("Route reason", "Advisory level", "Passport visa outcome", "Requester"):
        assert internal not in everything  # computed or bookkeeping: in no form

    fr = so_far(french(as_user("jdoe")).get(f"/requests/{iid}").text)
    assert fr[0].startswith("Demande Jane Doe")
    assert fr[1].startswith("Examen par le superviseur Marc Smith") and "Add the lodging" in fr[1]


def test_a_field_marked_internal_is_never_shown(app, engine, as_user, tmp_path):
    root = tmp_path / "bpmn"
    shutil.copytree(app.root_path + "/../bpmn", root)
    review = root / "forms" / "conference_supervisor_review.schema.json"
    schema = json.loads(review.read_text())
    schema["properties"]["supervisor_comment"]["x-internal"] = True
    review.write_text(json.dumps(schema))
    assert "supervisor_comment" not in shown_keys(schema)
    with app.extensions["waypoint.db"].transaction() as s:
        engine.deploy(s, [root])
    iid = reviewed_twice(app, engine)
    groups = so_far(as_user("admin").get(f"/requests/{iid}").text)
    assert groups[1].endswith("Decision Return for changes") and "Add the lodging" not in " ".join(groups)

"""Foreign delegation visit (`delegation_visit`): the business rules, walked through the engine.

A foreign agency's delegation visits the force. The rules these tests pin down:

* A liaison officer or a host unit member files the visit (start event property `starters`) and
  is its requester: the agency-facing tasks (more information for security, telling the agency
  about members not cleared) come back to that person.
* Every member is screened by security, all in parallel (a multi-instance call of
  `security_screening`, see test_security_screening.py). Security clears, does not clear (with a
  reason), or asks for more information, as many rounds as needed.
* Members not cleared are removed and the requester tells the agency, as long as one member is
  cleared; with none cleared the request ends "Rejected: no member cleared". Screening records
  keep no sensitive fields (no date of birth, no passport number).
* The approval level is decided on the delegation that will actually come
  (bpmn/rules/delegation_approval_level.dmn): director approval on top of the host unit and the
  ITV coordinator for a head of agency, a secure site (sensitivity 3), 10 or more members, or
  senior officials at a restricted site (sensitivity 2).
* Host unit, then ITV coordinator, then (when needed) the director approve; any rejection ends
  the request. The host unit names its contact when it approves.
* The ITV coordinator arranges protocol; after the visit's last day (17:00 office time) the host
  unit files a post-visit report within 10 days, which closes the request.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engine import PermissionDenied, ValidationFailed
from engine.people.users import add_user
from engine.versions import latest_definition
from tests.workflows.walk import Walker

KEY = "delegation_visit"
COMPLETED = "Visit completed, report filed"

HANS = {
    "name": "Hans Weber",
    "title": "Director",
    "nationality": "German",
    "date_of_birth": "1970-02-03",
    "passport_number": "C01X00T47",
}
PETRA = {
    "name": "Petra Klein",
    "title": "Chief Inspector",
    "nationality": "German",
    "date_of_birth": "1982-07-19",
    "passport_number": "C02Y11T58",
}
OMAR = {
    "name": "Omar Aziz",
    "title": "Analyst",
    "nationality": "German",
    "date_of_birth": "1990-11-30",
    "passport_number": "C03Z22T69",
}


def visit_request(**overrides):
    """Three BKA officers visit the cybercrime unit's headquarters (a public site), 12-14 April 2027."""
    data = {
        "agency": "Bundeskriminalamt",
        "country": "Germany",
        "purpose": "Cybercrime cooperation",
        "start_date": "2027-04-12",
        "end_date": "2027-04-14",
        "host_unit": "Federal Policing Cybercrime",
        "delegation_seniority": "working_level",
        "sites": [{"name": "HQ conference centre", "sensitivity": 1}],
        "members": [HANS, PETRA, OMAR],
        "gifts_hospitality": "Working lunch",
    }
    data.update(overrides)
    return data


def delegation_of(size):
    """`size` working-level members (names Member 1, Member 2, ...)."""
    return [dict(HANS, name=f"Member {i}", passport_number=f"C{i:08d}") for i in range(1, size + 1)]


CLEARED = {"screening_result": "cleared"}
NOT_CLEARED = {"screening_result": "not_cleared", "screening_comment": "Adverse record"}
HOST_APPROVES = {"host_unit_decision": "approve", "host_contact_name": "Sgt. Tremblay"}
PROTOCOL = {
    "agenda": "Day 1 briefings; day 2 lab tour",
    "transport_arranged": True,
    "interpreter_required": False,
    "invitation_letters_sent": True,
    "invitation_letters_sent_on": "2027-02-01",
}
HOST, ITV, DIRECTOR, PROTOCOL_STEP = (
    "UserTask_host_unit_approval",
    "UserTask_itv_approval",
    "UserTask_senior_approval",
    "UserTask_arrange_protocol",
)
APPROVE = {
    HOST: ("htremblay", HOST_APPROVES),
    ITV: ("cgagnon", {"itv_decision": "approve"}),
    DIRECTOR: ("dlee", {"senior_decision": "approve"}),
}


@pytest.fixture
def w(walker) -> Walker:
    return walker(KEY)


def screen(w: Walker, name: str, **result) -> None:
    w.do("UserTask_screen_member", "sroy", where={"member.name": name}, **result)


def clear_everyone(w: Walker) -> None:
    """Security clears every member still being screened."""
    for task in [t for t in w.tasks() if t.element == "UserTask_screen_member"]:
        w.complete(task, "sroy", **CLEARED)


def approve_until_protocol(w: Walker) -> list[str]:
    walked = []
    while w.open and w.open[0] in APPROVE:
        element = w.open[0]
        user, data = APPROVE[element]
        w.do(element, user, **data)
        walked.append(element)
    return walked


def test_a_cleared_delegation_is_approved_and_closes_with_the_post_visit_report(w):
    w.start("lokafor", visit_request())
    assert w.summary == "Bundeskriminalamt (Germany) — 3 members — 12–14 Apr 2027 — host: Federal Policing Cybercrime"
    screenings = [t for t in w.tasks() if t.element == "UserTask_screen_member"]
    assert [(t.role, t.assignee) for t in screenings] == [("security", None)] * 3  # the security queue
    assert sorted(w.task_data(t.id)["member"]["ref"] for t in screenings) == ["M1", "M2", "M3"]

    for member in (OMAR, HANS, PETRA):  # in any order
        screen(w, member["name"], **CLEARED)
    assert w.open == [HOST]
    data = w.data
    assert sorted(data["screenings"], key=lambda s: s["member_ref"]) == [
        {"member_ref": "M1", "name": "Hans Weber", "result": "cleared"},
        {"member_ref": "M2", "name": "Petra Klein", "result": "cleared"},
        {"member_ref": "M3", "name": "Omar Aziz", "result": "cleared"},
    ]
    assert (data["needs_senior_approval"], data["approval_level"], data["route_reason"]) == (
        False,
        "coordinator",
        "Standard visit",
    )

    host = w.task(HOST)
    assert (host.role, host.assignee) == ("host_unit", None)
    with pytest.raises(ValidationFailed) as refused:  # approving names the host unit's contact
        w.do(HOST, "htremblay", host_unit_decision="approve")
    assert [path for path, _ in refused.value.errors] == ["host_contact_name"]
    assert approve_until_protocol(w) == [HOST, ITV]

    with pytest.raises(ValidationFailed):  # an interpreter needs a language
        w.do(PROTOCOL_STEP, "cgagnon", **dict(PROTOCOL, interpreter_required=True))
    w.do(PROTOCOL_STEP, "cgagnon", **PROTOCOL)
    visit_ends = datetime(2027, 4, 14, 21, 0, tzinfo=UTC)  # 17:00 in Ottawa (EDT) on the last day
    assert w.timers() == [("IntermediateCatchEvent_visit_ended", visit_ends)]
    assert w.advance_to(visit_ends + timedelta(minutes=1)) == ["IntermediateCatchEvent_visit_ended"]

    report = w.task("UserTask_post_visit_report")
    assert (report.role, report.due_at) == ("host_unit", report.created_at + timedelta(days=10))
    with pytest.raises(ValidationFailed):  # incidents need details
        w.do("UserTask_post_visit_report", "htremblay", visit_summary="Productive", incidents=True)
    w.do("UserTask_post_visit_report", "htremblay", visit_summary="Productive", incidents=False)
    assert (w.status, w.outcome) == ("completed", COMPLETED)
    assert w.timers() == []


APPROVAL_LEVELS = [
    # (rule, request changes, approvals before protocol)
    ("working level at a public site: host unit and ITV", {}, [HOST, ITV]),
    ("a head of agency needs the director", {"delegation_seniority": "head_of_agency"}, [HOST, ITV, DIRECTOR]),
    (
        "a secure site among the sites needs the director",
        {"sites": [{"name": "Lobby", "sensitivity": 1}, {"name": "Forensic lab", "sensitivity": 3}]},
        [HOST, ITV, DIRECTOR],
    ),
    ("10 members need the director", {"members": delegation_of(10)}, [HOST, ITV, DIRECTOR]),
    ("9 members do not", {"members": delegation_of(9)}, [HOST, ITV]),
    (
        "senior officials at a restricted site need the director",
        {"delegation_seniority": "senior_officials", "sites": [{"name": "Operations floor", "sensitivity": 2}]},
        [HOST, ITV, DIRECTOR],
    ),
    ("senior officials at a public site do not", {"delegation_seniority": "senior_officials"}, [HOST, ITV]),
    (
        "working level at a restricted site does not",
        {"sites": [{"name": "Operations floor", "sensitivity": 2}]},
        [HOST, ITV],
    ),
]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the level logic is database-independent
@pytest.mark.parametrize(("rule", "changes", "approvals"), APPROVAL_LEVELS, ids=[r[0] for r in APPROVAL_LEVELS])
def test_the_approval_level_follows_the_rules_table(w, rule, changes, approvals):
    w.start("lokafor", visit_request(**changes))
    clear_everyone(w)
    assert approve_until_protocol(w) == approvals
    assert w.open == [PROTOCOL_STEP]


def test_a_member_not_cleared_is_removed_and_the_requester_tells_the_agency(w):
    w.start("lokafor", visit_request())
    screen(w, "Hans Weber", **CLEARED)
    with pytest.raises(ValidationFailed):  # not clearing someone needs a reason
        screen(w, "Omar Aziz", screening_result="not_cleared")
    screen(w, "Omar Aziz", **NOT_CLEARED)
    screen(w, "Petra Klein", **CLEARED)

    notice = w.task("UserTask_notify_agency")
    assert (notice.role, notice.assignee) == ("requester", "lokafor")  # the liaison officer who filed it
    assert w.task_data(notice.id)["members_not_cleared"] == ["Omar Aziz"]
    w.do("UserTask_notify_agency", "lokafor", agency_notified_on="2027-03-01", agency_response="Understood")

    data = w.data
    assert [m["name"] for m in data["members"]] == ["Hans Weber", "Petra Klein"]
    assert data["delegation_size"] == 2
    assert all(set(s) == {"member_ref", "name", "result"} for s in data["screenings"])  # no sensitive fields
    # the requester and the host unit learn "cleared / not cleared", never security's reasons
    host_sees = json.dumps([data, w.task_data(w.task(HOST).id)])
    assert "not_cleared" in host_sees and "Adverse record" not in host_sees
    assert w.summary.startswith("Bundeskriminalamt (Germany) — 2 members")
    assert approve_until_protocol(w) == [HOST, ITV]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_approval_level_counts_only_the_members_who_were_cleared(w):
    w.start("lokafor", visit_request(members=delegation_of(10)))
    screen(w, "Member 7", **NOT_CLEARED)
    clear_everyone(w)
    w.do("UserTask_notify_agency", "lokafor", agency_notified_on="2027-03-01")
    assert (w.data["delegation_size"], w.data["needs_senior_approval"]) == (9, False)
    assert approve_until_protocol(w) == [HOST, ITV]


def test_the_requester_can_withdraw_a_visit_during_screening(w):
    w.start("lokafor", visit_request(members=[HANS, PETRA]))
    screen(w, "Hans Weber", **CLEARED)
    assert w.open == ["UserTask_screen_member"]  # Petra's screening (a called security_screening) is open
    with pytest.raises(PermissionDenied):  # security cannot withdraw someone else's request
        w.cancel("sroy", "not mine")
    w.cancel("lokafor", "The agency postponed the visit")
    assert (w.status, w.open, w.timers(), w.waiting_for()) == ("cancelled", [], [], [])
    screenings = sorted(t.status for t in w.tasks(status=None) if t.element == "UserTask_screen_member")
    assert screenings == ["cancelled", "completed"]  # Hans's result stays on record, Petra's is stopped


def test_a_delegation_with_no_member_cleared_is_rejected(w):
    w.start("lokafor", visit_request(members=[HANS, OMAR]))
    screen(w, "Omar Aziz", **NOT_CLEARED)
    assert w.status == "running"  # Hans is still being screened
    screen(w, "Hans Weber", **NOT_CLEARED)
    assert (w.status, w.outcome) == ("completed", "Rejected: no member cleared")
    assert w.open == [] and "UserTask_notify_agency" not in [t.element for t in w.tasks(status=None)]


def test_security_may_ask_the_requester_for_more_information_as_often_as_needed(w):
    w.start("lokafor", visit_request(members=[HANS, PETRA]))
    screen(w, "Hans Weber", **CLEARED)
    with pytest.raises(ValidationFailed) as refused:  # say what is needed, and why
        screen(w, "Petra Klein", screening_result="needs_information")
    assert {path for path, _ in refused.value.errors} == {"screening_comment", "information_requested"}
    for question in ("Previous postings", "Second given name"):
        screen(
            w,
            "Petra Klein",
            screening_result="needs_information",
            screening_comment="Possible name match",
            information_requested=question,
        )
        ask = w.task("UserTask_supply_information")
        assert (ask.role, ask.assignee) == ("requester", "lokafor")
        assert w.task_data(ask.id)["information_requested"] == question
        w.do("UserTask_supply_information", "lokafor", information_supplied=f"Answer about {question.lower()}")
        assert w.open == ["UserTask_screen_member"]  # back to security
    screen(w, "Petra Klein", **CLEARED)
    assert w.open == [HOST]
    assert w.history().count("UserTask_supply_information") == 2


REJECTIONS = [
    # (level, request changes, rejecting step, who, decision, outcome)
    (
        "host unit",
        {},
        HOST,
        "htremblay",
        {"host_unit_decision": "reject", "host_unit_comment": "Dates clash"},
        "Rejected by host unit",
    ),
    (
        "ITV coordinator",
        {},
        ITV,
        "cgagnon",
        {"itv_decision": "reject", "itv_comment": "Incomplete agenda"},
        "Rejected by ITV",
    ),
    (
        "director",
        {"delegation_seniority": "head_of_agency"},
        DIRECTOR,
        "dlee",
        {"senior_decision": "reject", "senior_comment": "Not this year"},
        "Rejected by director",
    ),
]


@pytest.mark.parametrize(
    ("level", "changes", "step", "user", "decision", "outcome"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
def test_a_rejection_at_any_level_ends_the_visit(w, level, changes, step, user, decision, outcome):
    w.start("lokafor", visit_request(members=[HANS], **changes))
    screen(w, "Hans Weber", **CLEARED)
    while w.open != [step]:
        element = w.open[0]
        w.do(element, APPROVE[element][0], **APPROVE[element][1])
    with pytest.raises(ValidationFailed):  # a rejection needs a comment
        w.do(step, user, **{k: v for k, v in decision.items() if k.endswith("decision")})
    w.do(step, user, **decision)
    assert (w.status, w.outcome) == ("completed", outcome)
    assert w.open == [] and w.timers() == []


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_host_unit_member_may_file_a_visit_but_another_approves_it(w, deployed, engine, clock):
    with deployed.reading() as s:
        parsed = engine.specs.get(s, latest_definition(s, KEY))
    assert parsed.start_roles == {"liaison_officer", "host_unit"}  # who may file it from the catalogue

    w.start("htremblay", visit_request(members=[HANS]))
    screen(w, "Hans Weber", **CLEARED)
    with pytest.raises(PermissionDenied):  # no approving one's own request
        w.do(HOST, "htremblay", **HOST_APPROVES)
    with deployed.transaction() as s:
        add_user(s, "mgirard", now=clock.now(), roles=["requester", "host_unit"], display_name="Marie Girard")
    w.do(HOST, "mgirard", **HOST_APPROVES)
    assert w.open == [ITV]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_screenings_finished_after_a_server_restart_still_complete_the_call_activity(w):
    w.start("lokafor", visit_request(members=[HANS, PETRA]))
    screen(w, "Hans Weber", **CLEARED)
    w.restart()
    screen(w, "Petra Klein", **CLEARED)
    assert w.open == [HOST]

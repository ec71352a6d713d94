"""Security screening (`security_screening`) of one foreign visitor, started on its own.

The same process screens each member of a delegation visit (see test_delegation_visit.py, where it
runs as a parallel call activity); started on its own, the rules are:

* The start form gives the agency, its country and the visitor's details (name, title,
  nationality, a date of birth, passport number).
* Security (the security queue) clears the visitor, does not clear them (a reason is required),
  or asks for more information (a reason and the question are required).
* More information goes to the requester, who asks the agency and answers; the visitor is then
  screened again, with no limit on rounds.
* The result is recorded as `screening` {member_ref, name, result}, without the sensitive
  details, and the request ends "Screening recorded".
* Whoever files the screening cannot screen the visitor themselves.
"""

from __future__ import annotations

import pytest

from engine import PermissionDenied, ValidationFailed
from tests.workflows.walk import Walker

KEY = "security_screening"

VISITOR = {
    "name": "Hans Weber",
    "title": "Director",
    "nationality": "German",
    "date_of_birth": "1970-02-03",
    "passport_number": "C01X00T47",
}


def screening_request(**member_changes):
    return {"agency": "Bundeskriminalamt", "country": "Germany", "member": dict(VISITOR, **member_changes)}


@pytest.fixture
def w(walker) -> Walker:
    return walker(KEY)


def test_a_cleared_visitor_is_recorded_without_sensitive_details(w):
    w.start("lokafor", screening_request())
    assert w.summary == "Screening — Bundeskriminalamt"  # the visitor's name and nationality are personal
    review = w.task("UserTask_screen_member")
    assert (review.role, review.assignee) == ("security", None)
    w.do("UserTask_screen_member", "sroy", screening_result="cleared")
    assert (w.status, w.outcome) == ("completed", "Screening recorded")
    assert w.data["screening"] == {"member_ref": None, "name": "Hans Weber", "result": "cleared"}


def test_a_visitor_not_cleared_needs_a_reason(w):
    w.start("lokafor", screening_request())
    with pytest.raises(ValidationFailed) as refused:
        w.do("UserTask_screen_member", "sroy", screening_result="not_cleared")
    assert [path for path, _ in refused.value.errors] == ["screening_comment"]
    w.do("UserTask_screen_member", "sroy", screening_result="not_cleared", screening_comment="Adverse record")
    assert w.outcome == "Screening recorded"
    assert w.data["screening"]["result"] == "not_cleared"


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_more_information_goes_to_the_requester_and_back_to_security(w):
    w.start("lokafor", screening_request())
    for question in ("Employer since 2015", "Second given name"):
        w.do(
            "UserTask_screen_member",
            "sroy",
            screening_result="needs_information",
            screening_comment="Possible name match",
            information_requested=question,
        )
        ask = w.task("UserTask_supply_information")
        assert (ask.role, ask.assignee) == ("requester", "lokafor")
        with pytest.raises(ValidationFailed):  # an answer cannot be blank
            w.do("UserTask_supply_information", "lokafor")
        w.do("UserTask_supply_information", "lokafor", information_supplied="From the agency: ...")
        assert w.open == ["UserTask_screen_member"]
    w.do("UserTask_screen_member", "sroy", screening_result="cleared")
    assert w.outcome == "Screening recorded"
    assert w.history() == [
        "UserTask_screen_member",
        "UserTask_supply_information",
        "UserTask_screen_member",
        "UserTask_supply_information",
        "UserTask_screen_member",
    ]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_visitor_details_are_checked_and_the_filer_cannot_screen(w):
    with pytest.raises(ValidationFailed) as refused:
        w.start("sroy", screening_request(date_of_birth="03/02/1970"))
    assert "member.date_of_birth" in [path for path, _ in refused.value.errors]
    w.start("sroy", screening_request())
    with pytest.raises(PermissionDenied):
        w.do("UserTask_screen_member", "sroy", screening_result="cleared")
    assert w.open == ["UserTask_screen_member"]

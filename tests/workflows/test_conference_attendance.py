"""Conference attendance (`conference_attendance`): the business rules, walked through the engine.

A member asks to attend a conference abroad. The rules these tests pin down:

* The requester's manager reviews first (approve, reject, or return for changes; a rejection or
  a return needs a comment). A returned request goes back to the requester, who amends and
  resubmits it; costs and the route are recomputed; there is no limit on rounds.
* Finance then confirms funds (a cost centre is needed to confirm, a comment to refuse).
* Extra steps come from the rules tables (bpmn/rules/travel_advisory.dmn and
  conference_approval_route.dmn): an ethics review when hospitality is paid by an event sponsor
  or a foreign government; director approval (senior management) from $5,000 total cost, from 4
  members attending, or for a country at travel advisory level 3-4; a pre-departure security
  briefing for advisory level 2 or higher.
* Any rejection ends the request at once (terminate end events), cancelling whatever was open.
* The ITV coordinator registers the trip; the travel authority (TA-<year>-<file number>) is
  issued after the approvals and the briefing. When official documents are needed, the
  passport and visa process runs inside this request (call activity) while the trip is pending;
  a refused visa cancels the travel authority and ends the request "Travel documents refused".
* The trip ends at 17:00 office time on its last day; the requester then files a trip report,
  which closes the request (after the passport came back, when one was signed out).
* A supervisor review still open after 5 days opens "Follow up overdue approval" for the ITV
  coordinator; the review stays with the supervisor. The follow-up is cancelled if the request ends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine import InvalidState, PermissionDenied, ValidationFailed
from engine.errors import NotFound
from tests.workflows.walk import Walker

KEY = "conference_attendance"
APPROVED = "Approved, trip report filed"

COSTS = {"registration": 900, "airfare": 1800, "lodging": 1200, "per_diem": 410, "other": 0}  # $4,310


def conference_request(**overrides):
    """Jane Doe presents at Interpol's General Assembly in Lyon: the standard route."""
    data = {
        "event_name": "Interpol General Assembly",
        "organizer": "Interpol",
        "city": "Lyon",
        "country": "France",
        "start_date": "2027-03-08",
        "end_date": "2027-03-11",
        "attendance_role": "presenter",
        "purpose": "Present the force's cybercrime results.",
        "benefit": "Partnerships with European units.",
        "costs": dict(COSTS),
        "funding_source": "own_unit",
        "members_attending": 1,
    }
    data.update(overrides)
    return data


def costing(total):
    """Cost lines adding up to `total` (all on airfare)."""
    return {"registration": 0, "airfare": total, "lodging": 0, "per_diem": 0, "other": 0}


REGISTER_NO_DOCUMENTS = {"itv_file_number": "ITV-2027-0042", "official_documents_needed": False}
TRIP_REPORT = {"report_summary": "Presented; good contacts.", "objectives_met": "yes", "actual_total_cost": 4200}


@pytest.fixture
def w(walker) -> Walker:
    return walker(KEY)


# Who does each step when everything is approved (jdoe's manager is msmith).
APPROVE = {
    "UserTask_supervisor_review": ("msmith", {"supervisor_decision": "approve"}),
    "UserTask_finance_review": ("fchan", {"finance_decision": "confirm", "cost_centre": "CC-4410"}),
    "UserTask_ethics_review": ("ebrown", {"ethics_decision": "approve"}),
    "UserTask_senior_approval": ("dlee", {"senior_decision": "approve"}),
    "UserTask_register_trip": ("cgagnon", REGISTER_NO_DOCUMENTS),
    "UserTask_security_briefing": ("sroy", {"briefing_date": "2027-03-01", "briefing_acknowledged": True}),
}


def approve_until_travel_authority(w: Walker) -> list[str]:
    """Approve every step offered until the travel authority is issued; return the steps walked."""
    walked = []
    while w.open and w.open[0] in APPROVE:
        element = w.open[0]
        user, data = APPROVE[element]
        w.do(element, user, **data)
        walked.append(element)
    return walked


def test_standard_request_needs_supervisor_and_finance_then_closes_with_the_trip_report(w, clock):
    start = clock.now()
    w.start("jdoe", conference_request())
    review = w.task("UserTask_supervisor_review")
    assert (review.role, review.assignee) == ("supervisor", "msmith")  # the requester's manager
    assert review.due_at == start + timedelta(days=3)
    assert w.summary == "Jane Doe — Interpol General Assembly, Lyon, 8–11 Mar 2027 — $4,310"
    route = {k: w.data[k] for k in ("total_cost", "trip_days", "advisory_level", "route_reason")}
    assert route == {"total_cost": 4310, "trip_days": 4, "advisory_level": 1, "route_reason": "Standard route"}

    w.do("UserTask_supervisor_review", "msmith", supervisor_decision="approve")
    finance = w.task("UserTask_finance_review")
    assert (finance.role, finance.assignee) == ("finance", None)  # the finance queue
    w.do("UserTask_finance_review", "fchan", finance_decision="confirm", cost_centre="CC-4410")
    assert w.open == ["UserTask_register_trip"]  # no ethics, no director
    w.do("UserTask_register_trip", "cgagnon", **REGISTER_NO_DOCUMENTS)

    assert w.open == []  # no security briefing; the travel authority is issued
    data = w.data
    assert data["travel_authority_number"] == "TA-2027-ITV-2027-0042"
    assert (data["travel_authority_status"], data["travel_authority_issued_on"]) == ("issued", "2026-11-02")
    trip_end = datetime(2027, 3, 11, 22, 0, tzinfo=UTC)  # 17:00 in Ottawa (EST) on the last day
    assert w.timers() == [("IntermediateCatchEvent_trip_ended", trip_end)]

    assert w.advance_to(trip_end - timedelta(minutes=1)) == []
    assert w.advance(minutes=2) == ["IntermediateCatchEvent_trip_ended"]
    report = w.task("UserTask_trip_report")
    assert (report.role, report.assignee) == ("requester", "jdoe")
    assert report.due_at == report.created_at + timedelta(days=14)
    w.do("UserTask_trip_report", "jdoe", **TRIP_REPORT)

    assert (w.status, w.outcome) == ("completed", APPROVED)
    assert w.history() == [
        "UserTask_supervisor_review",
        "UserTask_finance_review",
        "UserTask_register_trip",
        "UserTask_trip_report",
    ]
    assert w.timers() == [] and w.waiting_for() == []


SUPERVISOR, FINANCE, ETHICS, DIRECTOR, REGISTER, BRIEFING = (
    "UserTask_supervisor_review",
    "UserTask_finance_review",
    "UserTask_ethics_review",
    "UserTask_senior_approval",
    "UserTask_register_trip",
    "UserTask_security_briefing",
)

ROUTES = [
    # (rule, request changes, steps before the travel authority)
    ("standard: supervisor and finance only", {}, [SUPERVISOR, FINANCE, REGISTER]),
    ("director approval from $5,000", {"costs": costing(5000)}, [SUPERVISOR, FINANCE, DIRECTOR, REGISTER]),
    ("no director just under $5,000", {"costs": costing(4999.99)}, [SUPERVISOR, FINANCE, REGISTER]),
    ("director approval from 4 members", {"members_attending": 4}, [SUPERVISOR, FINANCE, DIRECTOR, REGISTER]),
    ("no director for 3 members", {"members_attending": 3}, [SUPERVISOR, FINANCE, REGISTER]),
    ("ethics when an event sponsor pays", {"funding_source": "event_sponsor"}, [SUPERVISOR, FINANCE, ETHICS, REGISTER]),
    (
        "ethics when a foreign government pays",
        {"funding_source": "foreign_government"},
        [SUPERVISOR, FINANCE, ETHICS, REGISTER],
    ),
    (
        "no ethics when an international organization pays",
        {"funding_source": "international_organization"},
        [SUPERVISOR, FINANCE, REGISTER],
    ),
    ("briefing for advisory level 2", {"country": "Mexico"}, [SUPERVISOR, FINANCE, REGISTER, BRIEFING]),
    (
        "director and briefing for advisory level 3",
        {"country": "Nigeria"},
        [SUPERVISOR, FINANCE, DIRECTOR, REGISTER, BRIEFING],
    ),
    (
        "every step for level 4 with sponsored hospitality",
        {"country": "Syria", "funding_source": "event_sponsor"},
        [SUPERVISOR, FINANCE, ETHICS, DIRECTOR, REGISTER, BRIEFING],
    ),
    (
        "level 2, $5,000 and sponsored",
        {"country": "India", "costs": costing(6000), "funding_source": "foreign_government"},
        [SUPERVISOR, FINANCE, ETHICS, DIRECTOR, REGISTER, BRIEFING],
    ),
]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the route logic is database-independent
@pytest.mark.parametrize(("rule", "changes", "steps"), ROUTES, ids=[r[0] for r in ROUTES])
def test_approval_route_follows_the_rules_tables(w, rule, changes, steps):
    w.start("jdoe", conference_request(**changes))
    assert approve_until_travel_authority(w) == steps
    assert w.data["travel_authority_status"] == "issued"
    assert [element for element, _ in w.timers()] == ["IntermediateCatchEvent_trip_ended"]


REJECTIONS = [
    # (level, request changes, rejecting step, who, decision, outcome)
    (
        "supervisor",
        {},
        SUPERVISOR,
        "msmith",
        {"supervisor_decision": "reject", "supervisor_comment": "Not a priority"},
        "Rejected by supervisor",
    ),
    (
        "finance",
        {},
        FINANCE,
        "fchan",
        {"finance_decision": "reject", "finance_comment": "No travel budget left"},
        "Rejected by finance",
    ),
    (
        "ethics",
        {"funding_source": "event_sponsor"},
        ETHICS,
        "ebrown",
        {"ethics_decision": "reject", "ethics_comment": "The sponsor is a vendor"},
        "Rejected by ethics",
    ),
    (
        "director",
        {"costs": costing(8000)},
        DIRECTOR,
        "dlee",
        {"senior_decision": "reject", "senior_comment": "Too costly"},
        "Rejected by director",
    ),
]


@pytest.mark.parametrize(
    ("level", "changes", "step", "user", "decision", "outcome"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
def test_a_rejection_at_any_level_ends_the_request(w, level, changes, step, user, decision, outcome):
    w.start("jdoe", conference_request(**changes))
    while w.open != [step]:
        element = w.open[0]
        w.do(element, APPROVE[element][0], **APPROVE[element][1])
    w.do(step, user, **decision)
    assert (w.status, w.outcome) == ("completed", outcome)
    assert w.open == [] and w.timers() == []
    assert "travel_authority_number" not in w.data
    assert w.view()["audit"][-2]["details"][next(k for k in decision if k.endswith("decision"))] == "reject"


EXPLANATIONS_REQUIRED = [
    # (step, who, a decision without its explanation, the field the form asks for)
    (SUPERVISOR, "msmith", {"supervisor_decision": "reject"}, "supervisor_comment"),
    (SUPERVISOR, "msmith", {"supervisor_decision": "return"}, "supervisor_comment"),
    (FINANCE, "fchan", {"finance_decision": "confirm"}, "cost_centre"),
    (FINANCE, "fchan", {"finance_decision": "reject"}, "finance_comment"),
    (ETHICS, "ebrown", {"ethics_decision": "approve_with_conditions"}, "ethics_conditions"),
    (ETHICS, "ebrown", {"ethics_decision": "reject"}, "ethics_comment"),
    (DIRECTOR, "dlee", {"senior_decision": "reject"}, "senior_comment"),
]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_decisions_that_need_an_explanation_are_refused_without_one(w):
    # Sponsored and over $5,000, so every approval step is on the route.
    w.start("jdoe", conference_request(costs=costing(7000), funding_source="event_sponsor"))
    for step in (SUPERVISOR, FINANCE, ETHICS, DIRECTOR):
        for _, user, data, field in [check for check in EXPLANATIONS_REQUIRED if check[0] == step]:
            with pytest.raises(ValidationFailed) as refused:
                w.do(step, user, **data)
            assert field in [path for path, _ in refused.value.errors], (step, data)
            assert w.open == [step]  # a refused submission changes nothing
        if step == ETHICS:  # approval with conditions, once they are written down, moves on like an approval
            w.do(ETHICS, "ebrown", ethics_decision="approve_with_conditions", ethics_conditions="No gifts over $50")
            assert w.data["ethics_conditions"] == "No gifts over $50"
        else:
            w.do(step, APPROVE[step][0], **APPROVE[step][1])
    assert w.history() == [SUPERVISOR, FINANCE, ETHICS, DIRECTOR]
    assert w.open == [REGISTER]


def test_return_for_changes_loops_back_to_the_requester_until_approved(w):
    w.start("jdoe", conference_request())
    w.do(SUPERVISOR, "msmith", supervisor_decision="return", supervisor_comment="Add the lodging details")
    amend = w.task("UserTask_amend_request")
    assert (amend.role, amend.assignee) == ("requester", "jdoe")
    assert w.task_data(amend.id)["supervisor_comment"] == "Add the lodging details"

    amended = conference_request(
        costs=dict(COSTS, lodging=1500, other=25), other_cost_description="Visa photos", requester_note="Hotel added"
    )
    with pytest.raises(ValidationFailed) as refused:  # the amendment is validated like the request
        w.do("UserTask_amend_request", "jdoe", **{k: v for k, v in amended.items() if k != "other_cost_description"})
    assert "other_cost_description" in [path for path, _ in refused.value.errors]
    w.do("UserTask_amend_request", "jdoe", **amended)
    assert w.task(SUPERVISOR).assignee == "msmith"
    assert w.data["total_cost"] == 4635  # recomputed

    # A second round: four members now attend, so the route gains director approval.
    w.do(SUPERVISOR, "msmith", supervisor_decision="return", supervisor_comment="Who else is going?")
    w.do("UserTask_amend_request", "jdoe", **dict(amended, members_attending=4))
    assert (w.data["needs_senior_approval"], w.data["route_reason"]) == (True, "4 or more members")
    assert approve_until_travel_authority(w) == [SUPERVISOR, FINANCE, DIRECTOR, REGISTER]
    assert w.history()[:5] == [SUPERVISOR, "UserTask_amend_request", SUPERVISOR, "UserTask_amend_request", SUPERVISOR]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_only_the_requesters_manager_reviews_and_nobody_approves_their_own_request(w, walker):
    w.start("jdoe", conference_request())
    for user in ("jdoe", "dlee", "fchan"):  # the requester; another supervisor; another role
        with pytest.raises(PermissionDenied):
            w.do(SUPERVISOR, user, supervisor_decision="approve")
    w.do(SUPERVISOR, "msmith", supervisor_decision="approve")

    # Diane Lee has no manager: her request goes to the supervisor queue, where she cannot take it.
    own = walker(KEY).start("dlee", conference_request(costs=costing(9000)))
    review = own.task(SUPERVISOR)
    assert (review.role, review.assignee) == ("supervisor", None)
    with pytest.raises(PermissionDenied):
        own.do(SUPERVISOR, "dlee", supervisor_decision="approve")
    own.do(SUPERVISOR, "msmith", supervisor_decision="approve")
    own.do(FINANCE, "fchan", **APPROVE[FINANCE][1])
    with pytest.raises(PermissionDenied):  # she is the only director, and it is her own request
        own.do(DIRECTOR, "dlee", senior_decision="approve")


def test_supervisor_review_overdue_for_5_days_opens_a_follow_up_for_the_itv_coordinator(w, clock):
    start = clock.now()
    w.start("jdoe", conference_request())
    assert w.timers() == [("BoundaryEvent_supervisor_overdue", start + timedelta(days=5))]
    assert w.advance(days=4, hours=23) == []
    assert w.advance(hours=2) == ["BoundaryEvent_supervisor_overdue"]

    assert w.open == ["UserTask_follow_up_overdue_approval", SUPERVISOR]
    follow_up = w.task("UserTask_follow_up_overdue_approval")
    assert (follow_up.role, follow_up.assignee) == ("itv_coordinator", None)
    assert w.task(SUPERVISOR).assignee == "msmith"  # the review stays with the supervisor
    assert w.timers() == []  # it fires once
    with pytest.raises(ValidationFailed):  # a reassignment must say to whom
        w.do("UserTask_follow_up_overdue_approval", "cgagnon", followup_action="reassigned")
    w.do(
        "UserTask_follow_up_overdue_approval",
        "cgagnon",
        followup_action="reassigned",
        followup_note="Reassigned to A/Insp. Roy",
    )
    assert (w.status, w.open) == ("running", [SUPERVISOR])
    assert w.advance(days=10) == []  # no second follow-up
    assert approve_until_travel_authority(w) == [SUPERVISOR, FINANCE, REGISTER]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_review_done_in_time_never_opens_a_follow_up(w):
    w.start("jdoe", conference_request())
    w.advance(days=4)
    w.do(SUPERVISOR, "msmith", supervisor_decision="approve")
    assert w.timers() == []  # the boundary timer went with the review
    assert w.advance(days=3) == []
    assert w.open == [FINANCE]


def test_an_open_follow_up_is_cancelled_when_the_request_ends(w):
    w.start("jdoe", conference_request())
    w.advance(days=6)
    w.do(SUPERVISOR, "msmith", supervisor_decision="approve")
    assert w.open == [FINANCE, "UserTask_follow_up_overdue_approval"]
    w.do(FINANCE, "fchan", finance_decision="reject", finance_comment="No funds")
    assert w.outcome == "Rejected by finance"
    statuses = {t.element: t.status for t in w.tasks(status=None)}
    assert statuses["UserTask_follow_up_overdue_approval"] == "cancelled"
    assert w.open == []


# --- official documents: the passport_visa call activity -------------------------------------------


def register_with_documents(w: Walker, passport) -> None:
    w.do(
        REGISTER,
        "cgagnon",
        itv_file_number="ITV-2027-0077",
        official_documents_needed=True,
        passport_type="official",
        current_passport=passport,
    )


def test_official_documents_are_obtained_while_the_trip_is_pending(w):
    w.start("jdoe", conference_request(country="China", city="Beijing"))
    w.do(SUPERVISOR, "msmith", supervisor_decision="approve")
    w.do(FINANCE, "fchan", **APPROVE[FINANCE][1])
    with pytest.raises(ValidationFailed) as refused:  # documents needed: say which passport
        w.do(REGISTER, "cgagnon", itv_file_number="ITV-2027-0077", official_documents_needed=True)
    assert "passport_type" in [path for path, _ in refused.value.errors]
    register_with_documents(w, {"held": False})

    # The travel authority is issued first; passport_visa now runs inside this request.
    assert w.data["travel_authority_status"] == "issued"
    prepare = w.task("UserTask_prepare_passport_application")
    assert (prepare.role, prepare.assignee) == ("passport_officer", None)
    handed = w.task_data(prepare.id)
    assert (handed["traveller_name"], handed["destinations"], handed["trip_end_date"]) == (
        "Jane Doe",
        ["China"],
        "2027-03-11",
    )
    assert handed["travel_purpose"] == "Conference: Interpol General Assembly, Beijing (presenter)"
    assert [element for element, _ in w.timers()] == ["IntermediateCatchEvent_trip_ended"]

    w.do("UserTask_prepare_passport_application", "ppatel", application_ref="PPT-0077", application_type="new")
    photos = w.task("UserTask_supply_passport_documents")
    assert photos.assignee == "jdoe"  # the called process's Requester lane is the conference requester
    w.do("UserTask_supply_passport_documents", "jdoe", photos_supplied=True, application_form_signed=True)
    w.do(
        "UserTask_submit_passport_application",
        "ppatel",
        passport_submitted_on="2026-11-20",
        submission_channel="courier",
    )
    w.message("passport_issued", application_ref="PPT-0077", passport_number="AB123456", expiry_date="2032-01-01")
    w.do("UserTask_prepare_visa_application", "ppatel", visa_ref="V-CN-0077", visa_mission="Embassy of China")
    w.do("UserTask_submit_visa_application", "ppatel", visa_submitted_on="2026-11-25")
    w.message("visa_decision", visa_ref="V-CN-0077", decision="granted")
    w.do("UserTask_sign_out_passport", "ppatel", passport_signed_out_on="2027-03-05", traveller_acknowledged=True)

    assert w.advance_to(datetime(2027, 3, 12, tzinfo=UTC)) == ["IntermediateCatchEvent_trip_ended"]
    w.do("UserTask_trip_report", "jdoe", **TRIP_REPORT)
    assert (w.status, w.open) == ("running", ["UserTask_record_passport_return"])  # the passport is still out
    assert w.advance_to(datetime(2027, 3, 14, 15, tzinfo=UTC)) == []  # back before it is due (16 Mar)
    w.do("UserTask_record_passport_return", "ppatel", passport_returned_on="2027-03-14", passport_condition="good")

    assert (w.status, w.outcome) == ("completed", APPROVED)
    data = w.data
    assert data["passport_visa_outcome"] == "completed" and data["custody_status"] == "closed"
    assert data["current_passport"] == {"held": True, "number": "AB123456", "expiry": "2032-01-01"}
    assert data["travel_authority_status"] == "issued"
    assert w.timers() == [] and w.waiting_for() == []


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_an_unreturned_passport_is_escalated_to_the_requesters_manager(w):
    w.start("jdoe", conference_request(country="France"))
    w.do(SUPERVISOR, "msmith", supervisor_decision="approve")
    w.do(FINANCE, "fchan", **APPROVE[FINANCE][1])
    register_with_documents(w, {"held": True, "number": "AB123456", "expiry": "2031-01-01"})
    assert w.open == ["UserTask_sign_out_passport"]  # valid passport, no visa for France on an official one
    w.do("UserTask_sign_out_passport", "ppatel", passport_signed_out_on="2027-03-05", traveller_acknowledged=True)
    fired = w.advance_to(datetime(2027, 3, 17, tzinfo=UTC))  # past the trip and the return due date (16 Mar)
    assert fired == ["IntermediateCatchEvent_trip_ended", "IntermediateCatchEvent_return_due"]
    assert w.task("UserTask_return_reminder").assignee == "jdoe"
    assert w.advance(days=5) == ["IntermediateCatchEvent_escalation_due"]
    assert w.task("UserTask_escalate_unreturned_passport").assignee == "msmith"
    w.do("UserTask_trip_report", "jdoe", **TRIP_REPORT)
    assert w.advance_to(datetime(2027, 3, 23, 15, tzinfo=UTC)) == []  # the day it comes back
    w.do("UserTask_record_passport_return", "ppatel", passport_returned_on="2027-03-23", passport_condition="good")
    assert w.outcome == APPROVED
    cancelled = sorted(t.element for t in w.tasks(status="cancelled"))
    assert cancelled == ["UserTask_escalate_unreturned_passport", "UserTask_return_reminder"]


def test_a_refused_visa_cancels_the_travel_authority(w):
    w.start("jdoe", conference_request(country="China", city="Beijing"))
    w.do(SUPERVISOR, "msmith", supervisor_decision="approve")
    w.do(FINANCE, "fchan", **APPROVE[FINANCE][1])
    register_with_documents(w, {"held": True, "number": "AB123456", "expiry": "2031-01-01"})
    w.do("UserTask_prepare_visa_application", "ppatel", visa_ref="V-CN-0099", visa_mission="Embassy of China")
    w.do("UserTask_submit_visa_application", "ppatel", visa_submitted_on="2026-11-25")
    w.message("visa_decision", visa_ref="V-CN-0099", decision="refused", note="No reason given")

    assert (w.status, w.outcome) == ("completed", "Travel documents refused")
    assert w.data["travel_authority_status"] == "cancelled"
    assert w.data["passport_visa_outcome"] == "rejected"
    assert w.open == [] and w.timers() == []  # the trip-ended timer went with the request
    with pytest.raises(NotFound):
        w.message("visa_decision", visa_ref="V-CN-0099", decision="granted")


def test_the_requester_can_cancel_a_pending_request(w):
    w.start("jdoe", conference_request())
    with pytest.raises(PermissionDenied):
        w.cancel("msmith")
    w.cancel("jdoe", "Conference postponed")
    assert w.status == "cancelled"
    assert [t.status for t in w.tasks(status=None)] == ["cancelled"]
    assert w.timers() == []


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_cancelling_a_request_also_stops_its_document_requests(w):
    w.start("jdoe", conference_request(country="China", city="Beijing"))
    w.do(SUPERVISOR, "msmith", supervisor_decision="approve")
    w.do(FINANCE, "fchan", **APPROVE[FINANCE][1])
    register_with_documents(w, {"held": True, "number": "AB123456", "expiry": "2031-01-01"})
    w.do("UserTask_prepare_visa_application", "ppatel", visa_ref="V-CN-0101", visa_mission="Embassy of China")
    w.do("UserTask_submit_visa_application", "ppatel", visa_submitted_on="2026-11-25")
    assert [name for _, name, _ in w.waiting_for()] == ["visa_decision"]

    with pytest.raises(InvalidState, match="already approved"):  # the travel authority is issued
        w.cancel("jdoe", "Conference cancelled by the organizer")
    w.cancel("admin", "Conference cancelled by the organizer")  # the office still can
    assert w.status == "cancelled"
    assert w.open == [] and w.timers() == [] and w.waiting_for() == []
    with pytest.raises(NotFound):
        w.message("visa_decision", visa_ref="V-CN-0101", decision="granted")

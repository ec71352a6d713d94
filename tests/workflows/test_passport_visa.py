"""Passport and visa control (`passport_visa`), started on its own: the business rules, through the engine.

The official travel documents for one trip. The rules these tests pin down:

* A new or renewed passport is needed when none is held, or when it expires less than 6 months
  after the return date (expiring exactly 6 months after is fine).
* Which destinations need a visa comes from bpmn/rules/visa_requirement.dmn, per destination and
  passport type; a destination missing from the table needs a visa.
* Passport: the passport officer prepares the application, the traveller (the requester)
  supplies photos and forms, the officer submits it; the request then waits for the message
  `passport_issued`, correlated on `application_ref`. A message for no waiting application
  (too early, wrong reference, or after the wait was interrupted) is refused.
* No news for 10 days: the officer follows up, then keeps waiting (another 10 days) or records
  the issuance learned by other means.
* Visas: one application per destination, all in parallel; each waits for `visa_decision`
  correlated on `visa_ref`, with the same 10-day follow-up. The first refused visa ends the
  request "Visa refused" (passport_visa_outcome = "rejected") and cancels the applications
  still open.
* Custody: the officer signs the passport out before departure (not after the return date);
  it is due back 5 days after the trip, at 17:00 office time. Then the traveller is reminded,
  and 5 days later their supervisor (the requester's manager) is asked to follow up. Recording
  the return closes custody and cancels the reminder and the escalation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine import NotFound, PermissionDenied, ScriptError, ValidationFailed
from tests.workflows.walk import Walker

KEY = "passport_visa"
CLOSED = "Documents issued, passport returned"
REFUSED = "Visa refused"

VALID_PASSPORT = {"held": True, "number": "AB123456", "expiry": "2031-01-01"}
SIGN_OUT = {"passport_signed_out_on": "2027-03-05", "traveller_acknowledged": True}
RETURNED = {"passport_returned_on": "2027-03-14", "passport_condition": "good"}
RETURN_DUE = datetime(2027, 3, 16, 21, 0, tzinfo=UTC)  # trip end + 5 days, 17:00 in Ottawa (EDT)
BACK_FROM_THE_TRIP = datetime(2027, 3, 14, 15, 0, tzinfo=UTC)  # RETURNED's day: a return is never dated ahead


def documents_request(**overrides):
    """Jane Doe goes to a Europol meeting in France, 8-11 March 2027, on a valid official passport."""
    data = {
        "traveller_name": "Jane Doe",
        "trip_start_date": "2027-03-08",
        "trip_end_date": "2027-03-11",
        "destinations": ["France"],
        "travel_purpose": "Europol meeting",
        "passport_type": "official",
        "current_passport": dict(VALID_PASSPORT),
    }
    data.update(overrides)
    return data


@pytest.fixture
def w(walker) -> Walker:
    return walker(KEY)


def apply_for_passport(w: Walker, ref: str = "PPT-2027-001") -> None:
    """The renewal steps up to the wait for the passport office."""
    w.do("UserTask_prepare_passport_application", "ppatel", application_ref=ref, application_type="new")
    w.do("UserTask_supply_passport_documents", "jdoe", photos_supplied=True, application_form_signed=True)
    w.do(
        "UserTask_submit_passport_application",
        "ppatel",
        passport_submitted_on="2026-11-20",
        submission_channel="courier",
    )


def apply_for_visa(w: Walker, destination: str, ref: str) -> None:
    w.do(
        "UserTask_prepare_visa_application",
        "ppatel",
        where={"visa_destination": destination},
        visa_ref=ref,
        visa_mission=f"Embassy ({destination})",
    )
    w.do("UserTask_submit_visa_application", "ppatel", where={"visa_ref": ref}, visa_submitted_on="2026-11-25")


def test_a_valid_passport_and_no_visa_go_straight_to_custody(w):
    w.start("jdoe", documents_request())
    assert w.summary == "Jane Doe — travel documents: France — 8–11 Mar 2027"  # not this year: with its year
    data = w.data
    assert (data["passport_renewal_needed"], data["visa_destinations"]) == (False, [])
    assert data["visa_requirements"] == [
        {
            "destination": "France",
            "required": False,
            "note": "Schengen area: no visa for stays under 90 days",
            "note_fr": "Espace Schengen : pas de visa pour les séjours de moins de 90 jours",
        }
    ]
    assert data["passport_return_due"] == "2027-03-16"
    sign_out = w.task("UserTask_sign_out_passport")
    assert (sign_out.role, sign_out.assignee) == ("passport_officer", None)

    with pytest.raises(ValidationFailed) as refused:  # never signed out after the return date
        w.do("UserTask_sign_out_passport", "ppatel", passport_signed_out_on="2027-03-12", traveller_acknowledged=True)
    assert [path for path, _ in refused.value.errors] == ["passport_signed_out_on"]
    w.do("UserTask_sign_out_passport", "ppatel", **SIGN_OUT)
    assert w.open == ["UserTask_record_passport_return"]
    assert w.timers() == [("IntermediateCatchEvent_return_due", RETURN_DUE)]

    assert w.advance_to(BACK_FROM_THE_TRIP) == []  # the trip; the passport comes back before it is due
    with pytest.raises(ValidationFailed):  # a lost passport needs an explanation
        w.do("UserTask_record_passport_return", "ppatel", passport_returned_on="2027-03-14", passport_condition="lost")
    w.do("UserTask_record_passport_return", "ppatel", **RETURNED)
    assert (w.status, w.outcome) == ("completed", CLOSED)
    assert (w.data["passport_visa_outcome"], w.data["custody_status"]) == ("completed", "closed")
    assert w.timers() == [] and w.open == []


def test_the_traveller_can_withdraw_while_waiting_for_the_passport(w):
    w.start("jdoe", documents_request(current_passport={"held": False}, destinations=["China"]))
    apply_for_passport(w)
    assert [name for _, name, _ in w.waiting_for()] == ["passport_issued"]
    with pytest.raises(PermissionDenied):  # not someone else's to withdraw
        w.cancel("msmith", "not mine")
    w.cancel("jdoe", "Trip called off")
    assert (w.status, w.open, w.timers(), w.waiting_for()) == ("cancelled", [], [], [])
    assert {t.status for t in w.tasks(status=None)} == {"completed"}  # the officer's work stays on record


PASSPORT_VALIDITY = [
    # (rule, passport held, renewal needed) -- the trip returns on 2027-03-11
    ("no passport held", {"held": False}, True),
    ("expires a day short of 6 months after the return", dict(VALID_PASSPORT, expiry="2027-09-10"), True),
    ("expires exactly 6 months after the return", dict(VALID_PASSPORT, expiry="2027-09-11"), False),
    ("expires years later", VALID_PASSPORT, False),
]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("rule", "passport", "renewal"), PASSPORT_VALIDITY, ids=[r[0] for r in PASSPORT_VALIDITY])
def test_a_passport_must_stay_valid_6_months_after_the_return(w, rule, passport, renewal):
    w.start("jdoe", documents_request(current_passport=passport))
    assert w.data["passport_renewal_needed"] is renewal
    assert w.open == (["UserTask_prepare_passport_application"] if renewal else ["UserTask_sign_out_passport"])


VISA_NEEDS = [
    # (rule, destinations, passport type, destinations needing a visa, in the order given)
    ("China and India need one; the UK does not", ["China", "India", "United Kingdom"], "official", ["China", "India"]),
    ("names are matched in any case and spacing", [" FRANCE ", "usa"], "official", []),
    ("Brazil waives it for diplomatic passports only", ["Brazil"], "diplomatic", []),
    ("Brazil on an official passport needs one", ["Brazil"], "official", ["Brazil"]),
    ("a destination not in the table needs one", ["Nigeria"], "diplomatic", ["Nigeria"]),
]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("rule", "destinations", "passport_type", "visas"), VISA_NEEDS, ids=[r[0] for r in VISA_NEEDS])
def test_visas_are_needed_per_destination_as_the_table_says(w, rule, destinations, passport_type, visas):
    w.start("jdoe", documents_request(destinations=destinations, passport_type=passport_type))
    assert w.data["visa_destinations"] == visas
    prepared = [t for t in w.tasks() if t.element == "UserTask_prepare_visa_application"]
    assert sorted(w.task_data(t.id)["visa_destination"] for t in prepared) == sorted(visas)
    if not visas:
        assert w.open == ["UserTask_sign_out_passport"]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_destination_is_listed_once_so_it_never_gets_two_visa_applications(w):
    with pytest.raises(ValidationFailed) as refused:
        w.start("jdoe", documents_request(destinations=["China", "India", "china "]))
    assert refused.value.errors == [("destinations.2", "This destination is already listed.")]
    w.start("jdoe", documents_request(destinations=["China", "India"]))
    assert w.open == ["UserTask_prepare_visa_application"] * 2


def test_a_new_passport_arrives_by_message_matched_on_the_application_reference(w):
    w.start("jdoe", documents_request(current_passport={"held": False}))
    w.do("UserTask_prepare_passport_application", "ppatel", application_ref="PPT-2027-001", application_type="new")
    photos = w.task("UserTask_supply_passport_documents")
    assert (photos.role, photos.assignee) == ("requester", "jdoe")  # the traveller supplies photos and forms
    with pytest.raises(NotFound):  # too early: nothing waits for the passport before the application is sent
        w.message("passport_issued", application_ref="PPT-2027-001", passport_number="DP1", expiry_date="2032-01-01")
    w.do("UserTask_supply_passport_documents", "jdoe", photos_supplied=True, application_form_signed=True)
    w.do(
        "UserTask_submit_passport_application",
        "ppatel",
        passport_submitted_on="2026-11-20",
        submission_channel="courier",
    )
    assert w.waiting_for() == [
        ("ReceiveTask_wait_for_passport", "passport_issued", {"application_ref": "PPT-2027-001"})
    ]

    with pytest.raises(NotFound):  # another application's passport
        w.message("passport_issued", application_ref="PPT-2027-999", passport_number="X9", expiry_date="2030-01-01")
    w.message("passport_issued", application_ref="PPT-2027-001", passport_number="DP123456", expiry_date="2032-05-01")

    assert w.data["current_passport"] == {"held": True, "number": "DP123456", "expiry": "2032-05-01"}
    assert w.open == ["UserTask_sign_out_passport"] and w.waiting_for() == []
    assert w.history("message_received") == ["ReceiveTask_wait_for_passport"]


def test_no_news_of_the_passport_for_10_days_makes_the_officer_follow_up(w, clock):
    w.start("jdoe", documents_request(current_passport={"held": False}))
    apply_for_passport(w)
    submitted = clock.now()
    assert w.timers() == [("BoundaryEvent_passport_overdue", submitted + timedelta(days=10))]

    assert w.advance(days=10, minutes=1) == ["BoundaryEvent_passport_overdue"]
    assert w.open == ["UserTask_passport_follow_up"]
    assert w.waiting_for() == []  # the wait was interrupted
    with pytest.raises(NotFound):  # a late message finds nobody waiting: the officer records it instead
        w.message("passport_issued", application_ref="PPT-2027-001", passport_number="DP1", expiry_date="2032-01-01")

    w.do("UserTask_passport_follow_up", "ppatel", passport_followup_action="keep_waiting")  # never heard back...
    restarted = clock.now()
    assert w.timers() == [("BoundaryEvent_passport_overdue", restarted + timedelta(days=10))]
    assert w.advance(days=10, minutes=1) == ["BoundaryEvent_passport_overdue"]  # ...so another follow-up

    with pytest.raises(ValidationFailed) as refused:
        w.do("UserTask_passport_follow_up", "ppatel", passport_followup_action="record_issued")
    assert {path for path, _ in refused.value.errors} >= {"followup_passport_number"}
    w.do(
        "UserTask_passport_follow_up",
        "ppatel",
        passport_followup_action="record_issued",
        followup_passport_number="AB765432",
        followup_passport_expiry="2032-06-30",
    )
    data = w.data
    assert data["passport_issued"] == {
        "application_ref": "PPT-2027-001",
        "passport_number": "AB765432",
        "expiry_date": "2032-06-30",
        "source": "officer",
    }
    assert data["current_passport"] == {"held": True, "number": "AB765432", "expiry": "2032-06-30"}
    assert w.open == ["UserTask_sign_out_passport"]


def test_visas_run_in_parallel_and_each_decision_finds_its_application(w):
    w.start("jdoe", documents_request(destinations=["China", "India"]))
    assert w.open == ["UserTask_prepare_visa_application"] * 2
    apply_for_visa(w, "India", "V-IN-1")
    with pytest.raises(NotFound):  # too early: China's application is not sent yet
        w.message("visa_decision", visa_ref="V-CN-1", decision="granted")
    apply_for_visa(w, "China", "V-CN-1")
    assert w.waiting_for() == [
        ("ReceiveTask_wait_for_visa_decision", "visa_decision", {"visa_ref": "V-CN-1"}),
        ("ReceiveTask_wait_for_visa_decision", "visa_decision", {"visa_ref": "V-IN-1"}),
    ]
    with pytest.raises(ScriptError):  # a decision is granted or refused, nothing else: the message is refused
        w.message("visa_decision", visa_ref="V-IN-1", decision="pending")
    assert len(w.waiting_for()) == 2
    w.message("visa_decision", visa_ref="V-IN-1", decision="granted", decided_on="2026-12-01")
    assert w.open == [] and w.status == "running"  # still waiting for China
    w.message("visa_decision", visa_ref="V-CN-1", decision="granted")

    assert w.open == ["UserTask_sign_out_passport"]
    results = sorted(w.data["visa_results"], key=lambda r: r["destination"])
    assert results == [
        {"destination": "China", "visa_ref": "V-CN-1", "decision": "granted"},
        {"destination": "India", "visa_ref": "V-IN-1", "decision": "granted"},
    ]
    w.do("UserTask_sign_out_passport", "ppatel", **SIGN_OUT)
    assert w.advance_to(BACK_FROM_THE_TRIP) == []
    w.do("UserTask_record_passport_return", "ppatel", **RETURNED)
    assert w.outcome == CLOSED


def test_the_first_refused_visa_refuses_the_request_and_cancels_the_other_applications(w):
    w.start("jdoe", documents_request(destinations=["China", "India", "Russia"]))
    apply_for_visa(w, "China", "V-CN-7")
    apply_for_visa(w, "Russia", "V-RU-7")
    w.message("visa_decision", visa_ref="V-RU-7", decision="granted")
    assert w.open == ["UserTask_prepare_visa_application"]  # India not even prepared yet

    w.message("visa_decision", visa_ref="V-CN-7", decision="refused", note="No reason given")
    assert (w.status, w.outcome) == ("completed", REFUSED)
    assert (w.data["passport_visa_outcome"], w.data["visas_refused"]) == ("rejected", ["China"])
    assert [t.element for t in w.tasks(status="cancelled")] == ["UserTask_prepare_visa_application"]
    assert w.open == [] and w.timers() == [] and w.waiting_for() == []


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_no_visa_decision_for_10_days_makes_the_officer_follow_up(w):
    w.start("jdoe", documents_request(destinations=["India", "China"]))
    apply_for_visa(w, "India", "V-IN-9")
    w.advance(hours=1)
    apply_for_visa(w, "China", "V-CN-9")
    assert w.advance(days=10) == ["BoundaryEvent_visa_overdue"]  # India's
    assert w.advance(hours=1) == ["BoundaryEvent_visa_overdue"]  # China's, an hour later
    follow_up = w.task("UserTask_visa_follow_up", where={"visa_ref": "V-CN-9"})
    assert follow_up.role == "passport_officer"

    # China: keep waiting, and the decision then comes by message.
    w.do("UserTask_visa_follow_up", "ppatel", where={"visa_ref": "V-CN-9"}, visa_followup_action="keep_waiting")
    w.message("visa_decision", visa_ref="V-CN-9", decision="granted")
    # India: the officer learned the decision by phone.
    with pytest.raises(ValidationFailed):
        w.do("UserTask_visa_follow_up", "ppatel", visa_followup_action="record_decision")
    w.do("UserTask_visa_follow_up", "ppatel", visa_followup_action="record_decision", visa_followup_decision="refused")

    assert w.outcome == REFUSED
    assert w.data["visas_refused"] == ["India"]


def test_an_unreturned_passport_reminds_the_traveller_then_escalates_to_the_supervisor(w):
    w.start("jdoe", documents_request())
    w.do("UserTask_sign_out_passport", "ppatel", **SIGN_OUT)
    assert w.advance_to(RETURN_DUE - timedelta(minutes=1)) == []
    assert w.advance(minutes=2) == ["IntermediateCatchEvent_return_due"]
    reminder = w.task("UserTask_return_reminder")
    assert (reminder.role, reminder.assignee) == ("requester", "jdoe")
    assert w.open == ["UserTask_record_passport_return", "UserTask_return_reminder"]
    with pytest.raises(ValidationFailed):  # a promise to return needs a date
        w.do("UserTask_return_reminder", "jdoe", return_reminder_response="will_return")
    w.do("UserTask_return_reminder", "jdoe", return_reminder_response="will_return", expected_return_date="2027-03-25")

    assert w.advance(days=5) == ["IntermediateCatchEvent_escalation_due"]
    escalation = w.task("UserTask_escalate_unreturned_passport")
    assert (escalation.role, escalation.assignee) == ("supervisor", "msmith")  # the traveller's manager
    w.do(
        "UserTask_escalate_unreturned_passport",
        "msmith",
        escalation_action="spoke_to_traveller",
        escalation_comment="Returning it Monday",
    )
    assert w.status == "running"  # custody stays open until the passport is back
    assert w.advance_to(datetime(2027, 3, 22, 14, 0, tzinfo=UTC)) == []  # Monday
    w.do("UserTask_record_passport_return", "ppatel", passport_returned_on="2027-03-22", passport_condition="good")
    assert w.outcome == CLOSED


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_recording_the_return_cancels_a_pending_reminder_and_the_escalation(w):
    w.start("jdoe", documents_request())
    w.do("UserTask_sign_out_passport", "ppatel", **SIGN_OUT)
    w.advance_to(RETURN_DUE + timedelta(hours=1))
    assert [element for element, _ in w.timers()] == ["IntermediateCatchEvent_escalation_due"]
    w.do("UserTask_record_passport_return", "ppatel", passport_returned_on="2027-03-16", passport_condition="good")
    assert w.outcome == CLOSED
    assert [t.element for t in w.tasks(status="cancelled")] == ["UserTask_return_reminder"]
    assert w.timers() == []
    assert w.advance(days=10) == []


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_every_timer_that_fires_is_in_the_audit_trail_even_when_two_fall_due_together(w, clock):
    w.start("jdoe", documents_request(destinations=["India", "China"]))
    apply_for_visa(w, "India", "V-IN-5")
    apply_for_visa(w, "China", "V-CN-5")  # same clock instant: both follow-up timers fall due together
    clock.advance(days=11)
    w.fire_due_timers()
    assert w.open == ["UserTask_visa_follow_up"] * 2
    assert w.history("timer_fired") == ["BoundaryEvent_visa_overdue"] * 2


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_visa_decisions_arriving_after_a_server_restart_still_complete_the_applications(w):
    w.start("jdoe", documents_request(destinations=["China"]))
    apply_for_visa(w, "China", "V-CN-3")
    w.restart()
    w.message("visa_decision", visa_ref="V-CN-3", decision="granted")
    assert w.open == ["UserTask_sign_out_passport"]

"""A request's status in a requester's words, derived from the diagram (engine/request_status.py):
the designer's `status` on a milestone while the request waits there (with its date), defaults
from who holds the open task, what outside party a message wait names, and how it ended."""

from __future__ import annotations

from datetime import date, timedelta

from engine.request_status import RequestStatus
from tests.workflows.test_conference_attendance import (
    KEY,
    REGISTER_NO_DOCUMENTS,
    TRIP_REPORT,
    conference_request,
)
from tests.workflows.test_passport_visa import KEY as PASSPORT_KEY
from tests.workflows.test_passport_visa import documents_request
from tests.workflows.walk import Walker


def status(w: Walker) -> RequestStatus:
    with w.db.reading() as s:
        return w.engine.request_statuses(s, [w._id])[w._id]


def test_a_conference_request_reads_pending_returned_approved_closed(walker):
    w = walker(KEY).start("jdoe", conference_request())
    pending = status(w)
    assert (pending.tone, pending.kind, pending.who) == ("pending", "pending_approval", "Marc Smith")

    w.do("UserTask_supervisor_review", "msmith", supervisor_decision="return", supervisor_comment="Lodging?")
    returned = status(w)
    assert (returned.tone, returned.kind) == ("returned", "designer")
    assert dict(returned.text) == {"en": "Returned for changes", "fr": "Renvoyée pour modifications"}

    w.do("UserTask_amend_request", "jdoe", **conference_request())
    w.do("UserTask_supervisor_review", "msmith", supervisor_decision="approve")
    finance = status(w)
    assert (finance.kind, finance.who, finance.role) == ("pending_approval", None, "finance")  # the queue
    w.do("UserTask_finance_review", "fchan", finance_decision="confirm", cost_centre="CC-4410")
    w.do("UserTask_register_trip", "cgagnon", **REGISTER_NO_DOCUMENTS)

    approved = status(w)  # waits at the trip's end timer alone
    assert (approved.tone, approved.text["en"]) == ("approved", "Approved: trip report due after {date}")
    assert approved.dates["date"] == date(2027, 3, 11)

    w.advance_to(w.timers()[0][1] + timedelta(minutes=1))
    report = status(w)
    assert report.text["fr"] == "Approuvée : rapport de voyage attendu d’ici le {date}"
    w.do("UserTask_trip_report", "jdoe", **TRIP_REPORT)
    assert (status(w).tone, status(w).kind) == ("closed", "closed")


def test_rejected_withdrawn_and_cancelled_by_the_office(walker):
    rejected = walker(KEY).start("jdoe", conference_request())
    rejected.do("UserTask_supervisor_review", "msmith", supervisor_decision="reject", supervisor_comment="No budget")
    assert (status(rejected).tone, status(rejected).kind) == ("rejected", "rejected")

    withdrawn = walker(KEY).start("jdoe", conference_request())
    withdrawn.cancel("jdoe", "Plans changed")
    assert (status(withdrawn).tone, status(withdrawn).kind) == ("withdrawn", "withdrawn")

    cancelled = walker(KEY).start("jdoe", conference_request())
    cancelled.cancel("admin", "Duplicate")
    assert status(cancelled).kind == "cancelled"


def test_a_message_wait_names_its_outside_party(walker):
    w = walker(PASSPORT_KEY).start("jdoe", documents_request(current_passport={"held": False}))
    steps = [
        ("UserTask_prepare_passport_application", "ppatel", {"application_ref": "PPT-9", "application_type": "new"}),
        ("UserTask_supply_passport_documents", "jdoe", {"photos_supplied": True, "application_form_signed": True}),
        (
            "UserTask_submit_passport_application",
            "ppatel",
            {"passport_submitted_on": "2026-11-01", "submission_channel": "courier"},
        ),
    ]
    for element, who, data in steps:
        w.do(element, who, **data)
    waiting = status(w)
    assert (waiting.tone, waiting.kind, waiting.party["en"]) == ("waiting", "waiting_for_party", "Passport Canada")


def test_one_query_per_fact_for_a_page_of_requests(walker):
    walkers = [walker(KEY).start("jdoe", conference_request()) for _ in range(3)]
    with walkers[0].db.reading() as s:
        found = walkers[0].engine.request_statuses(s, [w._id for w in walkers])
    assert [found[w._id].who for w in walkers] == ["Marc Smith"] * 3


def test_an_approved_visit_waits_for_its_end_then_its_report(walker):
    from tests.workflows.test_delegation_visit import (
        CLEARED,
        HANS,
        OMAR,
        PETRA,
        PROTOCOL,
        PROTOCOL_STEP,
        approve_until_protocol,
        screen,
        visit_request,
    )

    w = walker("delegation_visit").start("lokafor", visit_request())
    for member in (OMAR, HANS, PETRA):
        screen(w, member["name"], **CLEARED)
    approve_until_protocol(w)
    w.do(PROTOCOL_STEP, "cgagnon", **PROTOCOL)
    waiting = status(w)
    assert (waiting.tone, waiting.text["en"], waiting.dates["date"]) == (
        "approved",
        "Approved: post-visit report due after {date}",
        date(2027, 4, 14),
    )
    w.advance_to(w.timers()[0][1] + timedelta(minutes=1))
    assert status(w).text["fr"] == "Approuvée : rapport après la visite attendu d’ici le {date}"


def test_a_status_date_is_the_office_day_not_the_utc_one(walker):
    """A step due at 22:00 in Ottawa is due that day, though it is already the next day in UTC."""
    from datetime import UTC, datetime

    w = walker(KEY).start("jdoe", conference_request())
    late_evening = datetime(2027, 3, 12, 3, 0, tzinfo=UTC)  # 22:00 on 11 March, Eastern time
    assert w.engine.office_day(late_evening) == date(2027, 3, 11)
    assert w.engine.office_day(None) is None

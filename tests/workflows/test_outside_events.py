"""Recording from a page what a request waits for (engine/outside_events.py): the passport officer
records "passport received" and "visa decision" where the office has no API to the passport office
or the mission. Validated like a task, refused to others and to the traveller, delivered as the
message itself with the wait's correlation, and audited with the person and the channel."""

from __future__ import annotations

import pytest

from engine.errors import PermissionDenied, ValidationFailed
from engine.models import AuditEvent, ProcessInstance
from tests.workflows.test_passport_visa import KEY, apply_for_passport, apply_for_visa, documents_request


@pytest.fixture
def w(walker):
    return walker(KEY)


def waits(w):
    with w.db.reading() as s:
        return w.engine.outside_waits(s, s.get(ProcessInstance, w.id))


def record(w, user, wait, **data):
    with w.db.transaction() as s:
        w.engine.record_outside_event(s, w.id, wait.subscription_id, user, data)


def test_the_passport_officer_records_the_passport_received(w):
    w.start("jdoe", documents_request(current_passport={"held": False}))
    apply_for_passport(w)
    [wait] = waits(w)
    assert (wait.message, wait.role, wait.form) == (
        "passport_issued",
        "passport_officer",
        "forms/passport_issued_record.schema.json",
    )
    assert wait.waiting_for == {"en": "Passport Canada", "fr": "Passeport Canada"}
    assert wait.label["fr"] == "Consigner la réception du passeport"

    with pytest.raises(PermissionDenied):  # the traveller cannot record their own passport
        record(w, "jdoe", wait, passport_number="DP123456", expiry_date="2032-05-01")
    with pytest.raises(PermissionDenied):  # nor someone without the role
        record(w, "msmith", wait, passport_number="DP123456", expiry_date="2032-05-01")
    with pytest.raises(ValidationFailed):
        record(w, "ppatel", wait, passport_number="dp 1", expiry_date="2032-05-01")
    assert w.waiting_for() and w.open == []  # nothing changed

    record(w, "ppatel", wait, passport_number="DP123456", expiry_date="2032-05-01")
    assert w.data["current_passport"] == {"held": True, "number": "DP123456", "expiry": "2032-05-01"}
    assert w.open == ["UserTask_sign_out_passport"] and waits(w) == []
    with w.db.reading() as s:
        event = s.query(AuditEvent).filter_by(instance_id=w.id, action="message_received").one()
        assert (event.actor, event.details["channel"], event.details["recorded_by"]) == ("ppatel", "page", "ppatel")
        assert event.details["correlation"] == {"application_ref": "PPT-2027-001"}


def test_visa_decisions_are_recorded_per_application(w):
    w.start("jdoe", documents_request(destinations=["China", "India"]))
    apply_for_visa(w, "China", "VIS-CN-1")
    apply_for_visa(w, "India", "VIS-IN-1")
    recorded = {wait.subscription_id: wait for wait in waits(w)}
    assert len(recorded) == 2 and {wt.message for wt in recorded.values()} == {"visa_decision"}
    for wait in recorded.values():
        record(w, "ppatel", wait, decision="granted", decided_on="2026-12-01")
    assert waits(w) == [] and "visa_decision" not in [name for _, name, _ in w.waiting_for()]
    assert w.history("message_received").count("ReceiveTask_wait_for_visa_decision") == 2

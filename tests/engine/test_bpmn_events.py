"""Every wait state wakes up: event-based gateways, message and signal start events, signals thrown
between requests. Each instance is saved and restored from the database at every wait, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import NotFound
from engine.definitions import read_sources
from engine.models import MessageSubscription, ProcessInstance, Timer
from engine.queries.tasks import instance_view
from tests.conftest import FIXTURES

EVENTS = FIXTURES / "events"


@pytest.fixture
def deployed(people, engine):
    with people.transaction() as s:
        engine.deploy(s, [EVENTS], deployed_by="admin")
    return people


def start(db, engine, key):
    with db.transaction() as s:
        return engine.start(s, key, {}, "jdoe").id


def waits(db, iid):
    with db.reading() as s:
        subs = s.scalars(select(MessageSubscription).where(MessageSubscription.instance_id == iid)).all()
        timers = s.scalars(select(Timer).where(Timer.instance_id == iid, Timer.kind == "bpmn_timer")).all()
        return sorted((sub.kind, sub.message_name, sub.element_id) for sub in subs), [t.due_at for t in timers]


def outcome(db, iid):
    with db.reading() as s:
        view = instance_view(s, iid)
    return view["status"], view["outcome"], [e["action"] for e in view["audit"]]


def test_event_gateway_registers_each_event(deployed, engine, clock):
    iid = start(deployed, engine, "event_gateway")
    subs, timers = waits(deployed, iid)
    assert subs == [("message", "gw_go", "Event_go"), ("signal", "gw_halt", "Event_halt")]
    assert timers == [clock.now() + timedelta(days=1)]


def test_event_gateway_message_wins_and_withdraws_the_others(deployed, engine):
    iid = start(deployed, engine, "event_gateway")
    with deployed.transaction() as s:
        engine.deliver_message(s, "gw_go", {"ref": f"G-{iid}", "note": "now"})
    assert outcome(deployed, iid)[:2] == ("completed", "By message")
    assert waits(deployed, iid) == ([], [])
    with deployed.reading() as s:
        assert instance_view(s, iid)["data"]["go"] == {"ref": f"G-{iid}", "note": "now"}


def test_event_gateway_timer_wins(deployed, engine, clock):
    iid = start(deployed, engine, "event_gateway")
    clock.advance(days=1, seconds=1)
    with deployed.reading() as s:
        [timer] = engine.due_timers(s)
    with deployed.transaction() as s:
        assert engine.fire_timer(s, timer.id) is True
    assert outcome(deployed, iid)[:2] == ("completed", "By timer")
    assert waits(deployed, iid) == ([], [])
    with deployed.transaction() as s, pytest.raises(NotFound):
        engine.deliver_message(s, "gw_go", {"ref": f"G-{iid}"})


def test_event_gateway_signal_wins_in_every_waiting_instance(deployed, engine):
    first, second = start(deployed, engine, "event_gateway"), start(deployed, engine, "event_gateway")
    with deployed.transaction() as s:
        reached = engine.deliver_signal(s, "gw_halt")
    assert sorted(i.id for i in reached) == [first, second]
    for iid in (first, second):
        status, end, actions = outcome(deployed, iid)
        assert (status, end) == ("completed", "By signal")
        assert "signal_received" in actions
        assert waits(deployed, iid) == ([], [])


def test_message_start_creates_an_instance_and_correlates_later_messages(deployed, engine):
    with deployed.transaction() as s:
        first = engine.deliver_message(s, "order_placed", {"order_no": "A-1"}).id
    with deployed.transaction() as s:
        second = engine.deliver_message(s, "order_placed", {"order_no": "B-2"}).id
    assert first != second
    with deployed.reading() as s:
        assert s.get(ProcessInstance, first).process_key == "message_started"
        assert instance_view(s, first)["data"]["order"] == {"order_no": "A-1"}
    assert waits(deployed, first)[0] == [("message", "order_paid", "Event_paid")]
    with deployed.transaction() as s:
        assert engine.deliver_message(s, "order_paid", {"order_no": "B-2", "paid": 10}).id == second
    actions = ["started", "message_received", "message_received", "ended"]
    assert outcome(deployed, second) == ("completed", "Paid", actions)
    assert outcome(deployed, first)[0] == "running"


def test_signal_start_and_throw_reach_every_waiting_instance(deployed, engine):
    waiting = [start(deployed, engine, "signal_waiter") for _ in range(2)]
    assert waits(deployed, waiting[0])[0] == [("signal", "fire_drill", "Catch_drill")]
    thrower = start(deployed, engine, "signal_thrower")
    assert outcome(deployed, thrower)[:2] == ("completed", "Thrown")
    for iid in waiting:
        assert outcome(deployed, iid)[:2] == ("completed", "Heard")
    with deployed.reading() as s:
        started = s.scalars(select(ProcessInstance).where(ProcessInstance.process_key == "signal_started")).all()
    assert [(i.status, i.outcome) for i in started] == [("completed", "Drilled")]


def test_signal_caught_by_its_thrower_still_reaches_the_others_without_its_data(deployed, engine, clock):
    waiting = start(deployed, engine, "signal_waiter")
    both = start(deployed, engine, "signal_self")
    clock.advance(minutes=1, seconds=1)
    with deployed.reading() as s:
        [timer] = engine.due_timers(s)
    with deployed.transaction() as s:
        assert engine.fire_timer(s, timer.id) is True
    assert outcome(deployed, both)[:2] == ("completed", "Both")
    assert outcome(deployed, waiting)[:2] == ("completed", "Heard")
    with deployed.reading() as s:
        assert instance_view(s, waiting)["data"]["instance_id"] == waiting  # the thrower's data stays its own


def test_signal_end_event_reaches_waiting_instances(deployed, engine):
    waiting = start(deployed, engine, "signal_waiter")
    thrower = start(deployed, engine, "signal_end_thrower")
    assert outcome(deployed, thrower)[:2] == ("completed", "Alarm sounded")
    assert outcome(deployed, waiting)[:2] == ("completed", "Heard")


def test_signal_from_outside_with_nobody_waiting_starts_signal_start_processes(deployed, engine):
    with deployed.transaction() as s:
        reached = engine.deliver_signal(s, "fire_drill")
    assert [i.process_key for i in reached] == ["signal_started"]
    with deployed.transaction() as s:
        assert engine.deliver_signal(s, "nobody_listens") == []


def test_event_gateway_with_two_timers_is_refused_at_check(engine, tmp_path):
    text = (EVENTS / "event_gateway.bpmn").read_text()
    text = text.replace(
        '<bpmn:signalEventDefinition id="SignalDef_halt" signalRef="Signal_halt" />',
        '<bpmn:timerEventDefinition id="TimerDef_2"><bpmn:timeDuration>"P2D"</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition>",
    )
    (tmp_path / "event_gateway.bpmn").write_text(text)
    findings = engine.check(read_sources([tmp_path / "event_gateway.bpmn"]))
    assert [(f["element"], f["message"]) for f in findings] == [
        ("Gateway_wait", "an event-based gateway may wait for one timer, not 2 (Event_late, Event_halt)")
    ]

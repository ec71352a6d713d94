"""The outbox: SMTP down then up, refusals, backoff, failures becoming incidents, two senders racing."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from engine import audit
from engine.mail.outbox import backoff, enqueue
from engine.models import AuditEvent, Incident, OutboxMessage, ProcessInstance
from engine.worker.incidents import open_incidents, retry_incident
from tests.scheduler.conftest import SmtpSink, free_port, outbox_rows, start


def queue(db, clock, n: int, to: str = "msmith@waypoint.example") -> list[int]:
    with db.transaction() as s:
        rows = [
            enqueue(s, now=clock.now(), kind="test", recipient=to, subject=f"message {i}", text=f"body {i}\n")
            for i in range(n)
        ]
        s.flush()
        return [r.id for r in rows]


def test_backoff_doubles_up_to_an_hour():
    assert [backoff(n).total_seconds() for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_smtp_down_then_up_loses_nothing_and_sends_nothing_twice(flows, engine, clock, make_worker):
    db = flows
    for _ in range(3):
        start(db, engine)
    queue(db, clock, 4)
    port = free_port()  # nothing listens here yet
    worker = make_worker(port=port, email_batch=50)

    report = worker.drain()
    assert (report.emails.sent, report.emails.retrying) == (0, 7)
    rows = outbox_rows(db)
    assert {(r.status, r.attempts) for r in rows} == {("pending", 1)}
    assert {r.next_attempt_at - clock.now() for r in rows} == {timedelta(seconds=30)}
    assert all("Connection refused" in r.last_error or "ConnectionRefused" in r.last_error for r in rows)

    clock.advance(seconds=20)
    assert worker.drain().emails.retrying == 0  # backing off: not tried again yet
    clock.advance(seconds=11)
    assert worker.drain().emails.retrying == 7
    assert {r.attempts for r in outbox_rows(db)} == {2}

    sink = SmtpSink(port).start()  # the server comes back
    try:
        clock.advance(seconds=61)
        assert worker.drain().emails.sent == 7
        for _ in range(3):
            clock.advance(minutes=10)
            assert worker.drain().emails.sent == 0
        assert {(r.status, r.attempts, r.last_error) for r in outbox_rows(db)} == {("sent", 3, None)}
        received = Counter(m["Message-ID"] for m in sink.messages)
        assert sorted(received) == sorted(r.message_id for r in outbox_rows(db)) and set(received.values()) == {1}
    finally:
        sink.stop()


def test_a_temporary_refusal_is_retried_the_rest_goes_through(flows, clock, make_worker, smtp):
    db = flows
    first, *others = queue(db, clock, 3)
    smtp.refuse = ["451 4.3.0 mailbox busy"]
    report = make_worker().drain()
    assert (report.emails.sent, report.emails.retrying) == (2, 1)
    with db.reading() as s:
        row = s.get(OutboxMessage, first)
        assert (row.status, row.attempts) == ("pending", 1) and "451" in row.last_error
    clock.advance(seconds=31)
    assert make_worker().drain().emails.sent == 1
    assert sorted(str(m["Subject"]) for m in smtp.messages) == ["message 0", "message 1", "message 2"]


def test_a_permanent_refusal_becomes_an_incident_an_admin_can_retry(flows, engine, clock, make_worker, smtp):
    db = flows
    iid = start(db, engine)
    smtp.refuse = ["550 5.1.1 no such mailbox"]
    report = make_worker().drain()
    assert report.emails.failed == 1
    [row] = outbox_rows(db)
    assert (row.status, row.attempts) == ("failed", 1)
    with db.reading() as s:
        [incident] = open_incidents(s)
    assert (incident.kind, incident.instance_id, incident.outbox_id) == ("email", iid, row.id)
    assert "550" in incident.error and "msmith@waypoint.example" in incident.error
    with db.reading() as s:  # on the request's audit trail, like a failed timer
        [opened] = s.scalars(select(AuditEvent).where(AuditEvent.action == "incident_opened")).all()
        assert (opened.instance_id, opened.actor, opened.details["kind"]) == (iid, "system", "email")
        assert audit.verify(s, s.get(ProcessInstance, iid)) == []
    assert make_worker().drain().emails.sent == 0  # failed rows stay put

    with db.transaction() as s:
        retry_incident(s, incident.id, "admin", clock.now())
    assert make_worker().drain().emails.sent == 1
    [row] = outbox_rows(db)
    assert row.status == "sent"
    with db.reading() as s:
        assert s.get(Incident, incident.id).status == "retried"
        assert open_incidents(s) == []


def test_after_max_attempts_an_email_fails_for_good(flows, clock, make_worker):
    db = flows
    [row_id] = queue(db, clock, 1)
    worker = make_worker(port=free_port(), max_email_attempts=3)
    for _ in range(3):
        worker.drain()
        clock.advance(hours=1)
    with db.reading() as s:
        row = s.get(OutboxMessage, row_id)
        assert (row.status, row.attempts) == ("failed", 3)
        [incident] = s.scalars(select(Incident))
        assert incident.outbox_id == row_id and incident.instance_id is None


def test_two_senders_racing_deliver_each_message_once(flows, clock, make_worker, smtp):
    import threading

    db = flows
    queue(db, clock, 40)
    workers = [make_worker(owner=f"sender-{n}", email_batch=4) for n in range(3)]
    barrier = threading.Barrier(len(workers))

    def run(worker) -> None:
        barrier.wait()
        for _ in range(20):
            worker.sender.deliver_once()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    received = Counter(str(m["Subject"]) for m in smtp.messages)
    assert len(received) == 40 and set(received.values()) == {1}
    assert {r.status for r in outbox_rows(db)} == {"sent"}


def test_message_format(flows, engine, clock, make_worker, smtp):
    db = flows
    start(db, engine, user="dlee", key="reminder_demo")  # a supervisor queue task: msmith is the only other one
    make_worker().drain()
    [message] = smtp.to("msmith@")
    [row] = outbox_rows(db)
    assert message["Message-ID"] == row.message_id and message["From"] == "waypoint@waypoint.test"
    assert message["To"] == "Marc Smith <msmith@waypoint.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Reply-To"].endswith("@reply.waypoint.test") and len(message["Reply-To"].split("@")[0]) <= 64
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Diane Lee" in text and "http://waypoint.test/tasks/" in text and "Approve: http://waypoint.test/" in text
    assert "<strong>Supervisor review</strong>" in html and "Approve…</a>" in html

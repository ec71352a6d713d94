"""Reminders, escalations, the daily digest and calendar invitations, over days of a manual clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

import workflows
from engine.glue import ProcessGlue
from engine.mail.invitations import CALENDAR_RULES, CalendarRule
from engine.mail.notifications import next_reminder
from engine.models import AuditEvent, OutboxMessage, PeriodicJob, TaskRecord, Timer, User
from engine.taskindex import TASK_ESCALATION, TASK_REMINDER
from tests.scheduler.conftest import open_task, outbox_rows, start


def hours_since(t0, rows):
    return [round((r.created_at - t0).total_seconds() / 3600, 2) for r in rows]


def test_reminders_then_escalation_over_a_week(flows, engine, clock, make_worker, smtp):
    db = flows
    t0 = clock.now()
    iid = start(db, engine)
    [new] = outbox_rows(db, "new_task")
    assert (new.recipient, new.user_id is not None) == ("msmith@waypoint.example", True)
    assert "Supervisor review" in new.subject and "Interpol assembly" in new.subject
    assert "/tasks/" in new.body_text and "/email-actions/" in new.body_text and new.reply_to.startswith("r-")
    with db.reading() as s:
        kinds = {t.kind: t.due_at for t in s.scalars(select(Timer).where(Timer.instance_id == iid))}
    assert kinds == {TASK_REMINDER: t0 + timedelta(days=2), TASK_ESCALATION: t0 + timedelta(days=4)}

    first, second = make_worker(owner="w1"), make_worker(owner="w2")
    for _ in range(6 * 24 + 6):  # six and a quarter days, an hour at a time, two workers taking turns
        clock.advance(hours=1)
        first.drain()
        second.drain()

    reminders = outbox_rows(db, "reminder")
    assert hours_since(t0, reminders) == [49, 73, 97, 121, 145]  # at due (48 h), then daily
    assert [r.recipient.split("@")[0] for r in reminders] == ["msmith", "msmith", "msmith", "dlee", "dlee"]
    [escalation] = outbox_rows(db, "escalation")
    assert (escalation.recipient, hours_since(t0, [escalation])) == ("dlee@waypoint.example", [97])
    assert "reassigned" in escalation.body_text and "Marc Smith" in escalation.body_text
    task = open_task(db, iid)
    assert (task.assignee.username, task.role) == ("dlee", "supervisor")
    with db.reading() as s:
        escalated = s.scalars(select(AuditEvent).where(AuditEvent.action == "task_escalated")).one()
        assert escalated.details == {"from": "msmith", "to": "dlee", "to_role": None}
        assert s.scalar(select(func.count()).select_from(Timer).where(Timer.kind == TASK_ESCALATION)) == 0

    sent = [m for m in smtp.messages if "Digest" not in str(m["Subject"])]
    task_mail = [m for m in sent if m["Message-ID"] in {r.message_id for r in outbox_rows(db) if r.kind != "digest"}]
    assert len(task_mail) == 1 + 5 + 1  # new task, five reminders, one escalation: each delivered once
    assert len({m["Message-ID"] for m in smtp.messages}) == len(smtp.messages)
    assert all(r.status == "sent" and r.attempts == 1 for r in outbox_rows(db))


def test_queue_task_escalates_to_a_role_in_french(flows, engine, clock, make_worker, smtp):
    db = flows
    iid = start(db, engine)
    with db.transaction() as s:
        engine.complete(s, open_task(db, iid).id, "msmith", {"decision": "approve", "comment": "ok"})
    check = open_task(db, iid)
    assert (check.role, check.assignee_id) == ("itv_coordinator", None)
    [new] = outbox_rows(db, "new_task", task_id=check.id)
    assert new.recipient == "cgagnon@waypoint.example"  # the only ITV coordinator; she reads French
    assert new.subject.startswith("[Waypoint] Nouvelle tâche : Vérification VIV")
    assert "Échéance" in new.body_text and "Ouvrir la tâche" in new.body_text and 'lang="fr"' in new.body_html
    with db.reading() as s:  # the first task's timers went with it
        assert {t.task_id for t in s.scalars(select(Timer).where(Timer.instance_id == iid))} == {check.id}

    worker = make_worker()
    clock.advance(days=3, seconds=1)
    worker.drain()
    check = open_task(db, iid)
    assert (check.role, check.assignee_id, check.claimed_by_id) == ("senior_management", None, None)
    escalations = outbox_rows(db, "escalation")
    # the new queue's people (dlee; jdoe started the request) and the requester's manager
    assert sorted(r.recipient for r in escalations) == ["dlee@waypoint.example", "msmith@waypoint.example"]
    with pytest.raises(Exception, match="needs the role"):
        with db.transaction() as s:
            engine.complete(s, check.id, "cgagnon", {"decision": "approve"})
    with db.transaction() as s:
        engine.complete(s, check.id, "dlee", {"decision": "approve"})
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Timer).where(Timer.instance_id == iid)) == 0


def test_downtime_fires_each_overdue_timer_once(flows, engine, clock, make_worker):
    db = flows
    iid = start(db, engine)
    clock.advance(days=10)  # the worker was down for ten days
    report = make_worker().drain()
    assert report.fired == 2  # one reminder and one escalation, not one per missed day
    assert len(outbox_rows(db, "reminder")) == 1 and len(outbox_rows(db, "escalation")) == 1
    with db.reading() as s:
        reminder = s.scalars(select(Timer).where(Timer.instance_id == iid, Timer.kind == TASK_REMINDER)).one()
    assert clock.now() < reminder.due_at <= clock.now() + timedelta(days=1)
    assert make_worker().drain().fired == 0


def test_next_reminder_skips_missed_occurrences():
    from datetime import UTC, datetime

    due = datetime(2026, 11, 4, 14, tzinfo=UTC)
    assert next_reminder(due, "P1D", due + timedelta(seconds=1)) == due + timedelta(days=1)
    assert next_reminder(due, "P2D", due + timedelta(days=9)) == due + timedelta(days=10)
    assert next_reminder(due, "PT4H", due + timedelta(hours=4)) == due + timedelta(hours=8)
    assert next_reminder(due, "nonsense", due) == due + timedelta(days=1)


def test_completing_a_task_ends_its_reminders(flows, engine, clock, make_worker):
    db = flows
    iid = start(db, engine)
    with db.transaction() as s:
        engine.complete(s, open_task(db, iid).id, "msmith", {"decision": "reject", "comment": "no"})
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Timer)) == 0
    clock.advance(days=5)
    assert make_worker().drain().fired == 0
    assert outbox_rows(db, "reminder") == []


def test_claimed_task_reminds_the_claimant(flows, engine, clock, make_worker):
    db = flows
    iid = start(db, engine, user="dlee")  # dlee has no manager: the review is a supervisor queue task
    task = open_task(db, iid)
    assert task.assignee_id is None
    assert [r.recipient for r in outbox_rows(db, "new_task")] == ["msmith@waypoint.example"]  # not dlee herself
    with db.transaction() as s:
        engine.claim(s, task.id, "msmith")
    clock.advance(days=2, seconds=1)
    make_worker().drain()
    assert [r.recipient for r in outbox_rows(db, "reminder")] == ["msmith@waypoint.example"]


def test_daily_digest_once_per_person_per_day_with_opt_out(flows, engine, clock, make_worker):
    db = flows
    first = start(db, engine)  # msmith's review
    clock.advance(hours=1)
    start(db, engine, user="rmartin")  # another review for msmith
    clock.advance(hours=1)
    start(db, engine, key="timer_race")  # and an acknowledgement for msmith
    with db.transaction() as s:
        s.scalars(select(User).where(User.username == "cgagnon")).one().digest_opt_out = True
        engine.complete(s, open_task(db, first).id, "msmith", {"decision": "approve"})  # -> ITV queue (cgagnon)
    workers = [make_worker(owner="a"), make_worker(owner="b")]
    workers[0].drain()  # creates the job row: next 07:00 Toronto
    with db.reading() as s:
        job = s.get(PeriodicJob, "daily_digest")
    assert job.next_due_at.astimezone(ZoneInfo("America/Toronto")).hour == 7
    clock.set(job.next_due_at + timedelta(minutes=1))
    for worker in workers:
        worker.drain()
    digests = outbox_rows(db, "digest")
    assert [d.recipient for d in digests] == ["msmith@waypoint.example"]  # cgagnon opted out
    body = digests[0].body_text
    assert body.index("Rémi Martin") < body.index("Acknowledge")  # oldest first
    assert digests[0].subject.startswith("[Waypoint] 2 tasks waiting for you")
    clock.advance(hours=12)
    for worker in workers:
        worker.drain()
    assert len(outbox_rows(db, "digest")) == 1  # once a day
    clock.advance(hours=12)
    workers[1].drain()
    assert len(outbox_rows(db, "digest")) == 2


def test_calendar_invitation_once_when_approved(flows, engine, clock, make_worker, smtp, monkeypatch):
    db = flows
    monkeypatch.setitem(
        CALENDAR_RULES,
        "reminder_demo",
        CalendarRule(title=lambda d, lang: f"Trip: {d['title']}", location=lambda d, lang: "Lyon, France"),
    )
    monkeypatch.setitem(
        engine.glue.processes,
        "reminder_demo",
        ProcessGlue("reminder_demo", approved=lambda d: d.get("decision") == "approve"),
    )
    iid = start(db, engine, user="rmartin", start_date="2026-11-20", end_date="2026-11-23")
    assert outbox_rows(db, "calendar") == []
    with db.transaction() as s:
        engine.complete(s, open_task(db, iid).id, "msmith", {"decision": "approve"})
    with db.transaction() as s:
        engine.complete(s, open_task(db, iid).id, "cgagnon", {"decision": "approve"})  # saves again: no second one
    [invite] = outbox_rows(db, "calendar")
    assert invite.recipient == "rmartin@waypoint.example" and invite.subject.startswith("[Waypoint] Approuvé : Trip")
    make_worker().drain()
    [message] = [m for m in smtp.to("rmartin@") if "Approuvé" in str(m["Subject"])]
    [ics] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    text = ics.get_content()
    assert ics.get_param("method") == "REQUEST" and ics.get_filename() == "invitation.ics"
    assert "DTSTART;VALUE=DATE:20261120\r\n" in text and "DTEND;VALUE=DATE:20261124\r\n" in text
    assert "SUMMARY:Trip: Interpol assembly" in text and "LOCATION:Lyon\\, France" in text
    assert f"UID:waypoint-reminder_demo-{iid}@waypoint.test" in text


def test_calendar_rules_of_the_real_processes():
    glue = workflows.registry()
    conference, visit = CALENDAR_RULES["conference_attendance"], CALENDAR_RULES["delegation_visit"]
    assert glue.is_approved("conference_attendance", {"travel_authority_status": "issued"})
    assert not glue.is_approved("conference_attendance", {"travel_authority_status": "cancelled"})
    assert conference.title({"event_name": "Interpol GA"}, "fr") == "Conférence : Interpol GA"
    approved = {"host_unit_decision": "approve", "itv_decision": "approve", "needs_senior_approval": True}
    assert not glue.is_approved("delegation_visit", approved)
    assert glue.is_approved("delegation_visit", {**approved, "senior_decision": "approve"})
    assert glue.is_approved("delegation_visit", {**approved, "needs_senior_approval": False})
    assert visit.title({"agency": "BKA", "country": "Germany"}, "en") == "Delegation visit: BKA, Germany"


def test_emails_off_still_keeps_timers(flows, engine, clock, make_worker):
    db = flows
    engine.mail.config = replace(engine.mail.config, enabled=False)
    iid = start(db, engine)
    assert outbox_rows(db) == []
    clock.advance(days=2, seconds=1)
    assert make_worker().drain().fired == 1
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert s.scalars(select(TaskRecord).where(TaskRecord.instance_id == iid)).one().status == "ready"


def test_calendar_entries_name_the_country_in_the_reader_s_language():
    conference, visit = CALENDAR_RULES["conference_attendance"], CALENDAR_RULES["delegation_visit"]
    assert conference.location({"city": "Lyon", "country": "FR"}, "en") == "Lyon, France"
    assert conference.location({"city": "Berlin", "country": "DE"}, "fr") == "Berlin, Allemagne"
    assert visit.title({"agency": "BKA", "country": "DE"}, "fr") == "Visite de délégation : BKA, Allemagne"
    assert visit.title({"agency": "BKA", "country": "Narnia"}, "en") == "Delegation visit: BKA, Narnia"


def test_a_french_reader_s_digest_gives_the_french_summary_line(flows, engine, clock, make_worker):
    db = flows
    engine.glue.process(
        "reminder_demo", summary=lambda d, lang: ("Demande : " if lang == "fr" else "Request: ") + d["title"]
    )
    try:
        start(db, engine)  # msmith's review
    finally:
        engine.glue.processes.pop("reminder_demo", None)
    with db.transaction() as s:
        s.scalars(select(User).where(User.username == "msmith")).one().language = "fr"
    make_worker().drain()  # creates the job row
    with db.reading() as s:
        clock.set(s.get(PeriodicJob, "daily_digest").next_due_at + timedelta(minutes=1))
    make_worker().drain()
    [digest] = outbox_rows(db, "digest")
    assert "Demande : Interpol assembly" in digest.body_text and "Request:" not in digest.body_text

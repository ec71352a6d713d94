"""The admin's people pages: search, roles, manager, language, deactivation, the group mapping;
every change audited, every refusal a message with nothing changed."""

from __future__ import annotations

from sqlalchemy import select

from engine.models import GroupRole, OutboxMessage, PersonEvent, RoleEvent, TaskRecord
from engine.people import api_tokens
from engine.people.users import find_user


def events(app, model, **where):  # type: ignore[no-untyped-def]
    with app.extensions["waypoint.db"].reading() as s:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return list(s.scalars(query))


def test_only_admins_see_people(as_user):
    assert as_user("jdoe").get("/admin/people").status_code == 403
    page = as_user("admin").get("/admin/people?q=SMITH")
    assert page.status_code == 200 and "msmith" in page.text and ">jdoe<" not in page.text
    assert page.headers["Cache-Control"] == "no-store"


def test_roles_granted_and_removed_are_audited(app, as_user):
    admin = as_user("admin")
    assert admin.post("/admin/people/jdoe/roles", {"role": "ethics", "action": "grant"}).status_code == 302
    page = admin.get("/admin/people/jdoe")
    assert "Role granted." in page.text and "Ethics" in page.text
    admin.post("/admin/people/jdoe/roles", {"role": "ethics", "action": "revoke"})
    assert [(e.action, e.role) for e in events(app, RoleEvent, username="jdoe", actor="admin")] == [
        ("granted", "ethics"),
        ("revoked", "ethics"),
    ]
    refused = admin.post("/admin/people/jdoe/roles", {"role": "no such role", "action": "grant"}, follow_redirects=True)
    assert "unknown" in refused.text.lower() and len(events(app, RoleEvent, username="jdoe", actor="admin")) == 2


def test_manager_and_language_changes_are_audited_and_a_loop_is_refused(app, as_user):
    admin = as_user("admin")
    admin.post("/admin/people/jdoe/manager", {"manager": "dlee"})
    admin.post("/admin/people/jdoe/language", {"language": "fr"})
    with app.extensions["waypoint.db"].reading() as s:
        jdoe = find_user(s, "jdoe")
        assert (jdoe.manager.username, jdoe.language) == ("dlee", "fr")
    assert [e.action for e in events(app, PersonEvent, username="jdoe")] == ["manager_changed", "language_changed"]
    loop = admin.post("/admin/people/dlee/manager", {"manager": "jdoe"}, follow_redirects=True)
    assert "choose someone else" in loop.text
    unknown = admin.post("/admin/people/jdoe/manager", {"manager": "nobody-here"}, follow_redirects=True)
    assert "nobody-here" in unknown.text and 'value="dlee"' in unknown.text  # refused, unchanged
    with app.extensions["waypoint.db"].reading() as s:
        assert find_user(s, "dlee").manager is None and find_user(s, "jdoe").manager.username == "dlee"


def test_deactivating_hands_back_tasks_kills_tokens_and_tells_the_itv_office(app, as_user, engine):
    db = app.extensions["waypoint.db"]
    with db.transaction() as s:
        instance = engine.start(s, "small_approval", {"title": "Laptop", "amount": 100}, "jdoe")
        token = api_tokens.create_token(s, find_user(s, "msmith"), "script", now=engine.clock.now())
    admin = as_user("admin")
    page = admin.post("/admin/people/msmith/deactivate", {"reason": "left the unit"}, follow_redirects=True)
    assert "msmith is deactivated." in page.text and "Reactivate" in page.text
    with db.reading() as s:
        task = s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance.id)).one()
        assert (task.assignee_id, task.role) == (None, "supervisor")  # the supervisors' queue
        notices = {
            m.recipient_name: m for m in s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "person_left"))
        }
    # the ITV coordinators hear of it, each in their language: Chantal Gagnon reads French
    french = notices["Chantal Gagnon"].body_text
    assert "Supervisor review (demande 1) : file Superviseur" in french and "queue:" not in french
    assert as_user("msmith").get("/inbox").status_code == 302  # signed out: deactivated
    event = events(app, PersonEvent, username="msmith", action="deactivated")[0]
    assert event.details["reason"] == "left the unit" and event.details["tokens_revoked"] == 1
    with db.reading() as s:
        assert s.get(type(token.token), token.token.id).revoked_at is not None
    again = admin.post("/admin/people/msmith/deactivate", {}, follow_redirects=True)
    assert "already deactivated" in again.text
    admin.post("/admin/people/msmith/reactivate")
    assert [e.action for e in events(app, PersonEvent, username="msmith")] == ["deactivated", "reactivated"]


def test_the_group_mapping_page(app, as_user):
    admin = as_user("admin")
    finance = "CN=Finance,OU=Groups,DC=example,DC=org"
    admin.post("/admin/groups", {"group": finance, "role": "finance", "action": "add"})
    page = admin.get("/admin/groups")
    assert finance in page.text and "Mapping saved." in page.text
    bad = admin.post("/admin/groups", {"group": "x" * 501, "role": "finance", "action": "add"}, follow_redirects=True)
    assert "1 to 500 characters" in bad.text
    admin.post("/admin/groups", {"group": finance, "role": "finance", "action": "remove"})
    assert events(app, GroupRole) == []
    assert [e.action for e in events(app, PersonEvent, username="")] == ["group_mapped", "group_unmapped"]


def test_the_person_page_shows_delegations_and_tokens(app, as_user, engine):
    from datetime import timedelta

    from engine.people import delegation

    db, today = app.extensions["waypoint.db"], engine.clock.now().date()
    with db.transaction() as s:
        msmith, now = find_user(s, "msmith"), engine.clock.now()
        delegation.delegate(s, msmith, "dlee", today, today + timedelta(days=5), "leave", now)
        api_tokens.create_token(s, find_user(s, "msmith"), "nightly export", now=engine.clock.now())
    page = as_user("admin").get("/admin/people/msmith").text
    assert "Diane Lee works their tasks from" in page and "nightly export" in page
    assert "Works the tasks of Marc Smith" in as_user("admin").get("/admin/people/dlee").text

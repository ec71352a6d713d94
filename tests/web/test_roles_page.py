"""/admin/roles: designers create and rename roles; admins grant, revoke and retire them; both languages."""

from __future__ import annotations

from engine.people import roles
from engine.people.users import get_user
from engine.queries.tasks import list_tasks
from tests.conftest import FIXTURES


def holders(app, key):
    with app.extensions["waypoint.db"].reading() as s:
        return [u.username for u in roles.members(s, key)]


def test_a_designer_creates_a_role_and_an_admin_grants_it(app, as_user):
    designer = as_user("ddesigner")
    page = designer.get("/admin/roles")
    assert page.status_code == 200 and "passport_officer" in page.get_data(as_text=True)
    created = designer.post(
        "/admin/roles", {"name_en": "Legal Team", "name_fr": "Équipe juridique"}, follow_redirects=True
    )
    html = created.get_data(as_text=True)
    assert "Role legal_team created." in html and "Équipe juridique" in html
    assert 'id="grant"' not in html  # designers do not grant
    assert designer.post("/admin/roles/legal_team/grant", {"username": "ebrown"}).status_code == 403

    admin = as_user("admin")
    granted = admin.post("/admin/roles/legal_team/grant", {"username": "ebrown"}, follow_redirects=True)
    assert "ebrown now holds the role legal_team." in granted.get_data(as_text=True)
    assert holders(app, "legal_team") == ["ebrown"]
    accounts = admin.get("/admin/service-accounts").get_data(as_text=True)
    assert 'value="legal_team"> Legal Team' in accounts  # new roles are offered wherever roles are given
    renamed = admin.post("/admin/roles/legal_team/rename", {"name_en": "Legal", "name_fr": "Juridique"})
    assert renamed.status_code == 302
    history = admin.get("/admin/roles/legal_team").get_data(as_text=True)
    assert "Juridique" in history and "granted" in history and "renamed" in history
    admin.post("/admin/roles/legal_team/revoke", {"username": "ebrown"})
    assert holders(app, "legal_team") == []
    admin.post("/admin/roles/legal_team/retire")
    with app.extensions["waypoint.db"].reading() as s:
        assert roles.get_role(s, "legal_team").retired_at is not None
        assert "legal_team" not in get_user(s, "ebrown").roles


def test_refusals_are_messages_not_errors(app, as_user):
    admin = as_user("admin")
    again = admin.post("/admin/roles", {"name_en": "Finance"}, follow_redirects=True)
    assert again.status_code == 200 and "the role &#39;Finance&#39; already exists" in again.get_data(as_text=True)
    blank = admin.post("/admin/roles", {"name_en": "  "}, follow_redirects=True)
    assert blank.status_code == 200 and "a role needs an English name" in blank.get_data(as_text=True)
    built_in = admin.post("/admin/roles/finance/retire", follow_redirects=True)
    assert "it can be renamed, not retired" in built_in.get_data(as_text=True)
    nobody = admin.post("/admin/roles/finance/grant", {"username": "nobody"}, follow_redirects=True)
    assert "no user called &#39;nobody&#39;" in nobody.get_data(as_text=True)
    assert admin.get("/admin/roles/no_such_role").status_code == 404
    assert as_user("jdoe").get("/admin/roles").status_code == 403


def test_the_roles_page_and_role_names_in_french(app, as_user):
    admin = as_user("admin")
    admin.post("/admin/roles", {"name_en": "Legal", "name_fr": "Juridique"})
    french = as_user("cgagnon")  # a French speaker; coordinators do not manage roles
    assert french.get("/admin/roles").status_code == 403
    with app.extensions["waypoint.db"].transaction() as s:
        roles.grant(s, "rmartin", "process_designer", actor="admin")
    page = as_user("rmartin").get("/admin/roles").get_data(as_text=True)
    assert "Nouveau rôle" in page and "Juridique" in page and "Agent des passeports" in page


def test_admins_see_the_incident_of_a_task_nobody_may_do(app, as_user, engine):
    db = app.extensions["waypoint.db"]
    with db.transaction() as s:
        engine.deploy(s, [FIXTURES / "assignment" / "camunda" / "contract_review.bpmn"], deployed_by="admin")
        instance = engine.start(s, "contract_review", {"approver": "fchan"}, "jdoe")
    with db.reading() as s:
        [first] = list_tasks(s, instance_id=instance.id)
    with db.transaction() as s:
        engine.complete(s, first.id, "jdoe", {})  # next: the Legal lane, a role nobody holds
    page = as_user("admin").get("/admin/outbox").get_data(as_text=True)
    assert "unworkable (legal)" in page and f"#{instance.id}" in page
    assert "nobody but the requester holds the role &#39;legal&#39; of task &#39;Legal review&#39;" in page

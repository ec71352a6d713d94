"""/api/v1/roles: list, create, rename, retire, members, grant and revoke, as documented."""

from __future__ import annotations

from tests.api.conftest import PREFIX, assert_error


def reason(response, status):
    """The engine's error code behind an API error of `status`."""
    return assert_error(response, status)["details"]["reason"]


def call(client, method, path, json=None):
    """PATCH and DELETE through the documented-operation check, like the client's GET and POST."""
    response = client.client.open(PREFIX + path, method=method, json=json, headers=client._headers(None))
    return client._checked(method, path, response)


def test_admins_manage_roles_over_the_api(api):
    admin = api("admin")
    listed = {r["key"]: r for r in admin.get("/roles").json}
    assert listed["finance"] == {
        "key": "finance",
        "name_en": "Finance",
        "name_fr": "Finances",
        "built_in": True,
        "retired": False,
        "members": 1,
    }
    created = admin.post("/roles", json={"name_en": "Finance Team", "name_fr": "Équipe des finances"})
    assert created.status_code == 201 and created.json["key"] == "finance_team"
    assert reason(admin.post("/roles", json={"name_en": "finance team"}), 409) == "role_exists"

    granted = admin.post("/roles/finance_team/members", json={"username": "sroy"})
    assert granted.json == {"role": "finance_team", "username": "sroy", "changed": True}
    assert admin.get("/roles/finance_team/members").json == [{"username": "sroy", "name": "Sam Roy"}]
    renamed = call(admin, "PATCH", "/roles/finance_team", {"name_en": "Treasury", "name_fr": "Trésorerie"})
    assert (renamed.json["key"], renamed.json["name_fr"], renamed.json["members"]) == ("finance_team", "Trésorerie", 1)
    revoked = call(admin, "DELETE", "/roles/finance_team/members/sroy")
    assert revoked.json["changed"] is True
    assert call(admin, "POST", "/roles/finance_team/retire").json["retired"] is True
    assert reason(admin.post("/roles/finance_team/members", json={"username": "sroy"}), 400) == "unknown_roles"
    assert reason(call(admin, "POST", "/roles/finance/retire"), 409) == "role_built_in"
    assert reason(admin.get("/roles/no_such/members"), 404) == "no_such_role"


def test_designers_create_but_only_admins_grant(api):
    designer = api("ddesigner")
    assert designer.post("/roles", json={"name_en": "Legal"}).status_code == 201
    assert reason(designer.post("/roles/legal/members", json={"username": "ebrown"}), 403) == "roles_forbidden"
    assert reason(api("jdoe").get("/roles"), 403) == "roles_forbidden"

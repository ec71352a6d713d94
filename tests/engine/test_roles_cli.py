"""`waypoint roles ...` and `waypoint users grant|revoke`, each a separate process, on both databases."""

from __future__ import annotations

import json

from tests.engine.test_cli import run


def test_roles_are_managed_and_granted_from_the_command_line(db):
    url = db.url
    run(url, "users", "add", "ana", "--name", "Ana Lopes")
    assert "created role legal_team: Legal Team / Équipe juridique" in run(
        url, "roles", "add", "Legal Team", "--fr", "Équipe juridique", "--actor", "admin"
    ).stdout
    assert run(url, "users", "grant", "ana", "Legal Team").stdout.strip() == "ana now holds legal_team"
    assert run(url, "users", "grant", "ana", "legal_team").stdout.strip() == "ana already held legal_team"
    assert run(url, "roles", "members", "legal_team").stdout.split() == ["ana", "Ana", "Lopes"]
    run(url, "roles", "rename", "legal_team", "Legal", "--fr", "Juridique")
    listed = {r["key"]: r for r in json.loads(run(url, "roles", "list", "--json").stdout)}
    assert (listed["legal_team"]["name_fr"], listed["legal_team"]["members"]) == ("Juridique", 1)
    assert listed["finance"]["built_in"] and "Finances" in run(url, "roles", "list").stdout

    refused = run(url, "roles", "retire", "finance", expect=1)
    assert "error: 'finance' is one of Waypoint's own roles: it can be renamed, not retired" in refused.stderr
    run(url, "roles", "retire", "legal_team")
    refused = run(url, "users", "grant", "ana", "legal_team", expect=1)
    assert "unknown role(s): legal_team" in refused.stderr
    assert "legal_team" not in run(url, "roles", "list", "--active").stdout
    assert run(url, "users", "revoke", "ana", "legal_team").stdout.strip() == "ana no longer holds legal_team"
    unknown = run(url, "users", "add", "bob", "--role", "accountant", expect=1)
    assert "unknown role(s): accountant" in unknown.stderr
    assert "no user called 'nobody'" in run(url, "users", "grant", "nobody", "finance", expect=1).stderr

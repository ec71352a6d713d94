"""Roles as data: keys, create/rename/retire, grants and their audit, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import workflows
from engine import Engine, InvalidState, NotFound, Settings, ValidationFailed
from engine.models import Role, RoleEvent
from engine.people import roles
from engine.people.users import add_user, get_user


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Finance Team", "finance_team"),
        ("  Passport officer ", "passport_officer"),
        ("Senior-management", "senior_management"),
        ("Légal & Conformité", "legal_conformite"),
        ("HR", "hr"),
        ("!!!", ""),
        ("x" * 60, "x" * 40),
    ],
)
def test_role_key_is_stable_and_normalised(name, key):
    assert roles.role_key(name) == key


def test_built_in_roles_are_listed_in_both_languages(db):
    with db.reading() as s:
        listed = {r.key: r for r in roles.roles(s)}
    assert set(roles.BUILT_IN_KEYS) <= set(listed)
    assert listed["passport_officer"].name("fr") == "Agent des passeports"
    assert listed["finance"].built_in and not listed["finance"].retired


def test_create_rename_retire_keep_the_key_and_are_audited(db, clock):
    with db.transaction() as s:
        add_user(s, "ana", now=clock.now(), roles=["requester"])
        created = roles.create_role(s, "Legal Team", "Équipe juridique", actor="admin")
        assert created.key == "legal_team"
        with pytest.raises(InvalidState) as exists:
            roles.create_role(s, "legal team", None, actor="admin")
        assert exists.value.code == "role_exists"
        assert roles.grant(s, "ana", "Legal Team", actor="admin") is True
        assert roles.grant(s, "ana", "legal_team", actor="admin") is False
        roles.rename(s, "legal_team", "Legal", "Juridique", actor="admin")
    with db.reading() as s:
        row = s.get(Role, "legal_team")
        assert (row.name_en, row.name_fr) == ("Legal", "Juridique")
        assert [u.username for u in roles.members(s, "legal_team")] == ["ana"]
        assert "legal_team" in get_user(s, "ana").roles
    with db.transaction() as s:
        roles.retire(s, "legal_team", actor="admin")
        with pytest.raises(ValidationFailed) as retired:
            roles.grant(s, "ana", "legal_team", actor="admin")
        assert retired.value.code == "unknown_roles" and retired.value.params["roles"] == "legal_team"
        assert roles.revoke(s, "ana", "legal_team", actor="admin") is True
        with pytest.raises(InvalidState) as built_in:
            roles.retire(s, "finance", actor="admin")
        assert built_in.value.code == "role_built_in"
    with db.reading() as s:
        actions = [(e.action, e.username, e.actor) for e in s.scalars(select(RoleEvent).order_by(RoleEvent.id))]
    assert actions[-5:] == [
        ("created", None, "admin"),
        ("granted", "ana", "admin"),
        ("renamed", None, "admin"),
        ("retired", None, "admin"),
        ("revoked", "ana", "admin"),
    ]


def test_unknown_role_is_refused_by_name_and_grants_need_a_person(db, clock):
    with db.transaction() as s:
        with pytest.raises(ValidationFailed) as unknown:
            add_user(s, "bob", now=clock.now(), roles=["requester", "accountant"])
        assert unknown.value.params["roles"] == "accountant"
        with pytest.raises(NotFound):
            roles.grant(s, "nobody", "finance", actor="admin")
        with pytest.raises(NotFound):
            roles.rename(s, "no_such", "X", None, actor="admin")
        with pytest.raises(ValidationFailed):
            roles.create_role(s, "  ", None, actor="admin")


def test_deploy_helpers_create_missing_roles_once(db, clock):
    with db.transaction() as s:
        assert roles.missing_roles(s, ["Legal", "Finance", "Approver"]) == ["approver", "legal"]
        assert roles.ensure_roles_for(s, ["Legal", "Finance", "legal"]) == ["legal"]
        add_user(s, "carl", now=clock.now(), roles=["legal"])
    with db.reading() as s:
        assert roles.missing_roles(s, ["Legal"]) == []
        assert s.get(Role, "legal").name_en == "Legal"
        legal = roles.active_members(s, "legal")
        assert roles.anyone_but_requester("legal", legal, requester_id=None)
        carl = get_user(s, "carl").id
        assert not roles.anyone_but_requester("legal", legal, requester_id=carl)
        assert not roles.anyone_but_requester("approver", roles.active_members(s, "approver"), requester_id=None)


def test_the_fallback_queue_is_a_setting_with_a_default():
    assert Settings.from_env({}).fallback_role == "itv_coordinator"  # what `make run` uses
    chosen = Settings.from_env({"WAYPOINT_FALLBACK_ROLE": "admin"})
    assert Engine.from_settings(chosen, workflows.registry()).fallback_role == "admin"


def test_the_migration_seeds_waypoint_s_own_roles(sqlite_db):
    """`waypoint db upgrade` (what `make run` does) writes the built-in roles as rows."""
    with sqlite_db.reading() as s:
        seeded = {r.key: (r.name_en, r.name_fr) for r in s.scalars(select(Role).where(Role.built_in.is_(True)))}
    assert seeded == {key: (en, fr) for key, en, fr in roles.BUILT_IN}

"""Each "may X do Y" rule lives once, in engine/permissions.py, and is asked from there:
starting a process, delivering a message, starting for others, seeing the reports. The form
rules live once in engine/forms.py (choices, comment fields) and the demo asks them too."""

from __future__ import annotations

import random
from datetime import date

import pytest

from engine import NotFound, PermissionDenied, permissions
from engine.demo.autopilot import fill
from engine.forms import choices, decision_form
from engine.people import service_accounts
from engine.people.service_accounts import add_service_account
from engine.people.users import add_user, get_user
from tests.conftest import FIXTURES

sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


@pytest.fixture
def small(people, engine):
    with people.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
    return people


def test_start_rule_is_the_catalogue_and_may_start(small, engine):
    with small.transaction() as s:
        add_user(s, "visitor", now=engine.clock.now(), roles=["finance"])
    with small.reading() as s:
        jdoe, visitor = get_user(s, "jdoe"), get_user(s, "visitor")
        assert engine.may_start(s, jdoe, "small_approval") is None
        assert [e["key"] for e in engine.start_catalogue(s, jdoe)] == ["small_approval"]
        refused = engine.may_start(s, visitor, "small_approval")
        assert isinstance(refused, PermissionDenied) and refused.code == "may_not_start"
        assert refused.params == {"username": "visitor", "key": "small_approval"}
        assert engine.start_catalogue(s, visitor) == []
        with pytest.raises(NotFound):
            engine.may_start(s, jdoe, "nope")


def test_the_catalogue_asks_permissions_check_start(small, engine, monkeypatch):
    def nobody(user, parsed):  # type: ignore[no-untyped-def]
        raise PermissionDenied("may_not_start", username=user.username, key=parsed.key)

    monkeypatch.setattr(permissions, "check_start", nobody)
    with small.reading() as s:
        jdoe = get_user(s, "jdoe")
        assert engine.start_catalogue(s, jdoe) == []
        assert isinstance(engine.may_start(s, jdoe, "small_approval"), PermissionDenied)


def test_a_system_start_needs_no_starter_role(small, engine):
    # Engine.start itself does not ask check_start: tests, hostile-definition checks and workflow
    # walks start processes without a start form or as people without a starter role
    with small.transaction() as s:
        assert engine.start(s, "small_approval", {"title": "Laptop", "amount": 10}).started_by is None


@sqlite_only
def test_delivery_and_start_for_others_are_rules_of_permissions(people, engine):
    assert not hasattr(service_accounts, "may_deliver")
    assert not hasattr(service_accounts, "require_may_deliver")
    assert not hasattr(service_accounts, "require_may_start_for_others")
    with people.transaction() as s:
        now = engine.clock.now()
        add_service_account(s, "embassy", now=now, messages=["visa_decision"])
        add_service_account(s, "hr", now=now, start_on_behalf=True)
        embassy, hr, admin, jdoe = (get_user(s, u) for u in ("embassy", "hr", "admin", "jdoe"))
        assert permissions.may_deliver(s, embassy, "visa_decision") and permissions.may_deliver(s, admin, "x")
        assert not permissions.may_deliver(s, embassy, "passport_issued") and not permissions.may_deliver(s, jdoe, "x")
        with pytest.raises(PermissionDenied, match="may not deliver|passport_issued"):
            permissions.require_may_deliver(s, embassy, "passport_issued")
        permissions.require_may_start_for_others(s, hr)
        for who in (embassy, jdoe):
            with pytest.raises(PermissionDenied):
                permissions.require_may_start_for_others(s, who)


@sqlite_only
def test_report_viewers(people):
    with people.reading() as s:
        seen = {u: permissions.may_view_reports(get_user(s, u)) for u in ("cgagnon", "dlee", "admin", "jdoe", "msmith")}
    assert seen == {"cgagnon": True, "dlee": True, "admin": True, "jdoe": False, "msmith": False}


def test_choices_is_one_reading_of_oneof_and_enum():
    one_of = {"oneOf": [{"const": "approve", "title": "Approve"}, {"const": 2, "title": "Two"}]}
    assert choices(one_of) == [("approve", one_of["oneOf"][0]), (2, one_of["oneOf"][1])]
    enum = {"enum": ["a", "b"], "x-enumLabels": {"a": "A"}, "x-fr": {"x-enumLabels": {"a": "À"}}}
    assert choices(enum) == [
        ("a", {"title": "A", "x-fr": {"title": "À"}}),
        ("b", {"title": None, "x-fr": {"title": None}}),
    ]
    assert choices({"type": "string"}) is None
    assert choices({"oneOf": [{"title": "no const"}], "enum": ["x"]}) == [
        ("x", {"title": None, "x-fr": {"title": None}})
    ]
    rule = decision_form({"properties": {"decision": one_of}})
    assert rule is not None and rule.values == ("approve", "2")


def test_the_demo_fills_comment_fields_by_the_forms_rule():
    schema = {
        "properties": {
            "supervisor_comment": {"type": "string"},
            "comment": {"type": "string"},
            "nocomment": {"type": "string"},
            "choice": {"enum": ["approve", "reject"]},
        }
    }
    filled = fill(schema, random.Random(1), date(2027, 1, 1))
    assert set(filled) == {"supervisor_comment", "comment"}
    assert fill(
        {"properties": {"d": {"enum": ["approve"]}}, "required": ["d"]}, random.Random(1), date(2027, 1, 1)
    ) == {"d": "approve"}

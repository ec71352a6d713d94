"""`waypoint directory sync` against a real slapd: people, managers, groups → roles, departures.

Every test reads the seeded tree of tests/identity/conftest.py through the service account, in
pages of two entries (the tree holds seven people, so the paged search really pages).
"""

from __future__ import annotations

from dataclasses import replace

import ldap3
import pytest
from sqlalchemy import func, select

from engine.errors import ValidationFailed
from engine.identity import accounts, directory
from engine.mail.compose import MailConfig
from engine.models import ApiToken, OutboxMessage, PersonEvent, TaskRecord, User
from engine.people import api_tokens
from engine.people.users import add_user, find_user
from tests.conftest import FIXTURES
from tests.identity.conftest import dn, group_dn, unreachable

MAPPING = {
    "supervisors": "supervisor",
    "travel-finance": "finance",
    "itv-office": "itv_coordinator",
    "cn=directors,ou=groups,dc=example,dc=org": "senior_management",
}


@pytest.fixture
def mapped(db, clock):
    """The admin's group → role mapping (one by full DN, the rest by common name)."""
    with db.transaction() as s:
        for group, role in MAPPING.items():
            accounts.add_mapping(s, group, role, "admin", clock.now())
    return db


def sync(db, settings, clock, dry_run=False):
    return directory.run(db, settings, clock.now(), MailConfig(), dry_run=dry_run)


def people_state(db):
    with db.reading() as s:
        return {u.username: _row(u) for u in s.scalars(select(User))}


def _row(u: User) -> tuple:
    return (u.display_name, u.email, u.language, u.manager.username if u.manager else None, u.active, sorted(u.roles))


def test_a_sync_creates_people_with_managers_languages_and_mapped_roles(ldap_tree, ldap_settings, mapped, clock):
    report = sync(mapped, ldap_settings, clock)
    assert sorted(report.created) == ["dlee", "fbrown", "icoord", "jdoe", "kchen", "msmith", "ppatel"]
    state = people_state(mapped)
    assert state["jdoe"] == ("Jane Doe", "jdoe@example.org", "fr", "msmith", True, ["requester"])
    assert state["msmith"][3:] == ("dlee", True, ["requester", "supervisor"])
    assert state["kchen"][2] == "fr"  # fr-CA
    assert state["dlee"][3:] == (None, True, ["requester", "senior_management"])  # mapped by full DN
    assert state["fbrown"][5] == ["finance", "requester"]
    assert report.managers["jdoe"] == (None, "msmith")
    again = sync(mapped, ldap_settings, clock)
    assert again.changes == 0 and again.seen == 7


def test_a_dry_run_reports_the_changes_and_makes_none(ldap_tree, ldap_settings, mapped, clock):
    report = sync(mapped, ldap_settings, clock, dry_run=True)
    assert report.dry_run and len(report.created) == 7 and report.granted["msmith"] == ["supervisor"]
    assert people_state(mapped) == {}
    with mapped.reading() as s:
        assert s.scalar(select(func.count()).select_from(PersonEvent).where(PersonEvent.action != "group_mapped")) == 0


def test_leaving_a_group_takes_back_the_role_it_gave_not_one_granted_by_hand(ldap_tree, ldap_settings, mapped, clock):
    sync(mapped, ldap_settings, clock)
    with mapped.transaction() as s:
        from engine.people import roles

        roles.grant(s, "kchen", "ethics", "admin")  # by hand
    ldap_tree.modify(group_dn("supervisors"), {"member": [(ldap3.MODIFY_DELETE, [dn("kchen")])]})
    report = sync(mapped, ldap_settings, clock)
    assert report.revoked == {"kchen": ["supervisor"]}
    assert people_state(mapped)["kchen"][5] == ["ethics", "requester"]


def start(db, engine, who, title="Laptop"):
    with db.transaction() as s:
        instance = engine.start(s, "small_approval", {"title": title, "amount": 100}, who)
        row = s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance.id)).one()
        return row.id, row.assignee.username if row.assignee else None


def test_requests_follow_the_manager_the_directory_names_and_a_move(ldap_tree, ldap_settings, mapped, engine, clock):
    with mapped.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
    sync(mapped, ldap_settings, clock)
    assert start(mapped, engine, "jdoe")[1] == "msmith"
    ldap_tree.modify(dn("jdoe"), {"manager": [(ldap3.MODIFY_REPLACE, [dn("kchen")])]})
    report = sync(mapped, ldap_settings, clock)
    assert report.managers == {"jdoe": ("msmith", "kchen")}
    assert start(mapped, engine, "jdoe", "Second")[1] == "kchen"
    with mapped.reading() as s:
        query = select(PersonEvent).where(PersonEvent.action == "manager_changed", PersonEvent.username == "jdoe")
        moved = s.scalars(query.order_by(PersonEvent.id)).all()[-1]
        assert (moved.actor, moved.details) == ("directory", {"before": "msmith", "after": "kchen"})


def test_a_person_removed_from_the_directory_is_deactivated_and_their_task_goes_to_the_role_queue(
    ldap_tree, ldap_settings, mapped, engine, clock
):
    with mapped.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
    sync(mapped, ldap_settings, clock)
    task_id, holder = start(mapped, engine, "jdoe")
    assert holder == "msmith"
    with mapped.transaction() as s:
        token = api_tokens.create_token(s, find_user(s, "msmith"), "laptop script", now=clock.now())
    ldap_tree.modify(group_dn("supervisors"), {"member": [(ldap3.MODIFY_DELETE, [dn("msmith")])]})
    ldap_tree.delete(dn("msmith"))
    with mapped.transaction() as s:  # a person made by hand: the sync never deactivates them
        add_user(s, "local.clerk", now=clock.now())
    report = sync(mapped, ldap_settings, clock)
    assert report.deactivated == ["msmith"]
    assert report.warnings == [f"jdoe: manager {dn('msmith')} is not among the people read"]
    with mapped.reading() as s:
        row = s.get(TaskRecord, task_id)
        assert (row.status, row.assignee_id, row.claimed_by_id, row.role) == ("ready", None, None, "supervisor")
        assert find_user(s, "local.clerk").active and find_user(s, "jdoe").manager.username == "msmith"
        msmith = find_user(s, "msmith")
        assert not msmith.active and msmith.roles == {"requester", "supervisor"}  # history kept, grants kept
        assert s.scalars(select(ApiToken).where(ApiToken.user_id == msmith.id)).one().revoked_at is not None
        event = s.scalars(select(PersonEvent).where(PersonEvent.action == "deactivated")).one()
        assert event.details["moved"][0]["to"] == "queue:supervisor"
        notice = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "person_left")).one()
        assert notice.recipient == "icoord@example.org" and "Mark Smith" in notice.subject  # in French for icoord
    with pytest.raises(api_tokens.InvalidToken), mapped.reading() as s:
        api_tokens.authenticate(s, token.secret, clock.now())


def test_an_unreachable_directory_changes_nothing(ldap_tree, ldap_settings, mapped, clock, tmp_path):
    with pytest.raises(directory_errors()) as caught:
        sync(mapped, unreachable(ldap_settings, tmp_path), clock)
    assert caught.value.code == "directory_unreachable" and "nothing was changed" in str(caught.value)
    with pytest.raises(directory_errors()) as caught:
        sync(mapped, replace(ldap_settings, bind_password="wrong"), clock)
    assert caught.value.code == "directory_bind_failed"
    assert people_state(mapped) == {}


def test_an_entry_without_a_username_stops_the_sync_before_any_change(ldap_tree, ldap_settings, mapped, clock):
    sync(mapped, ldap_settings, clock)
    before = people_state(mapped)
    ldap_tree.modify(dn("jdoe"), {"manager": [(ldap3.MODIFY_REPLACE, [dn("kchen")])]})
    ldap_tree.add("cn=No Uid,ou=people,dc=example,dc=org", ["inetOrgPerson"], {"cn": "No Uid", "sn": "Uid"})
    with pytest.raises(ValidationFailed) as caught:
        sync(mapped, ldap_settings, clock)
    assert caught.value.code == "directory_no_username" and caught.value.params["attribute"] == "uid"
    assert people_state(mapped) == before  # jdoe's move was not applied either


def test_an_empty_answer_does_not_deactivate_everyone(ldap_tree, ldap_settings, mapped, clock):
    sync(mapped, ldap_settings, clock)
    with pytest.raises(directory_errors()) as caught:
        sync(mapped, replace(ldap_settings, filter="(uid=nobody-by-this-name)"), clock)
    assert caught.value.code == "directory_empty"
    assert all(state[4] for state in people_state(mapped).values())


def directory_errors() -> type[directory.DirectoryUnavailable]:
    return directory.DirectoryUnavailable


def test_ldaps_and_starttls_verify_the_server_certificate(ldap_tree, ldap_settings, slapd, mapped, clock):
    over_ldaps = replace(ldap_settings, url=slapd.ldaps_url, ca_file=str(slapd.ca_file))
    assert len(sync(mapped, over_ldaps, clock, dry_run=True).created) == 7
    over_starttls = replace(ldap_settings, starttls=True, ca_file=str(slapd.ca_file))
    assert len(sync(mapped, over_starttls, clock, dry_run=True).created) == 7
    for untrusted in (replace(over_ldaps, ca_file=None), replace(over_starttls, ca_file=None)):
        with pytest.raises(directory_errors()) as caught:  # the test CA is not among the system's
            sync(mapped, untrusted, clock)
        assert caught.value.code == "directory_unreachable"
    assert people_state(mapped) == {}


def test_one_username_listed_twice_is_one_person(mapped, clock):
    twice = [
        accounts.Person("jdoe", display_name="Jane Doe", external_id="uid=jdoe,ou=a", groups=["supervisors"]),
        accounts.Person("JDoe", display_name="Jane Doe", external_id="uid=jdoe,ou=b", groups=["supervisors"]),
    ]
    with mapped.transaction() as s:
        report = directory.sync(s, twice, clock.now())
    assert report.created == ["jdoe"] and report.granted == {"jdoe": ["supervisor"]}
    assert list(people_state(mapped)) == ["jdoe"]


def test_overlong_names_and_emails_are_cut_to_fit(mapped, clock):
    long = accounts.Person("long", display_name="N" * 300, email="e" * 300, external_id="uid=long,ou=a")
    with mapped.transaction() as s:
        directory.sync(s, [long], clock.now())
    name, email, *_ = people_state(mapped)["long"]
    assert (len(name), len(email)) == (200, 254)

"""Identity fixtures: a real slapd with a seeded tree and a real oidc-provider, each on 127.0.0.1.

slapd starts once per session (`make test` installs Debian's slapd and ldap-utils); the tree is
wiped and seeded again for each test that asks for `ldap_tree`. The provider starts per test that
asks for it (its port and keys are the test's). Either skips, saying why, only when its program is
not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import ldap3
import pytest

from engine.config import DirectorySettings
from tests.identity.servers import BASE_DN, SLAPD, SYNC_DN, SYNC_PW, Slapd, problem

PEOPLE = f"ou=people,{BASE_DN}"
GROUPS = f"ou=groups,{BASE_DN}"

#: uid → (display name, mail, manager uid, preferredLanguage, groups)
TREE: dict[str, tuple[str, str, str | None, str | None, list[str]]] = {
    "dlee": ("Diane Lee", "dlee@example.org", None, "en", ["directors"]),
    "msmith": ("Mark Smith", "msmith@example.org", "dlee", "en", ["supervisors"]),
    "kchen": ("Kim Chen", "kchen@example.org", "dlee", "fr-CA", ["supervisors"]),
    "jdoe": ("Jane Doe", "jdoe@example.org", "msmith", "fr", ["staff"]),
    "fbrown": ("Fay Brown", "fbrown@example.org", "dlee", "en", ["travel-finance", "staff"]),
    "ppatel": ("Priya Patel", "ppatel@example.org", "dlee", "en", ["travel-finance"]),
    "icoord": ("Ines Coord", "icoord@example.org", "dlee", "fr", ["itv-office"]),
}


def dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def group_dn(name: str) -> str:
    return f"cn={name},{GROUPS}"


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    if reason := problem(SLAPD, "OpenLDAP slapd"):
        pytest.skip(reason)
    server = Slapd(tmp_path_factory.mktemp("slapd"))
    yield server
    server.stop()


def _wipe(conn: ldap3.Connection) -> None:
    conn.search(BASE_DN, "(objectClass=*)", ldap3.SUBTREE, attributes=[])
    for entry in sorted(conn.entries, key=lambda e: -len(e.entry_dn)):
        conn.delete(entry.entry_dn)


def seed(conn: ldap3.Connection) -> None:
    """The seeded tree: people with managers and languages, groups, and the sync service account."""
    conn.add(BASE_DN, ["dcObject", "organization"], {"o": "Example", "dc": "example"})
    for ou in ("people", "groups", "services"):
        conn.add(f"ou={ou},{BASE_DN}", ["organizationalUnit"], {"ou": ou})
    service = {"cn": "waypoint-sync", "sn": "sync", "userPassword": SYNC_PW}
    conn.add(SYNC_DN, ["person", "simpleSecurityObject"], service)
    for uid, (name, mail, _, lang, _) in TREE.items():
        attrs = {"cn": name, "sn": name.split()[-1], "displayName": name, "mail": mail, "preferredLanguage": lang}
        assert conn.add(dn(uid), ["inetOrgPerson"], attrs), conn.result
    for uid, (_, _, manager, _, _) in TREE.items():
        if manager:
            conn.modify(dn(uid), {"manager": [(ldap3.MODIFY_REPLACE, [dn(manager)])]})
    for group in sorted({g for *_, groups in TREE.values() for g in groups}):
        members = [dn(uid) for uid, (*_, groups) in TREE.items() if group in groups]
        assert conn.add(group_dn(group), ["groupOfNames"], {"cn": group, "member": members}), conn.result


@pytest.fixture
def ldap_tree(slapd: Slapd) -> Iterator[ldap3.Connection]:
    """The seeded tree, fresh for this test; yields a root connection to change it."""
    conn = slapd.admin()
    _wipe(conn)
    seed(conn)
    yield conn
    conn.unbind()


@pytest.fixture
def ldap_settings(slapd: Slapd) -> DirectorySettings:
    """Waypoint's directory settings for the test tree (service-account bind, small pages)."""
    return DirectorySettings(
        url=slapd.url,
        bind_dn=SYNC_DN,
        bind_password=SYNC_PW,
        base_dn=PEOPLE,
        filter="(objectClass=inetOrgPerson)",
        page_size=2,
        timeout=5,
    )


def unreachable(settings: DirectorySettings, tmp_path: Path) -> DirectorySettings:
    """The same settings pointed at a loopback port where nothing listens."""
    from tests.identity.servers import free_port

    return replace(settings, url=f"ldap://127.0.0.1:{free_port()}")

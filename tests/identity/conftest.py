"""Identity fixtures: a real slapd with a seeded tree and a real oidc-provider, each on 127.0.0.1.

slapd starts once per session (`make test` installs Debian's slapd and ldap-utils); the tree is
wiped and seeded again for each test that asks for `ldap_tree`. The provider starts per test that
asks for it (its port and keys are the test's). Either skips, saying why, only when its program is
not installed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import ldap3
import pytest
import requests
from werkzeug.serving import make_server

from engine import Database, ManualClock
from engine.config import DirectorySettings, OidcSettings, Settings
from engine.demo.people import seed_demo_users
from engine.identity import accounts
from tests.conftest import make_engine
from tests.identity.servers import (
    BASE_DN,
    SLAPD,
    SYNC_DN,
    SYNC_PW,
    OidcProvider,
    Slapd,
    free_port,
    problem,
    provider_problem,
)
from tests.web.conftest import app, as_user, client  # noqa: F401  (the people pages' tests use the web fixtures)
from web import create_app

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
    return replace(settings, url=f"ldap://127.0.0.1:{free_port()}")


# --- the OpenID Connect provider and a live Waypoint that signs in through it ------------------------

#: the provider's accounts: login → password and the claims it hands out
ACCOUNTS = {
    "nora": {
        "password": "nora-pw",
        "preferred_username": "nnew",
        "email": "nora.new@example.org",
        "name": "Nora Newcomer",
        "groups": ["travel-finance", "staff"],
        "locale": "en-CA",
    },
    "nameless": {"password": "nameless-pw", "email": "nameless@example.org", "name": "No Username", "groups": []},
    "gone": {"password": "gone-pw", "preferred_username": "dlee", "name": "Diane Lee", "groups": []},
}


class LiveSso:
    """A Waypoint server configured for the provider, and the provider itself."""

    def __init__(self, url: str, db, engine, clock, provider: OidcProvider, settings: Settings):  # type: ignore[no-untyped-def]
        self.url, self.db, self.engine, self.clock = url, db, engine, clock
        self.provider, self.settings = provider, settings


@pytest.fixture
def sso(tmp_path: Path) -> Iterator[LiveSso]:
    """oidc-provider and Waypoint on two loopback ports; group `travel-finance` maps to `finance`."""
    if reason := provider_problem():
        pytest.skip(reason)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    provider = OidcProvider(tmp_path, f"{url}/login/oidc/callback", f"{url}/login", ACCOUNTS)
    provider.start()
    try:
        yield from _serve(tmp_path, port, provider)
    finally:
        provider.stop()


def _serve(tmp_path: Path, port: int, provider: OidcProvider) -> Iterator[LiveSso]:
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'waypoint.db'}",
        base_url=url,
        attachments_dir=tmp_path / "files",
        oidc=OidcSettings(
            issuer=provider.issuer,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            scopes="openid profile email groups",
            label="Example ID",
        ),
    )
    db = Database(settings.database_url)
    db.upgrade()
    clock = ManualClock(datetime.now(UTC))  # the provider signs with the wall clock
    engine = make_engine(clock=clock)
    with db.transaction() as s:
        seed_demo_users(s, clock.now(), password=None)
        accounts.add_mapping(s, "travel-finance", "finance", "admin", clock.now())
    web = create_app({"WAYPOINT_SETTINGS": settings, "WAYPOINT_DB": db, "WAYPOINT_ENGINE": engine})
    server = make_server("127.0.0.1", port, web, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveSso(url, db, engine, clock, provider, settings)
    server.shutdown()
    server.server_close()
    db.dispose()


def provider_sign_in(http: requests.Session, start_url: str, login: str, password: str) -> str:
    """Follow the redirects from `start_url` through the provider's sign-in form; the callback URL it ends on."""
    response = http.get(start_url, allow_redirects=False)
    for _ in range(12):
        location = response.headers.get("Location", "")
        if "/login/oidc/callback" in location or response.status_code not in (302, 303):
            return location
        target = urljoin(response.url, location)
        response = http.get(target, allow_redirects=False)
        if response.status_code == 200 and 'name="login"' in response.text:
            response = http.post(target, data={"login": login, "password": password}, allow_redirects=False)
    raise AssertionError("the provider never sent the browser back")

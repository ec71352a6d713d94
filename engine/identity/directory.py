"""The directory sync: people, managers and groups read from LDAP or Active Directory (ldap3).

`read_people` binds with the service account (LDAPS, or StartTLS on ldap://) and reads every
entry under the base DN matching the filter, page by page. `sync` then, in the caller's one
transaction, creates and updates people, sets each person's manager from the manager DN, maps
their groups to roles, and deactivates the people it linked before and no longer finds
(engine/people/lifecycle.py). It never deletes anything. A dry run (`run`) does the same and
rolls back, reporting what would change. A read that fails, an entry without a username, or an
empty answer where people were known stops the sync before it changes anything.
"""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException

from engine.config import DirectorySettings
from engine.db import Database
from engine.errors import ValidationFailed, WaypointError
from engine.identity import accounts
from engine.mail.compose import MailConfig
from engine.models import User
from engine.people import lifecycle

SOURCE = "ldap"
ACTOR = "directory"


class DirectoryUnavailable(WaypointError):
    """The directory could not be read (down, refused the bind, or the search failed)."""

    status = 503
    kind = "directory_unavailable"


@dataclass
class SyncReport:
    """What a sync did (or, in a dry run, would do)."""

    dry_run: bool = False
    seen: int = 0
    created: list[str] = field(default_factory=list)
    updated: dict[str, dict] = field(default_factory=dict)
    managers: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    granted: dict[str, list[str]] = field(default_factory=dict)
    revoked: dict[str, list[str]] = field(default_factory=dict)
    deactivated: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return (
            len(self.created)
            + len(self.updated)
            + len(self.managers)
            + len(self.deactivated)
            + sum(len(v) for v in (*self.granted.values(), *self.revoked.values()))
        )


def _connection(settings: DirectorySettings) -> ldap3.Connection:
    # LDAPS and StartTLS always verify the server's certificate: against the CA file, else the system's CAs
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=settings.ca_file)
    server = ldap3.Server(
        settings.url,
        use_ssl=settings.url.lower().startswith("ldaps://"),
        tls=tls,
        connect_timeout=settings.timeout,
        get_info=ldap3.NONE,
    )
    return ldap3.Connection(
        server,
        user=settings.bind_dn or None,
        password=settings.bind_password or None,
        receive_timeout=max(1, round(settings.timeout)),  # ldap3 packs it as whole seconds
        raise_exceptions=False,
    )


def _first(entry: dict[str, Any], name: str) -> str | None:
    value = entry.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value).strip() if value not in (None, "") else None


def read_people(settings: DirectorySettings) -> list[accounts.Person]:
    """Every person the directory lists; DirectoryUnavailable or ValidationFailed, changing nothing."""
    conn = _connection(settings)
    s = settings
    attributes = [s.username_attr, s.email_attr, s.name_attr, s.manager_attr, s.groups_attr, s.language_attr]
    try:
        conn.open()
        if s.starttls and not conn.start_tls():
            raise DirectoryUnavailable("directory_unreachable", url=s.url, reason="StartTLS refused")
        if not conn.bind():
            raise DirectoryUnavailable("directory_bind_failed", url=s.url, reason=conn.result.get("description"))
        entries = conn.extend.standard.paged_search(
            s.base_dn, s.filter, ldap3.SUBTREE, attributes=attributes, paged_size=s.page_size, generator=False
        )
        if conn.result.get("result") not in (0, None):
            raise DirectoryUnavailable("directory_unreachable", url=s.url, reason=conn.result.get("description"))
        people = [_person(e, s) for e in entries if e.get("type") == "searchResEntry"]
    except LDAPException as exc:
        raise DirectoryUnavailable("directory_unreachable", url=s.url, reason=type(exc).__name__) from exc
    finally:
        _close(conn)
    return people


def _close(conn: ldap3.Connection) -> None:
    """Unbind, and close the socket ldap3 keeps when opening or StartTLS failed."""
    with contextlib.suppress(LDAPException):  # a broken connection has nobody to say goodbye to
        conn.unbind()
    if conn.socket is not None:
        conn.socket.close()


def _person(entry: dict[str, Any], s: DirectorySettings) -> accounts.Person:
    attrs, dn = entry.get("attributes") or {}, entry["dn"]
    username = _first(attrs, s.username_attr)
    if not username:
        raise ValidationFailed("directory_no_username", dn=dn, attribute=s.username_attr)
    groups = attrs.get(s.groups_attr) or []
    return accounts.Person(
        username=username.lower(),
        email=_first(attrs, s.email_attr),
        display_name=_first(attrs, s.name_attr),
        language=accounts.language_of(_first(attrs, s.language_attr)),
        groups=[str(g) for g in (groups if isinstance(groups, list) else [groups])],
        external_id=dn,
        manager_dn=_first(attrs, s.manager_attr),
    )


def sync(session: Any, people: list[accounts.Person], now: datetime, mail: MailConfig | None = None) -> SyncReport:
    """Bring Waypoint's people in line with `people` (read by `read_people`), in the caller's transaction."""
    with session.no_autoflush:  # thousands of people: flush when the grants do, not before every query
        return _sync(session, people, now, mail)


def _sync(session: Any, people: list[accounts.Person], now: datetime, mail: MailConfig | None) -> SyncReport:
    report = SyncReport(seen=len(people))
    known = accounts.linked(session, SOURCE)
    if not people and any(u.active for u, _ in known):
        raise DirectoryUnavailable("directory_empty", count=len(known))
    by_dn: dict[str, User] = {}
    table, everyone = accounts.mapping_table(session), accounts.preload(session)
    for person in people:
        user, changes = accounts.upsert(session, person, SOURCE, ACTOR, now, everyone)
        if changes.pop("created", None):
            report.created.append(user.username)
        elif changes:
            report.updated[user.username] = changes
        by_dn[person.external_id.lower()] = user
        granted, revoked = accounts.apply_groups(session, user, person.groups, ACTOR, table, everyone)
        if granted:
            report.granted[user.username] = granted
        if revoked:
            report.revoked[user.username] = revoked
    for person in people:
        _set_manager(session, by_dn[person.external_id.lower()], person, by_dn, now, report)
    listed = {u.username for u in by_dn.values()}
    for user, _ in known:
        if user.active and user.username not in listed:
            lifecycle.deactivate(session, user.username, ACTOR, now, mail, reason="no longer in the directory")
            report.deactivated.append(user.username)
    return report


def _set_manager(
    session: Any, user: User, person: accounts.Person, by_dn: dict[str, User], now: datetime, report: SyncReport
) -> None:
    boss = by_dn.get(person.manager_dn.lower()) if person.manager_dn else None
    if person.manager_dn and boss is None:
        report.warnings.append(f"{user.username}: manager {person.manager_dn} is not among the people read")
        return
    if boss is not None and boss.id == user.id:
        return
    before = user.manager.username if user.manager else None
    after = boss.username if boss else None
    if before != after:
        user.manager = boss
        report.managers[user.username] = (before, after)
        accounts.record(session, now, ACTOR, "manager_changed", user.username, before=before, after=after)


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


def run(
    db: Database, settings: DirectorySettings, now: datetime, mail: MailConfig | None = None, dry_run: bool = False
) -> SyncReport:
    """Read the directory (outside any transaction), then sync in one transaction (rolled back when `dry_run`)."""
    if not settings.enabled:
        raise ValidationFailed("directory_not_configured")
    people = read_people(settings)
    report = SyncReport()
    try:
        with db.transaction() as session:
            report = sync(session, people, now, mail)
            report.dry_run = dry_run
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report

"""Two first sign-ins of one person at the same instant: the one that loses the insert updates the
person the other created, inside a savepoint, instead of failing with a unique-key error (a 500).
On SQLite and PostgreSQL (the `db` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from engine.config import OidcSettings
from engine.identity import accounts, oidc
from engine.models import User
from engine.people.users import add_user

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_the_loser_of_a_first_sign_in_race_updates_the_winners_person(db, monkeypatch):
    settings = OidcSettings(issuer="https://idp.example", client_id="waypoint")
    claims = {"iss": "https://idp.example", "sub": "42", "preferred_username": "Newcomer", "email": "n@x.ca"}
    with db.transaction() as s:  # the other sign-in, committed after this one looked and found nobody
        add_user(s, "newcomer", now=NOW, roles=["requester"], display_name="New Comer")
    real_find = accounts.find_user
    calls = iter([None])  # the first look (before the other's commit) finds nobody
    monkeypatch.setattr(accounts, "find_user", lambda session, name: next(calls, real_find(session, name)))
    with db.transaction() as s:
        user = oidc.sign_in(s, claims, settings, NOW)
        assert (user.username, user.email) == ("newcomer", "n@x.ca")
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.username == "newcomer")) == 1

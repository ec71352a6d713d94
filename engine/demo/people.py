"""Demo people: a small org chart covering every role, for `make run` and browser tests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from engine.people.users import add_user

DEMO_PASSWORD = "waypoint-demo"

#: (username, display name, roles besides `requester`, manager, language)
DEMO_USERS: tuple[tuple[str, str, list[str], str | None, str], ...] = (
    ("dlee", "Diane Lee", ["senior_management", "supervisor"], None, "en"),
    ("msmith", "Marc Smith", ["supervisor"], "dlee", "en"),
    ("jdoe", "Jane Doe", [], "msmith", "en"),
    ("rmartin", "Rémi Martin", [], "msmith", "fr"),
    ("fchan", "Fiona Chan", ["finance"], "dlee", "en"),
    ("ebrown", "Eric Brown", ["ethics"], "dlee", "en"),
    ("cgagnon", "Chantal Gagnon", ["itv_coordinator"], "dlee", "fr"),
    ("ppatel", "Priya Patel", ["passport_officer"], "cgagnon", "en"),
    ("sroy", "Sam Roy", ["security"], "dlee", "en"),
    ("htremblay", "Hugo Tremblay", ["host_unit"], "dlee", "fr"),
    ("mgirard", "Marie Girard", ["host_unit"], "dlee", "en"),
    ("lokafor", "Lina Okafor", ["liaison_officer"], "cgagnon", "en"),
    ("ddesigner", "Dana Designer", ["process_designer"], "dlee", "en"),
    ("admin", "Alex Admin", ["admin", "process_designer"], None, "en"),
)


def seed_demo_users(
    session: Session, now: datetime, password: str | None = DEMO_PASSWORD
) -> list[tuple[str, str, list[str], str | None, str]]:
    """Create (or refresh) the demo users; return (username, name, roles, manager, language) rows.

    `password=None` leaves passwords unset (tests that never log in skip the scrypt cost).
    """
    created = []
    for username, name, roles, manager, language in DEMO_USERS:
        all_roles = sorted({"requester", *roles})
        add_user(
            session,
            username,
            now=now,
            roles=all_roles,
            display_name=name,
            email=f"{username}@waypoint.example",
            manager=manager,
            password=password,
            language=language,
        )
        created.append((username, name, all_roles, manager, language))
    return created

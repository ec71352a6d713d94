"""Web fixtures: the app on the parametrized database, a client, and signing in as anyone."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.people import sessions
from engine.people.users import find_user
from tests.conftest import FIXTURES
from web import create_app

ROOT = FIXTURES.parent.parent.parent


@pytest.fixture
def app(people, engine, tmp_path) -> Flask:
    """The app with the demo people, the small test process and the three real processes."""
    with people.transaction() as s:
        engine.deploy(s, [FIXTURES / "small"])
        engine.deploy(s, [ROOT / "bpmn"])
    return create_app(
        {"WAYPOINT_DB": people, "WAYPOINT_ENGINE": engine, "TESTING": True, "ATTACHMENTS_DIR": str(tmp_path / "files")}
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Browser:
    """A test client that signs in by session and sends the CSRF token with every POST."""

    def __init__(self, app: Flask):
        self.app = app
        self.client = app.test_client()

    def login(self, username: str) -> Browser:
        db = self.app.extensions["waypoint.db"]
        with db.reading() as s:
            uid = find_user(s, username).id
            generation = sessions.generation(s, uid)
        with self.client.session_transaction() as sess:
            sess.clear()
            sess["uid"] = uid
            sess["gen"] = generation  # as a real sign-in records it
            sess["csrf_token"] = "test-token"
        return self

    def get(self, url: str, **kwargs):  # type: ignore[no-untyped-def]
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict | None = None, csrf: bool = True, **kwargs):  # type: ignore[no-untyped-def]
        payload = dict(data or {})
        if csrf:
            payload.setdefault("csrf_token", "test-token")
        return self.client.post(url, data=payload, **kwargs)


@pytest.fixture
def as_user(app: Flask) -> Callable[[str], Browser]:
    """`as_user("msmith")` → a signed-in Browser."""
    return lambda username: Browser(app).login(username)


def task_ids(html: str) -> list[str]:
    """Task ids linked from a page, in order."""
    return list(dict.fromkeys(re.findall(r'href="/tasks/([0-9a-f-]{36})"', html)))

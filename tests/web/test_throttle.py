"""One guessing guard for the sign-in page and the API: engine.people.throttle counts both."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from engine.people import throttle
from engine.people.users import add_user
from tests.api.conftest import Api, assert_error

WINDOW = timedelta(minutes=15)


@pytest.fixture
def with_password(app, engine):
    with app.extensions["waypoint.db"].transaction() as s:
        add_user(s, "pat", now=engine.clock.now(), roles=["requester"], password="s3cret!")
    return app


def sign_in(client, password: str) -> int:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"username": "pat", "password": password, "csrf_token": token}).status_code


def test_the_engine_refuses_a_key_after_its_limit_and_forgets_old_failures(db, clock):
    limits = {"user:pat": 2, "addr:10.0.0.1": 8}
    with db.transaction() as s:
        throttle.record_failure(s, limits, clock.now(), WINDOW)
        assert not throttle.too_many(s, limits, clock.now(), WINDOW)
        throttle.record_failure(s, limits, clock.now(), WINDOW)
        assert throttle.too_many(s, limits, clock.now(), WINDOW)
        assert not throttle.too_many(s, {"user:someone-else": 2}, clock.now(), WINDOW)
    clock.advance(minutes=16)
    with db.transaction() as s:
        assert not throttle.too_many(s, limits, clock.now(), WINDOW)


def test_sign_in_and_api_tokens_share_the_engine_guard(with_password, monkeypatch):
    """N failures then refusal on both doors, and both doors ask engine.people.throttle."""
    app = with_password
    app.config["LOGIN_MAX_FAILURES"] = 3
    app.config["API_MAX_AUTH_FAILURES"] = 3
    asked: list[dict[str, int]] = []
    original = throttle.too_many
    monkeypatch.setattr(
        throttle, "too_many", lambda s, limits, *a: asked.append(dict(limits)) or original(s, limits, *a)
    )

    page = app.test_client()
    assert [sign_in(page, "nope") for _ in range(3)] == [401, 401, 401]
    assert sign_in(page, "s3cret!") == 429

    wrong = Api(app, "wpt_" + "x" * 43)
    for _ in range(3):
        assert_error(wrong.get("/me"), 401, "invalid_token")
    assert_error(wrong.get("/me"), 429, "too_many_requests")

    keys = {key for limits in asked for key in limits}
    assert {"user:pat", "addr:127.0.0.1", "api:127.0.0.1"} <= keys

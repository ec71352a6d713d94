"""Sessions end for real (issue 19 item 7): a copied cookie stops working after sign-out, a new
password or a role taken away (the person's session generation, engine/people/sessions.py).
Also the sign-in's other defences: same time for unknown users (item 9), Secure cookie and HSTS
in production."""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta

import pytest

from engine.config import Settings
from engine.people import roles
from engine.people.throttle import Policy
from engine.people.users import add_user, get_user, hash_password
from web import create_app


@pytest.fixture
def with_password(app, engine):
    with app.extensions["waypoint.db"].transaction() as s:
        add_user(s, "pat", now=engine.clock.now(), roles=["requester", "supervisor"], password="s3cret!")
    app.config["LOGIN_POLICY"] = Policy(free=1000, window=timedelta(minutes=1))
    return app


def sign_in(client, username: str = "pat", password: str = "s3cret!"):
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def signed_in_cookie(app) -> str:
    client = app.test_client()
    assert sign_in(client).status_code == 302
    return client.get_cookie("waypoint_session").value


def with_cookie(app, cookie: str):
    client = app.test_client()
    client.set_cookie("waypoint_session", cookie)
    return client


def test_a_copied_cookie_stops_working_at_sign_out(with_password):
    app = with_password
    client = app.test_client()
    sign_in(client)
    copy = client.get_cookie("waypoint_session").value
    assert with_cookie(app, copy).get("/inbox").status_code == 200
    with client.session_transaction() as sess:
        csrf = sess["csrf_token"]
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert with_cookie(app, copy).get("/inbox").headers["Location"].startswith("/login")
    assert sign_in(app.test_client()).status_code == 302  # signing in again starts a new generation


def test_a_new_password_ends_older_sessions(with_password):
    app = with_password
    copy = signed_in_cookie(app)
    with app.extensions["waypoint.db"].transaction() as s:
        get_user(s, "pat").password_hash = hash_password("n3w-secret")
    assert with_cookie(app, copy).get("/inbox").status_code == 302
    assert sign_in(app.test_client(), password="n3w-secret").status_code == 302


def test_a_role_taken_away_ends_sessions_and_a_role_given_does_not(with_password):
    app = with_password
    db = app.extensions["waypoint.db"]
    copy = signed_in_cookie(app)
    with db.transaction() as s:
        assert roles.grant(s, "pat", "finance", "admin")  # engine/people/roles.py, as the admin pages do
    assert with_cookie(app, copy).get("/inbox").status_code == 200
    with db.transaction() as s:
        assert roles.revoke(s, "pat", "supervisor", "admin")
    assert with_cookie(app, copy).get("/inbox").status_code == 302
    again = signed_in_cookie(app)
    with db.transaction() as s:  # any module that drops a role row ends the sessions too
        pat = get_user(s, "pat")
        pat.role_rows = [r for r in pat.role_rows if r.role != "finance"]
    assert with_cookie(app, again).get("/inbox").status_code == 302


def test_unknown_usernames_take_as_long_as_known_ones(with_password):
    """scrypt runs for a name nobody has too (a dummy hash), so timing tells no one who exists."""
    app = with_password
    known, unknown = [], []
    for _ in range(5):
        for name, bucket in (("pat", known), ("nobody-by-this-name", unknown)):
            client = app.test_client()
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
            start = time.perf_counter()
            answer = client.post("/login", data={"username": name, "password": "wrong", "csrf_token": token})
            bucket.append(time.perf_counter() - start)
            assert answer.status_code == 401
    assert statistics.median(unknown) > 0.6 * statistics.median(known), (known, unknown)


def test_production_requires_the_secure_cookie_and_sends_hsts(people, engine):
    options = {"WAYPOINT_DB": people, "WAYPOINT_ENGINE": engine, "TESTING": True}
    plain = Settings(environment="production", secret_key="x" * 40, data_key="k1:" + "A" * 44)
    with pytest.raises(RuntimeError, match="WAYPOINT_HTTPS"):
        create_app({**options, "WAYPOINT_SETTINGS": plain})
    secure = Settings(environment="production", secret_key="x" * 40, data_key="k1:" + "A" * 44, https=True)
    app = create_app({**options, "WAYPOINT_SETTINGS": secure})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    page = app.test_client().get("/login")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in page.headers["Set-Cookie"]


def test_no_hsts_over_plain_http_in_development(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    assert "Strict-Transport-Security" in client.get("/login", base_url="https://localhost").headers
